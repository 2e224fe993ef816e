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
    """Draws batches of random crops (with random flips) from images held in memory."""

    def __init__(self, images: Sequence[np.ndarray], crop: int, device: str = "cpu") -> None:
        usable = [im for im in images if im.shape[0] >= crop and im.shape[1] >= crop]
        if not usable:
            raise ValueError(f"no training image is at least {crop}x{crop}")
        self.images: list[Tensor] = [torch.from_numpy(np.array(im, copy=True)).permute(2, 0, 1).to(device)
                                     for im in usable]
        self.crop = crop
        self.device = device
        # Sample images in proportion to their area so every pixel is equally likely to be seen.
        areas = torch.tensor([float(im.shape[1] * im.shape[2]) for im in self.images], dtype=torch.float64)
        self.weights = areas / areas.sum()

    @classmethod
    def from_dirs(cls, dirs: Sequence[str | Path], crop: int, device: str = "cpu") -> CropSampler:
        return cls([load_rgb(p) for p in list_images(dirs)], crop, device)

    def batch(self, batch_size: int, generator: torch.Generator) -> Tensor:
        """A float batch (B, 3, crop, crop) in [0, 1], drawn with ``generator`` only."""
        picks = torch.multinomial(self.weights, batch_size, replacement=True, generator=generator)
        crops = []
        for i in picks.tolist():
            im = self.images[i]
            top = int(torch.randint(0, im.shape[1] - self.crop + 1, (1,), generator=generator))
            left = int(torch.randint(0, im.shape[2] - self.crop + 1, (1,), generator=generator))
            c = im[:, top:top + self.crop, left:left + self.crop]
            flips = torch.randint(0, 2, (2,), generator=generator).tolist()
            if flips[0]:
                c = c.flip(2)
            if flips[1]:
                c = c.flip(1)
            crops.append(c)
        return torch.stack(crops).float().div_(255.0)
