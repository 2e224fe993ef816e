"""Random training segments from audio folders, reproducible per step.

Every training file is decoded once (PyAV), mixed to mono, resampled to the model's rate and kept
in memory as int16 (the project's training audio is about an hour: ~115 MB), optionally on the GPU.
A batch is a pure function of the generator, as for the image crops, so resuming is exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .data import list_files

AUDIO_SUFFIXES = {".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a"}


def list_audio(dirs: Sequence[str | Path]) -> list[Path]:
    """Audio files under ``dirs`` (recursively), in a fixed order."""
    return list_files(dirs, AUDIO_SUFFIXES)


def load_mono(path: Path, sample_rate: int) -> np.ndarray:
    """A file as float32 mono samples at ``sample_rate``."""
    from ncodec.media.audio import read_audio, resample, to_mono

    audio = read_audio(path)
    return resample(to_mono(audio.samples)[0], audio.sample_rate, sample_rate)


def to_int16(samples: np.ndarray) -> np.ndarray:
    return np.clip(np.round(samples * 32767.0), -32768, 32767).astype(np.int16)


class SegmentSampler:
    """Draws batches of random segments, with a random gain per segment, from clips in memory."""

    def __init__(self, clips: Sequence[np.ndarray], segment: int, device: str = "cpu",
                 gain_db: tuple[float, float] = (-12.0, 3.0)) -> None:
        usable = [c for c in clips if c.size >= segment]
        if not usable:
            raise ValueError(f"no training clip is at least {segment} samples long")
        self.clips: list[Tensor] = [torch.from_numpy(np.ascontiguousarray(c, dtype=np.int16)).to(device)
                                    for c in usable]
        self.segment = segment
        self.gain_db = gain_db
        lengths = torch.tensor([float(c.numel()) for c in self.clips], dtype=torch.float64)
        self.weights = lengths / lengths.sum()  # every sample equally likely

    @classmethod
    def from_dirs(cls, dirs: Sequence[str | Path], sample_rate: int, segment: int,
                  device: str = "cpu") -> SegmentSampler:
        return cls([to_int16(load_mono(p, sample_rate)) for p in list_audio(dirs)], segment, device)

    @property
    def total_samples(self) -> int:
        return sum(int(c.numel()) for c in self.clips)

    def batch(self, batch_size: int, generator: torch.Generator) -> Tensor:
        """A float batch (B, segment) in [-1, 1], drawn with ``generator`` only."""
        picks = torch.multinomial(self.weights, batch_size, replacement=True, generator=generator)
        lo, hi = self.gain_db
        gains = 10 ** ((lo + (hi - lo) * torch.rand(batch_size, generator=generator)) / 20)
        segments = []
        for i in picks.tolist():
            clip = self.clips[i]
            start = int(torch.randint(0, clip.numel() - self.segment + 1, (1,), generator=generator))
            segments.append(clip[start:start + self.segment])
        batch = torch.stack(segments).float().div_(32768.0)
        return (batch * gains.to(batch.device)[:, None]).clamp_(-1.0, 1.0)
