"""The shared training loop: it learns, resumes exactly, runs under DDP and in the GPU profile."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ncodec.train.config import TrainConfig
from ncodec.train.image_task import ImageTrainTask
from ncodec.train.loop import train

TINY_MODEL = {"N": 16, "M": 24, "lambdas": [0.01, 0.05]}


def _make_images(folder: Path, count: int = 4, size: int = 96) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size]
    for i in range(count):
        base = (np.sin(xx / (5 + i)) + np.cos(yy / (7 + i))) * 60 + 128
        im = np.stack([base, base[::-1], base[:, ::-1]], axis=2) + rng.normal(0, 8, (size, size, 3))
        Image.fromarray(np.clip(im, 0, 255).astype(np.uint8)).save(folder / f"img{i}.png")
    return folder


def _config(tmp_path: Path, **kw: object) -> TrainConfig:
    data = _make_images(tmp_path / "data")
    settings: dict[str, object] = dict(data_dirs=[str(data)], val_dir=str(data), out_dir=str(tmp_path / "run"),
                                       steps=8, batch_size=2, crop=64, lr=1e-3, warmup_steps=2, val_every=0,
                                       log_every=1, checkpoint_every_min=60.0, model=TINY_MODEL)
    settings.update(kw)
    return TrainConfig(**settings)  # type: ignore[arg-type]


def test_tiny_training_run_lowers_the_loss(tmp_path: Path) -> None:
    losses: list[float] = []
    train(ImageTrainTask(_config(tmp_path, steps=40)), on_log=lambda m: losses.append(m["loss"]))
    assert len(losses) == 40
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])


def test_resume_is_exact(tmp_path: Path) -> None:
    whole = train(ImageTrainTask(_config(tmp_path / "a")))["model"].state_dict()
    cfg = _config(tmp_path / "b")
    train(ImageTrainTask(cfg), stop_after=3)
    resumed = train(ImageTrainTask(cfg))
    assert resumed["steps"] == 8
    for k, v in whole.items():
        assert torch.equal(v, resumed["model"].state_dict()[k]), k


def test_gpu_profile_runs_on_cpu(tmp_path: Path) -> None:
    """The GPU profile (bf16 autocast, data held on the device) exercised for a few steps on a CPU."""
    cfg = _config(tmp_path, profile="gpu", device="cpu", steps=3)
    assert cfg.bf16
    out = train(ImageTrainTask(cfg))
    assert out["steps"] == 3
    assert all(torch.isfinite(p).all() for p in out["model"].parameters())


def test_bf16_autocast_keeps_quantization_and_rates_in_float32() -> None:
    """bf16 has 8 significant bits: rounding and likelihoods of latents must not run in it."""
    from ncodec.codecs.image.model import ImageModelConfig, build_model

    torch.manual_seed(0)
    model = build_model(ImageModelConfig.from_dict(TINY_MODEL))
    seen: dict[str, torch.dtype] = {}
    model.h_a.register_forward_hook(lambda m, i, o: seen.__setitem__("h_a", o.dtype))
    model.g_s.register_forward_hook(lambda m, i, o: seen.__setitem__("g_s", o.dtype))
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        out = model(torch.rand(2, 3, 64, 64), torch.tensor([0, 1]))
    assert seen == {"h_a": torch.float32, "g_s": torch.bfloat16}
    assert out["y_likelihoods"].dtype == torch.float32 and out["z_likelihoods"].dtype == torch.float32


class _PoisonedTask(ImageTrainTask):
    """Returns a NaN loss on chosen steps, counted by how often loss() was called."""

    def __init__(self, config: TrainConfig, bad_calls: set[int]) -> None:
        super().__init__(config)
        self.calls = 0
        self.bad_calls = bad_calls

    def loss(self, model: torch.nn.Module, batch: torch.Tensor,
             generator: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
        loss, metrics = super().loss(model, batch, generator)
        self.calls += 1
        if self.calls in self.bad_calls:
            loss = loss * float("nan")
        return loss, metrics


def test_a_non_finite_step_is_skipped_not_applied(tmp_path: Path) -> None:
    out = train(_PoisonedTask(_config(tmp_path, steps=6), bad_calls={3}))
    assert out["steps"] == 6 and out["skipped_steps"] == 1
    assert all(torch.isfinite(p).all() for p in out["model"].parameters())


def test_a_diverged_run_stops_with_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="diverged"):
        train(_PoisonedTask(_config(tmp_path, steps=40), bad_calls=set(range(2, 41))))


def test_validation_reports_each_probed_quality(tmp_path: Path) -> None:
    task = ImageTrainTask(_config(tmp_path))
    task.setup_data("cpu")
    from ncodec.train import image_task

    image_task.VAL_CROP = (64, 64)
    metrics = task.validate(task.build_model())
    assert set(metrics) == {"q1_bpp", "q1_psnr", "q2_bpp", "q2_psnr"}


DDP_SCRIPT = textwrap.dedent("""
    import sys, torch
    from ncodec.train.config import TrainConfig
    from ncodec.train.image_task import ImageTrainTask
    from ncodec.train.loop import train
    import json, os
    cfg = TrainConfig(**json.loads(sys.argv[1]))
    torch.set_num_threads(1)
    out = train(ImageTrainTask(cfg))
    rank = os.environ["RANK"]
    torch.save(out["model"].state_dict(), os.path.join(sys.argv[2], f"rank{rank}.pt"))
""")


def test_ddp_two_processes_hold_identical_weights(tmp_path: Path) -> None:
    import json

    cfg = _config(tmp_path, steps=3)
    script = tmp_path / "ddp_train.py"
    script.write_text(DDP_SCRIPT)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    # --standalone: a free port chosen by the rendezvous, so concurrent runs on one machine never collide
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    proc = subprocess.run([*torchrun, str(script), json.dumps(cfg.to_dict()), str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=240)
    assert proc.returncode == 0, proc.stderr[:3000]
    a = torch.load(tmp_path / "rank0.pt", weights_only=True)
    b = torch.load(tmp_path / "rank1.pt", weights_only=True)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # The ranks saw different data: the weights moved away from the initialisation.
    assert any(not torch.equal(a[k], v) for k, v in ImageTrainTask(cfg).build_model().state_dict().items()
               if k in a and v.dtype.is_floating_point) or pytest.fail("DDP run did not change the weights")


def test_train_command_trains_and_exports_loadable_weights(tmp_path: Path) -> None:
    """`ncodec train image ... --export DIR` writes weights and a card that the codec loads."""
    import json

    from ncodec.cli.main import main
    from ncodec.codecs.image.codec import ImageCodec

    data = _make_images(tmp_path / "data")
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({"model": TINY_MODEL, "warmup_steps": 1, "val_every": 0, "log_every": 1}))
    code = main(["train", "image", "--config", str(config), "--data", str(data), "--val-dir", str(data),
                 "--steps", "2", "--batch-size", "2", "--crop", "64", "--out", str(tmp_path / "run"),
                 "--export", str(tmp_path / "export")])
    assert code == 0
    card = json.loads((tmp_path / "export" / "image_hyperprior.json").read_text())
    assert card["training"]["steps"] == 2 and card["training"]["config"]["crop"] == 64
    assert card["calibration_images"] == 4
    codec = ImageCodec.from_file(tmp_path / "export" / "image_hyperprior.safetensors")
    assert codec.qualities == [1, 2]


def test_stage_picks_one_recorded_stage_of_a_card(tmp_path: Path) -> None:
    """A card trained in stages reproduces any of them; a stage it does not record is a usage error."""
    import argparse
    import json

    from ncodec.errors import UsageError
    from ncodec.train.cli import add_train_arguments, config_from_args

    stage1 = TrainConfig(steps=100, crop=128, batch_size=8).to_dict()
    stage2 = TrainConfig(time_budget_min=8, crop=256, batch_size=32, profile="gpu",
                         init_from="runs/image-stage1/export/image_hyperprior.safetensors").to_dict()
    card = tmp_path / "card.json"
    card.write_text(json.dumps({"training": {"config": stage2, "stages": [
        {"stage": 1, "config": stage1}, {"stage": 2, "config": stage2}]}}))
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)

    def parse(*extra: str) -> TrainConfig:
        return config_from_args(parser.parse_args(["image", "--config", str(card), *extra]))

    assert parse().crop == 256 and parse().profile == "gpu"
    first = parse("--stage", "1")
    assert (first.crop, first.batch_size, first.steps, first.init_from) == (128, 8, 100, None)
    assert parse("--stage", "2").init_from == stage2["init_from"]
    assert parse("--stage", "1", "--crop", "96").crop == 96  # flags still override the card
    for bad in ("0", "3"):
        with pytest.raises(UsageError, match="records 2 training stage"):
            parse("--stage", bad)
    with pytest.raises(UsageError, match="needs --config"):
        config_from_args(parser.parse_args(["image", "--stage", "1", "--steps", "1"]))


def test_gpu_stage_command_runs_on_cpu(tmp_path: Path) -> None:
    """scripts/gpu-stage.sh end to end at tiny sizes: staged data in, shipped weights continued,
    exported weights and a throughput line out, so it is known to run before a GPU is at hand."""
    from ncodec.registry import shipped_asset

    stage = tmp_path / "stage"
    _make_images(stage / "train", count=3, size=96)
    (stage / "dev").mkdir()
    Image.open(shipped_asset("rocket.jpg")).convert("RGB").crop((0, 0, 512, 384)).save(stage / "dev" / "dev0.png")
    env = {**os.environ, "DEVICE": "cpu", "BATCH": "2", "CROP": "64", "STEPS": "8", "COMPILE": "0",
           "STAGE": str(stage), "RUN": str(tmp_path / "run"), "PYTHON": sys.executable}
    export = tmp_path / "export"
    run = subprocess.run(["bash", "scripts/gpu-stage.sh", "1", str(export)], capture_output=True, text=True,
                         env=env, cwd=Path(__file__).resolve().parent.parent, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "throughput:" in run.stdout and "Mpx/s" in run.stdout, run.stdout
    assert (export / "image_hyperprior.safetensors").is_file() and (export / "image_hyperprior.json").is_file()
    from ncodec.codecs.image.codec import ImageCodec

    ImageCodec.from_file(export / "image_hyperprior.safetensors")  # the export loads as a codec
