"""Typed training configuration shared by every codec's training run.

One dataclass, serialised into checkpoints and model cards, so the card of a shipped model is the
exact recipe that reproduces it with ``ncodec train``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class TrainConfig:
    """Everything that decides a training run's outcome (and nothing that does not)."""

    modality: str = "image"
    data_dirs: list[str] = field(default_factory=lambda: ["../shared/data/images/train",
                                                          "../shared/data/images/train_wiki"])
    val_dir: str | None = "../shared/data/images/dev"
    out_dir: str = "runs/image"
    # Length: a step count fixes the schedule exactly (reproducible, exactly resumable); a time
    # budget stretches the same schedule over wall-clock minutes so a run fits the compute at hand.
    steps: int | None = None
    time_budget_min: float | None = None
    batch_size: int = 8
    crop: int = 128
    lr: float = 2e-4
    lr_final: float = 1e-5
    warmup_steps: int = 300
    grad_clip: float = 1.0
    seed: int = 0
    # Hardware profile: "cpu" (fp32, channels_last) or "gpu" (CUDA, bf16 autocast, channels_last,
    # training crops held in device memory). ``device`` overrides where it runs, so the GPU profile
    # can be exercised on a CPU by a test.
    profile: str = "cpu"
    device: str | None = None
    channels_last: bool = True
    compile: bool = False
    log_every: int = 25
    val_every: int = 1000
    checkpoint_every_min: float = 5.0
    init_from: str | None = None
    model: dict[str, Any] = field(default_factory=dict)
    # Loss-term weights that override the task's defaults (e.g. {"cspec": 10.0} for audio), so a
    # recipe that changes them is still fully described by this config.
    loss: dict[str, float] = field(default_factory=dict)

    @property
    def bf16(self) -> bool:
        return self.profile == "gpu"

    def resolved_device(self) -> str:
        if self.device:
            return self.device
        return "cuda" if self.profile == "gpu" else "cpu"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown training settings: {', '.join(sorted(unknown))}")
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)
