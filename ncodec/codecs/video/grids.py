"""The latent grids of one group of frames: their shapes and how they reach full resolution.

Level ``k`` holds one integer plane per frame of ``ceil(H / 2**k) x ceil(W / 2**k)`` latents. To
feed the synthesis network every level is brought to full resolution by ``k`` repeated 2x bilinear
upsamplings (output sample = 3/4 of the nearest input + 1/4 of the next nearest, edges
replicated) and cropped to ``H x W``. The weights 3/4 and 1/4 are dyadic, so on integer latents
every value is an exact binary fraction: in float64 the upsampling is exact arithmetic, identical
on every machine and in every evaluation order, which is what lets the decoder be bit-exact.

In time, a level may hold one plane every ``stride`` frames (a power of two), the frames between
two planes interpolated linearly with dyadic weights: exact too. The coarse levels change
smoothly along a clip, so striding them codes fewer symbols and loses little; the fine levels,
where motion shows, keep one plane per frame (:func:`default_strides`).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

MAX_LEVELS = 8


def level_shapes(height: int, width: int, levels: int) -> list[tuple[int, int]]:
    """(rows, columns) of each level's plane, finest first."""
    return [(math.ceil(height / 2**k), math.ceil(width / 2**k)) for k in range(levels)]


def default_levels(height: int, width: int) -> int:
    """As many levels as keep the coarsest plane at least 4 latents on its short side (2 to 7):
    a 352x288 frame gets 7 (the coarsest 6x5), a 64x64 one 5."""
    short = min(height, width)
    levels = 1
    while levels < 7 and short / 2 ** levels >= 4:
        levels += 1
    return max(2, levels)


def upsample2x(x: Tensor) -> Tensor:
    """2x bilinear upsampling of ``(..., h, w)`` with edge replication: dyadic weights only."""
    h, w = x.shape[-2], x.shape[-1]
    up = torch.cat([x[..., :1, :], x[..., :-1, :]], dim=-2)
    down = torch.cat([x[..., 1:, :], x[..., -1:, :]], dim=-2)
    x = torch.stack([0.75 * x + 0.25 * up, 0.75 * x + 0.25 * down], dim=-2).reshape(*x.shape[:-2], 2 * h, w)
    left = torch.cat([x[..., :1], x[..., :-1]], dim=-1)
    right = torch.cat([x[..., 1:], x[..., -1:]], dim=-1)
    return torch.stack([0.75 * x + 0.25 * left, 0.75 * x + 0.25 * right], dim=-1).reshape(*x.shape[:-1], 2 * w)


def to_full_resolution(planes: list[Tensor], height: int, width: int, pixel_major: bool = False) -> Tensor:
    """Stack levels ``(N, h_k, w_k)`` into synthesis input ``(N, levels, H, W)``, or
    ``(N, H, W, levels)`` with ``pixel_major`` (the layout the fitting's matrix products read)."""
    out = []
    for k, plane in enumerate(planes):
        x = plane
        for _ in range(k):
            x = upsample2x(x)
        out.append(x[..., :height, :width])
    return torch.stack(out, dim=-1 if pixel_major else 1)


@lru_cache(maxsize=64)
def upsampling_matrix(times: int, size: int, length: int) -> Tensor:
    """The 1-D operator of ``times`` repeated :func:`upsample2x` on ``size`` samples, cropped to
    ``length`` outputs: a ``(length, size)`` float64 matrix of dyadic entries.

    Upsampling is linear and separable, so a level reaches full resolution as two matrix products,
    ``A_rows @ plane @ A_cols.T``, instead of a chain of elementwise passes over full-size planes
    (which took about half of each fitting step on 2 CPU cores).
    """
    a = torch.eye(size, dtype=torch.float64)  # rows: output samples, columns: input samples
    for _ in range(times):
        up = torch.cat([a[:1], a[:-1]])  # the previous sample, edge replicated
        down = torch.cat([a[1:], a[-1:]])  # the next one
        a = torch.stack([0.75 * a + 0.25 * up, 0.75 * a + 0.25 * down], dim=1).reshape(2 * a.shape[0], size)
    return a[:length].contiguous()


def to_full_resolution_mm(planes: list[Tensor], height: int, width: int) -> Tensor:
    """:func:`to_full_resolution` with ``pixel_major`` as matrix products: ``(N, H, W, levels)``.

    The same values up to float rounding (in float64 on integer planes, exactly the same: every
    entry and partial sum is a binary fraction well inside the mantissa); used by the fitter.
    """
    out = []
    for k, plane in enumerate(planes):
        if k == 0:
            out.append(plane[..., :height, :width])
            continue
        rows = upsampling_matrix(k, plane.shape[-2], height).to(plane.dtype).to(plane.device)
        cols = upsampling_matrix(k, plane.shape[-1], width).to(plane.dtype).to(plane.device)
        out.append(torch.matmul(torch.matmul(rows, plane), cols.t()))
    return torch.stack(out, dim=-1)


# --------------------------------------------------------------------------------------------------
# time: a level may hold one plane every ``stride`` frames, the frames between interpolated

MAX_STRIDE = 16


def key_count(frames: int, stride: int) -> int:
    """Planes a level of temporal ``stride`` holds for ``frames`` frames: one at every
    ``stride``-th frame from the first, and one at or past the last frame, so that every frame
    lies between two planes (for ``stride`` 1, one per frame)."""
    return (frames - 1 + stride - 1) // stride + 1


@lru_cache(maxsize=64)
def time_matrix(frames: int, stride: int) -> Tensor:
    """``(frames, key_count)`` float64: frame ``t`` is ``(1 - r) * key[t // stride] + r *
    key[t // stride + 1]`` with ``r = (t % stride) / stride``.

    Strides are powers of two, so every weight is dyadic: on integer planes the interpolated
    values are exact binary fractions, as the spatial upsampling's are.
    """
    keys = key_count(frames, stride)
    m = torch.zeros(frames, keys, dtype=torch.float64)
    for t in range(frames):
        a, r = divmod(t, stride)
        m[t, a] = (stride - r) / stride
        if r:
            m[t, a + 1] = r / stride
    return m


def in_time(keys: Tensor, stride: int, frames: int, at: Tensor | None = None) -> Tensor:
    """A level's planes ``(keys, h, w)`` at every frame ``(frames, h, w)``, or only at the frame
    indices ``at`` (the keys themselves for stride 1)."""
    if stride == 1:
        return keys if at is None else keys.index_select(0, at)
    m = time_matrix(frames, stride).to(keys.dtype).to(keys.device)
    if at is not None:
        m = m.index_select(0, at)
    return torch.matmul(m, keys.reshape(keys.shape[0], -1)).reshape(m.shape[0], *keys.shape[1:])


def coarser_keys(keys: int, stride: int, coarser_stride: int) -> np.ndarray:
    """For each plane of a level, the index of the coarser level's plane at or just before the
    same frame: the co-located plane a context reads."""
    return np.arange(keys) * stride // coarser_stride


def check_strides(strides: tuple[int, ...], levels: int) -> None:
    """Strides are powers of two up to :data:`MAX_STRIDE`, one per level, never finer than the
    next finer level's (a context reads the coarser level at or before its own frame)."""
    if len(strides) != levels:
        raise ValueError(f"{len(strides)} temporal strides for {levels} levels")
    for k, s in enumerate(strides):
        if not (isinstance(s, int) and 1 <= s <= MAX_STRIDE and s & (s - 1) == 0):
            raise ValueError(f"temporal stride {s!r} is not a power of two in 1..{MAX_STRIDE}")
        if k and s < strides[k - 1]:
            raise ValueError(f"temporal strides must not decrease from fine to coarse: {strides}")


def default_strides(levels: int) -> tuple[int, ...]:
    """The temporal stride of each level, finest first: one plane per frame down to 1/4 of the
    frame's size, one every 2 frames at 1/8 and 1/16, one every 4 frames below.

    Measured on foreman (one group of 32 frames, 600 steps, quality 3, real files; loss MSE +
    lambda * bpp): strides 1 everywhere 0.00395; (1, 1, 1, 2, 2, 4, 4) 0.00356; the 1/4 level
    strided too, (1, 1, 2, 2, 4, 4, 4), 0.00401; coarser levels strided more, (1, 1, 1, 2, 4, 8, 8),
    0.00378; the 1/8 level at 1, (1, 1, 1, 1, 2, 4, 4), 0.00398 (docs/VIDEO.md).
    """
    return tuple(1 if k < 3 else 2 if k < 5 else 4 for k in range(levels))
