"""Training the audio codec on the shared loop: it learns, runs in the GPU profile, exports a loadable codec."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ncodec.media.audio import AudioData, read_audio, write_audio
from ncodec.registry import shipped_asset
from ncodec.train.audio_task import AudioTrainTask
from ncodec.train.cli import default_config
from ncodec.train.loop import train

TINY_MODEL = {"dim": 32, "encoder_blocks": [1, 1], "decoder_blocks": [1, 1], "n_codebooks": 4,
              "codebook_size": 16, "bitrates_kbps": [0.4, 0.8]}


def _data(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    speech = read_audio(shipped_asset("arctic_a0007.wav"))
    write_audio(folder / "speech.wav", speech)
    t = np.arange(3 * 22_050) / 22_050
    tone = 0.3 * np.sin(2 * np.pi * 330 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2
    write_audio(folder / "tone.flac", AudioData(np.stack([tone, tone[::-1]]).astype(np.float32), 22_050))
    return folder


def _config(tmp_path: Path, **kw: object) -> object:
    data = _data(tmp_path / "data")
    config = default_config("audio")
    settings: dict[str, object] = dict(data_dirs=[str(data)], val_dir=str(data), out_dir=str(tmp_path / "run"),
                                       steps=40, batch_size=4, crop=3200, lr=3e-3, warmup_steps=2, val_every=0,
                                       log_every=1, checkpoint_every_min=60.0, model=TINY_MODEL)
    settings.update(kw)
    for key, value in settings.items():
        setattr(config, key, value)
    return config


def test_tiny_audio_training_run_lowers_the_loss(tmp_path: Path) -> None:
    losses: list[float] = []
    train(AudioTrainTask(_config(tmp_path)), on_log=lambda m: losses.append(m["loss"]))  # type: ignore[arg-type]
    assert len(losses) == 40
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])


def test_audio_gpu_profile_runs_on_cpu(tmp_path: Path) -> None:
    """bf16 autocast and training audio held on the device, exercised for a few steps on a CPU."""
    cfg = _config(tmp_path, profile="gpu", device="cpu", steps=3)
    out = train(AudioTrainTask(cfg))  # type: ignore[arg-type]
    assert out["steps"] == 3
    assert all(torch.isfinite(p).all() for p in out["model"].parameters())


def test_validation_reports_log_mel_per_bitrate(tmp_path: Path) -> None:
    task = AudioTrainTask(_config(tmp_path, steps=1))  # type: ignore[arg-type]
    model = task.build_model()
    results = task.validate(model)
    assert set(results) == {"speech_0.4k_mel", "speech_0.8k_mel"}  # neither file is named music*
    assert all(np.isfinite(v) for v in results.values())


def test_train_audio_command_exports_a_codec_that_loads(tmp_path: Path) -> None:
    from ncodec.cli.main import main
    from ncodec.codecs.audio.codec import AudioCodec

    data = _data(tmp_path / "data")
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({"model": TINY_MODEL, "warmup_steps": 1, "val_every": 0, "log_every": 1}))
    code = main(["train", "audio", "--config", str(config), "--data", str(data), "--val-dir", str(data),
                 "--steps", "2", "--batch-size", "2", "--crop", "3200", "--out", str(tmp_path / "run"),
                 "--export", str(tmp_path / "export")])
    assert code == 0
    card = json.loads((tmp_path / "export" / "audio_rvq.json").read_text())
    assert card["bitrates"] == [0.4, 0.8] and card["training"]["steps"] == 2
    codec = AudioCodec.from_file(tmp_path / "export" / "audio_rvq.safetensors")
    speech = read_audio(shipped_asset("arctic_a0007.wav"))
    payload = codec.encode(speech, quality=2)
    assert codec.decode(payload).samples.shape == speech.samples.shape


def test_code_priors_learn_what_the_previous_frame_says() -> None:
    """Codes that mostly repeat or step to a neighbour: the context tables code them in far fewer
    bits than the unigram, on segments they were not counted from, and every table is valid."""
    from ncodec.codecs.audio.model import AudioCodecModel, AudioModelConfig
    from ncodec.codecs.audio.priors import fit_priors
    from ncodec.entropy import TableBank

    torch.manual_seed(0)
    model = AudioCodecModel(AudioModelConfig.from_dict(TINY_MODEL))
    rng = np.random.default_rng(0)
    codes = np.zeros((64, 4, 50), dtype=np.int64)
    codes[:, :, 0] = rng.integers(0, 16, (64, 4))
    for t in range(1, 50):
        step = rng.choice([0, 0, 0, 1], size=(64, 4))
        codes[:, :, t] = np.where(rng.random((64, 4)) < 0.05, rng.integers(0, 16, (64, 4)),
                                  (codes[:, :, t - 1] + step) % 16)
    priors = fit_priors(model, codes)
    report = priors.report
    assert report["held_out_bits_per_code_in_context"] < 0.7 * report["held_out_bits_per_code_unigram"], report
    assert priors.context_index.shape == (4, 16) and priors.context_index.max() < priors.context_freqs.shape[0]
    TableBank(0, np.concatenate([priors.code_freqs, priors.context_freqs]))  # every row codable


def test_adversarial_run_trains_both_sides_and_resumes_exactly(tmp_path: Path) -> None:
    """With ``adv``/``fm`` weighted, the discriminators learn alongside the codec, their state rides in
    the checkpoint, and a run stopped half-way and resumed ends with the same weights as one that
    was not stopped."""
    adversarial = {"adv": 1.0, "fm": 2.0}
    metrics: list[dict[str, float]] = []
    whole = train(AudioTrainTask(_config(tmp_path / "a", steps=6, loss=adversarial)),  # type: ignore[arg-type]
                  on_log=metrics.append)
    assert {"adv", "fm", "disc"} <= set(metrics[-1]) and all(np.isfinite(m["disc"]) for m in metrics)
    config = _config(tmp_path / "b", steps=6, loss=adversarial)
    train(AudioTrainTask(config), stop_after=3)  # type: ignore[arg-type]
    saved = torch.load(Path(config.out_dir) / "checkpoint.pt", weights_only=True)  # type: ignore[attr-defined]
    assert "adversary" in saved["task"]
    resumed = train(AudioTrainTask(config))  # type: ignore[arg-type]
    for a, b in zip(whole["model"].state_dict().values(), resumed["model"].state_dict().values(), strict=True):
        assert torch.equal(a, b)
