"""``ncodec train MODALITY``: run the shared training loop for one codec, then export.

``--config CARD.json`` reads the training settings from a model card (or a plain config JSON), so
``ncodec train image --config assets/image_hyperprior.json`` reproduces a shipped model; flags
given on the command line override the file. A model trained in stages (say, from scratch on a CPU,
then continued on a GPU) records each stage's settings in ``training.stages``; ``--stage N`` picks
one, and each stage's ``init_from`` names the export of the stage before it.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ncodec.errors import UsageError

from .config import TrainConfig

if TYPE_CHECKING:
    from .task import TrainTask

#: modality -> "module:Class" of its training task (imported only when that modality trains)
TASKS = {"image": "ncodec.train.image_task:ImageTrainTask", "audio": "ncodec.train.audio_task:AudioTrainTask"}

_OVERRIDES = {
    "steps": "steps", "time_budget": "time_budget_min", "batch_size": "batch_size", "crop": "crop",
    "lr": "lr", "out": "out_dir", "profile": "profile", "device": "device", "init_from": "init_from",
    "val_dir": "val_dir", "seed": "seed", "compile": "compile",
}


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("modality", choices=sorted(TASKS), help="which codec to train")
    p.add_argument("--config", help="model card or config JSON to start from")
    p.add_argument("--stage", type=int, metavar="N",
                   help="with a model card trained in stages: use stage N's settings (default: the last)")
    p.add_argument("--data", action="append", help="training folder (repeatable; default: images/train*)")
    p.add_argument("--val-dir", help="held-out folder for validation")
    p.add_argument("--steps", type=int, help="number of steps (fixes the schedule exactly)")
    p.add_argument("--time-budget", type=float, metavar="MINUTES", help="stop after this much wall-clock time")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--crop", type=int, help="image crop side in pixels; audio segment length in samples")
    p.add_argument("--lr", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--out", help="run folder for checkpoints and logs (resumes if it holds a checkpoint)")
    p.add_argument("--profile", choices=["cpu", "gpu"], help="gpu: CUDA, bf16 autocast, crops held in GPU memory")
    p.add_argument("--device", help="override the profile's device (e.g. run the gpu profile on cpu)")
    p.add_argument("--compile", action="store_true", default=None, help="torch.compile the model")
    p.add_argument("--init-from", help="weights (.safetensors) to continue from")
    p.add_argument("--export", metavar="DIR", help="export weights and model card here when done")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    base: dict[str, Any] = {}
    stage = getattr(args, "stage", None)
    if stage is not None and not args.config:
        raise UsageError("--stage needs --config (a model card trained in stages)")
    if args.config:
        raw = json.loads(Path(args.config).read_text())
        base = raw.get("training", {}).get("config", raw) if "training" in raw else raw
        if stage is not None:
            stages = raw.get("training", {}).get("stages", [])
            if not 1 <= stage <= len(stages):
                raise UsageError(f"--stage {stage}: {args.config} records {len(stages)} training stage(s)")
            base = stages[stage - 1]["config"]
    config = TrainConfig.from_dict({**default_config(args.modality).to_dict(), **base})
    config.modality = args.modality
    if args.data:
        config.data_dirs = list(args.data)
    for arg_name, field_name in _OVERRIDES.items():
        value = getattr(args, arg_name, None)
        if value is not None:
            setattr(config, field_name, value)
    if not config.steps and not config.time_budget_min:
        raise UsageError("give --steps or --time-budget (or a config that has one)")
    return config


def default_config(modality: str) -> TrainConfig:
    """The starting recipe of a modality when no card or config is given."""
    if modality == "audio":
        return TrainConfig(
            modality="audio",
            data_dirs=[f"../shared/data/audio/train/{d}" for d in ("speech", "speech_ljlike", "music")],
            val_dir="../shared/data/audio/dev", out_dir="runs/audio", batch_size=16, crop=16000,
            lr=1e-3, lr_final=5e-5, warmup_steps=200, channels_last=False, val_every=500)
    return TrainConfig(modality=modality)


def make_task(config: TrainConfig) -> TrainTask:
    """The modality's half of the training run."""
    if config.modality not in TASKS:
        raise UsageError(f"no training task for '{config.modality}' (choose {', '.join(sorted(TASKS))})")
    module_name, cls_name = TASKS[config.modality].split(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    task: TrainTask = cls(config)
    return task


def train_main(args: argparse.Namespace) -> int:
    from .loop import train

    config = config_from_args(args)
    for d in config.data_dirs:
        if not Path(d).is_dir():
            raise UsageError(f"training folder not found: {d}")
    task = make_task(config)
    summary = train(task)
    rate = summary.get("steps_per_s")
    if isinstance(rate, float) and config.modality == "image":
        # Crop pixels through the networks per second, over every rank: the figure to compare
        # GPU settings by (batch and crop sizes differ between runs, steps do not compare).
        summary["megapixels_per_s"] = round(rate * config.batch_size * config.crop ** 2 * summary["world_size"] / 1e6, 2)
    print(json.dumps({k: v for k, v in summary.items() if k != "model"}))
    if args.export and int(os.environ.get("RANK", "0")) == 0:
        for path in task.export(summary["model"], args.export, summary):
            print(f"wrote {path}")
    return 0
