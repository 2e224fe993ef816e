"""Random training crops from image folders, reproducible per step.

All training images are decoded once and kept in memory as uint8 (the project's training folders
hold about 100 MB of pixels), optionally on the GPU so crops never cross the PCIe bus. A batch is a
pure function of (seed, step, rank): resuming at step k draws exactly the batches an uninterrupted
run would have drawn, with no iterator state to save.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}


def list_files(dirs: Sequence[str | Path], suffixes: set[str]) -> list[Path]:
    """Files with one of ``suffixes`` under ``dirs`` (recursively), sorted so every machine sees the same order."""
    files: list[Path] = []
    for d in dirs:
        root = Path(d)
        if not root.is_dir():
            raise FileNotFoundError(f"training folder not found: {d}")
        files.extend(p for p in root.rglob("*") if p.suffix.lower() in suffixes)
    return sorted(files)


def list_images(dirs: Sequence[str | Path]) -> list[Path]:
    """Image files under ``dirs`` (recursively), in a fixed order."""
    return list_files(dirs, IMAGE_SUFFIXES)


def load_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


class CropSampler:
    """Draws batches of random crops (with random flips) from images held in memory.

    Every image is flattened into one (3, total pixels) buffer, so a whole batch is cut by a single
    gather of precomputed pixel indices: on a GPU that is one kernel however large the batch,
    where slicing crop by crop costs a few kernel launches and a host round trip per sample.
    """

    def __init__(self, images: Sequence[np.ndarray], crop: int, device: str = "cpu") -> None:
        usable = [im for im in images if im.shape[0] >= crop and im.shape[1] >= crop]
        if not usable:
            raise ValueError(f"no training image is at least {crop}x{crop}")
        self.crop = crop
        self.device = device
        self.buffer = torch.from_numpy(np.concatenate([im.reshape(-1, 3) for im in usable])).to(device)
        sizes = [(im.shape[0], im.shape[1]) for im in usable]
        self.heights = torch.tensor([h for h, _ in sizes], dtype=torch.int64)
        self.widths = torch.tensor([w for _, w in sizes], dtype=torch.int64)
        self.offsets = torch.cumsum(torch.tensor([0] + [h * w for h, w in sizes[:-1]], dtype=torch.int64), 0)
        # Sample images in proportion to their area so every pixel is equally likely to be seen.
        areas = (self.heights * self.widths).double()
        self.weights = areas / areas.sum()
        self._span = torch.arange(crop, dtype=torch.int64, device=device)

    @property
    def num_images(self) -> int:
        return int(self.heights.numel())

    @classmethod
    def from_dirs(cls, dirs: Sequence[str | Path], crop: int, device: str = "cpu") -> CropSampler:
        return cls([load_rgb(p) for p in list_images(dirs)], crop, device)

    def batch(self, batch_size: int, generator: torch.Generator) -> Tensor:
        """A float batch (B, 3, crop, crop) in [0, 1], drawn with ``generator`` only."""
        crop = self.crop
        picks = torch.multinomial(self.weights, batch_size, replacement=True, generator=generator)
        uniform = torch.rand((batch_size, 2), generator=generator, dtype=torch.float64)
        tops = (uniform[:, 0] * (self.heights[picks] - crop + 1)).long()
        lefts = (uniform[:, 1] * (self.widths[picks] - crop + 1)).long()
        flips = torch.randint(0, 2, (batch_size, 2), generator=generator).bool()
        dev = self.device
        span = self._span
        # Row and column of every output pixel, flipped per sample, then flat buffer indices.
        rows = torch.where(flips[:, 1, None].to(dev), crop - 1 - span, span) + tops[:, None].to(dev)
        cols = torch.where(flips[:, 0, None].to(dev), crop - 1 - span, span) + lefts[:, None].to(dev)
        index = (self.offsets[picks].to(dev)[:, None, None] + rows[:, :, None] * self.widths[picks].to(dev)[:, None, None]
                 + cols[:, None, :])
        pixels = self.buffer.index_select(0, index.reshape(-1)).reshape(batch_size, crop, crop, 3)
        return pixels.permute(0, 3, 1, 2).float().div_(255.0)
