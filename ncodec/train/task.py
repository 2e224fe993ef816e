"""What a codec plugs into the shared training loop.

The loop owns everything generic (optimizer, schedule, DDP, checkpoints, logging, time budget); a
task owns what is specific to a modality: its network, its batches, its loss and its validation.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor, nn

from .config import TrainConfig


class TrainTask(Protocol):
    """The modality-specific half of a training run."""

    config: TrainConfig

    def build_model(self) -> nn.Module:
        """A fresh (or ``init_from``-initialised) network on the CPU."""
        ...

    def setup_data(self, device: str) -> None:
        """Load training data once, onto ``device`` if the profile holds it there."""
        ...

    def batch(self, generator: torch.Generator, device: str) -> Tensor:
        """The next training batch, drawn using ``generator`` only (so batches are reproducible)."""
        ...

    def loss(self, model: nn.Module, batch: Tensor, generator: torch.Generator) -> tuple[Tensor, dict[str, float]]:
        """Scalar loss to minimise and the live metrics to show and log (e.g. bpp, psnr)."""
        ...

    def validate(self, model: nn.Module) -> dict[str, float]:
        """Metrics on the held-out folder; called on rank 0 only."""
        ...

    # Optional: ``extra_state() -> dict`` and ``load_extra_state(dict)`` carry what a task trains
    # besides the model (the audio adversary) through the loop's checkpoints.

    def export(self, model: nn.Module, out_dir: str, summary: dict[str, object]) -> list[str]:
        """Write shippable weights and a model card; return the paths written."""
        ...
