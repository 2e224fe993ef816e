"""How latents are entropy-coded: temporal deltas under context-selected Gaussian tables.

Each level is coded as the frame-to-frame difference of its planes (the first frame of a group as
its values): static content then costs almost nothing, which is where a video's redundancy lies.
The symbol at (level k, frame t, row i, column j) is coded under one of :data:`BUCKETS` Gaussian
scale-table entries, chosen per level by a context:

* whether ``t`` is the group's first frame coded as values (the first group, or any group of a
  file whose groups are independent) or a difference (a later frame, or the first frame of a
  chained group, coded as the difference from the previous group's last plane), and
* the magnitude (0, 1, 2 or more) of the co-located symbol one level coarser, same frame
  (``(i // 2, j // 2)``; for a coarser level of longer temporal stride, its last plane at or
  before the frame): where the coarse picture changes, the fine one usually does too.

With spatial contexts (``contexts: "checkerboard"`` in the file, the default), each level is
coded in two passes: first the positions whose row plus column is even (the anchors) under the
context above, then the others, whose context also takes a spatial class, ``1 + min(3, sum of
the magnitudes of the four neighbours)``: the neighbours are all anchors, already decoded, so
the second pass is one vectorised call too. Detail is spatially clustered (an edge's symbols
sit next to each other), and the class prices a symbol next to a quiet neighbourhood cheaply;
on dog (64 frames, quality 5) it lowered the fit's loss by 6.9 %.

Levels are decoded coarsest first, each in one or two vectorised calls, and every context is an
integer computed from integers already decoded: encoder and decoder agree exactly. The table index of
each (level, context) is chosen by the encoder after fitting (the one giving the fewest bits,
see :func:`ncodec.entropy.gaussian.best_scale_index`) and stored in the group's header.

While fitting, the same structure gives a differentiable rate: a Gaussian of learned scale per
(level, context), whose integer costs are interpolated linearly at the fitted real-valued symbols
(:func:`expected_bits`).
"""

from __future__ import annotations

import functools
import math
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ncodec.entropy import gaussian

from .grids import coarser_keys, key_count

BUCKETS = 6  # contexts from the coarser level
SPATIAL_CLASSES = 5  # checkerboard: the anchors, then 1 + min(sum of the 4 neighbours' magnitudes, 3)


def context_count(spatial: bool) -> int:
    """Contexts per level: :data:`BUCKETS`, times :data:`SPATIAL_CLASSES` with the checkerboard."""
    return BUCKETS * (SPATIAL_CLASSES if spatial else 1)


def spatial_class(s: np.ndarray) -> np.ndarray:
    """0 at the checkerboard's anchors, 1 + min(sum of the 4 neighbours' magnitudes, 3) elsewhere:
    where the neighbours are non-zero, so usually is the symbol (the dense fine levels of the
    high rates, docs/VIDEO.md). uint8: the decoder computes it on every plane of a level, and
    magnitudes capped at 3 (the sum is capped at 3 anyway) keep the sums within a byte."""
    t, h, w = np.shape(s)
    a = np.zeros((t, h + 2, w + 2), dtype=np.uint8)
    a[:, 1:-1, 1:-1] = np.minimum(np.abs(np.asarray(s)), 3)
    nb = a[:, 1:-1, :-2] + a[:, 1:-1, 2:]
    nb += a[:, :-2, 1:-1]
    nb += a[:, 2:, 1:-1]
    np.minimum(nb, 3, out=nb)
    nb += 1
    nb[:, anchors((h, w))] = 0
    return nb


def spatial_class_torch(s: Tensor) -> Tensor:
    """:func:`spatial_class` of (detached, rounded) real-valued symbols, for the fit's rate.

    In bytes on a zero-padded copy, as the decoder computes it (magnitudes capped at 3, so a sum
    of four fits a byte): it runs on every level at every fitting step.
    """
    a = F.pad(s.detach().round().abs().clamp_(max=3.0).to(torch.uint8), (1, 1, 1, 1))
    nb = a[:, 1:-1, :-2] + a[:, 1:-1, 2:]
    nb += a[:, :-2, 1:-1]
    nb += a[:, 2:, 1:-1]
    return nb.clamp_(max=3).add_(1).mul_(_non_anchor_mask(s.shape[1], s.shape[2], s.device))


@functools.lru_cache(maxsize=64)
def _non_anchor_mask(h: int, w: int, device: torch.device) -> Tensor:
    """1 where ``(i + j)`` is odd (the checkerboard's second pass), 0 on anchors (uint8)."""
    ii = torch.arange(h, device=device)[:, None]
    jj = torch.arange(w, device=device)[None, :]
    return ((ii + jj) % 2 == 1).to(torch.uint8)[None]


MIN_SCALE = 0.11  # the smallest scale in the coder's table
_LN2 = math.log(2.0)


def buckets_from_coarser(coarser: np.ndarray | Tensor | None, frames: int, shape: tuple[int, int],
                         first_is_delta: bool = False) -> np.ndarray:
    """Context ids ``(frames, h, w)`` for one level from the coarser level's integer symbols;
    ``first_is_delta``: the first plane is a difference too (a chained group)."""
    h, w = shape
    first = np.full((frames, 1, 1), 3, dtype=np.uint8)  # uint8: the decoder builds these for every plane
    if not first_is_delta:
        first[0] = 0
    if coarser is None:
        return np.broadcast_to(first, (frames, h, w)).copy()
    c = np.minimum(np.abs(np.asarray(coarser)), 2).astype(np.uint8)
    c = c.repeat(2, axis=1).repeat(2, axis=2)[:, :h, :w]
    return c + first


def symbols_of(latents: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """Temporal deltas of integer planes ``(T, h, w)``: what is coded. With a ``reference``
    plane (the previous group's last one), the first plane is coded as the difference from it."""
    q = np.asarray(latents, dtype=np.int64)
    out = q.copy()
    out[1:] -= q[:-1]
    if reference is not None:
        out[0] -= np.asarray(reference, dtype=np.int64)
    return out


def latents_of(symbols: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """Inverse of :func:`symbols_of`."""
    s = np.array(symbols, dtype=np.int64)
    if reference is not None and len(s):
        s[0] += np.asarray(reference, dtype=np.int64)
    return np.cumsum(s, axis=0)


def _strides(strides: tuple[int, ...] | None, levels: int) -> tuple[int, ...]:
    return tuple(strides) if strides is not None else (1,) * levels


def coarser_of(symbols: list[Any], k: int, keys: int, strides: tuple[int, ...] | None) -> Any:
    """The coarser level's symbols (numpy or torch) co-located with each of the ``keys`` planes
    of level ``k``: the same frame, or the coarser level's last plane before it (None for the
    coarsest level)."""
    if k + 1 >= len(symbols):
        return None
    st = _strides(strides, len(symbols))
    coarser = symbols[k + 1]
    if st[k + 1] == st[k]:
        return coarser
    index = coarser_keys(keys, st[k], st[k + 1])
    return coarser[torch.from_numpy(index).to(coarser.device)] if isinstance(coarser, Tensor) else coarser[index]


def choose_tables(symbols: list[np.ndarray], strides: tuple[int, ...] | None = None,
                  first_is_delta: bool = False, spatial: bool = False) -> tuple[np.ndarray, float]:
    """Best scale index per (level, context) for these symbols, and the ideal bits they cost."""
    levels = len(symbols)
    count = context_count(spatial)
    table = np.zeros((levels, count), dtype=np.uint8)
    total = 0.0
    for k in range(levels):
        coarser = coarser_of(list(symbols), k, symbols[k].shape[0], strides)
        ctx = contexts(coarser, symbols[k], symbols[k].shape[0], symbols[k].shape[1:], first_is_delta, spatial)
        for b in range(count):
            values = symbols[k][ctx == b]
            if values.size:
                index, bits = gaussian.best_scale_index(values)
                table[k, b] = index
                total += bits
    return table, total


@functools.lru_cache(maxsize=64)
def anchors(shape: tuple[int, int]) -> np.ndarray:
    """The checkerboard's first half, ``(h, w)`` bool: positions whose row + column is even.
    Every other position has only anchors as its four neighbours. (Cached and read-only.)"""
    ii, jj = np.indices(shape)
    mask = (ii + jj) % 2 == 0
    mask.flags.writeable = False
    return mask


def contexts(coarser: np.ndarray | None, symbols_or_none: np.ndarray | None, frames: int,
             shape: tuple[int, int], first_is_delta: bool, spatial: bool) -> np.ndarray:
    """Context ids of one level: the coarser-level bucket, times :data:`SPATIAL_CLASSES` plus the
    checkerboard class when ``spatial`` (the classes read only anchors, so for the non-anchors
    ``symbols_or_none`` needs its anchors decoded, nothing more)."""
    ctx = buckets_from_coarser(coarser, frames, shape, first_is_delta)
    if not spatial:
        return ctx
    assert symbols_or_none is not None
    return ctx * SPATIAL_CLASSES + spatial_class(symbols_or_none)


def encode_levels(symbols: list[np.ndarray], table: np.ndarray,
                  strides: tuple[int, ...] | None = None, first_is_delta: bool = False,
                  spatial: bool = False) -> list[bytes]:
    """One entropy-coded stream per level; with ``spatial``, two: the checkerboard's anchors,
    then the other half under their neighbours' magnitudes."""
    streams = []
    for k in range(len(symbols)):
        s = symbols[k]
        coarser = coarser_of(list(symbols), k, s.shape[0], strides)
        ctx = contexts(coarser, s, s.shape[0], s.shape[1:], first_is_delta, spatial)
        idx = table[k][ctx].astype(np.int32)
        if not spatial:
            streams.append(gaussian.encode_gaussian(s.astype(np.int32), idx))
            continue
        mask = anchors(tuple(s.shape[1:]))
        streams.append(gaussian.encode_gaussian(s[:, mask].astype(np.int32), idx[:, mask]))
        streams.append(gaussian.encode_gaussian(s[:, ~mask].astype(np.int32), idx[:, ~mask]))
    return streams


def decode_levels(streams: list[bytes], table: np.ndarray, frames: int,
                  shapes: list[tuple[int, int]], strides: tuple[int, ...] | None = None,
                  first_is_delta: bool = False, spatial: bool = False) -> list[np.ndarray]:
    """Inverse of :func:`encode_levels`: the symbols of every level, coarsest decoded first;
    ``frames`` is the group's frame count (a level of stride ``s`` holds ``key_count`` planes)."""
    st = _strides(strides, len(shapes))
    per = 2 if spatial else 1
    if len(streams) != per * len(shapes):
        raise ValueError(f"{len(streams)} latent streams for {len(shapes)} levels")
    out: list[Any] = [None] * len(shapes)
    for k in range(len(shapes) - 1, -1, -1):
        keys = key_count(frames, st[k])
        coarser = coarser_of(out, k, keys, st)
        if not spatial:
            ctx = buckets_from_coarser(coarser, keys, shapes[k], first_is_delta)
            out[k] = gaussian.decode_gaussian(streams[k], table[k][ctx].astype(np.int32))
            continue
        base = buckets_from_coarser(coarser, keys, shapes[k], first_is_delta)
        base *= SPATIAL_CLASSES
        mask = anchors(tuple(shapes[k]))
        plane = np.zeros(base.shape, dtype=np.int32)
        plane[:, mask] = gaussian.decode_gaussian(streams[2 * k], table[k][base[:, mask]])
        base += spatial_class(plane)  # the non-anchors' classes read the anchors only
        other = ~mask
        plane[:, other] = gaussian.decode_gaussian(streams[2 * k + 1], table[k][base[:, other]])
        out[k] = plane
    return [np.asarray(o) for o in out]


# --------------------------------------------------------------------------------------------------
# the differentiable rate used while fitting


def torch_buckets(coarser: Tensor | None, frames: int, shape: tuple[int, int], device: torch.device,
                  first_is_delta: bool = False) -> Tensor:
    """:func:`buckets_from_coarser` on (detached, integer-valued) torch symbols, as uint8."""
    h, w = shape
    first = torch.full((frames, 1, 1), 3, dtype=torch.uint8, device=device)
    if not first_is_delta:
        first[0] = 0
    if coarser is None:
        return first.expand(frames, h, w)
    c = coarser.detach().abs().round().clamp(max=2).to(torch.uint8)
    c = c.repeat_interleave(2, dim=1).repeat_interleave(2, dim=2)[:, :h, :w]
    return c + first


def gaussian_bits(x: Tensor, scale: Tensor) -> Tensor:
    """-log2 P(x) for integers (or noisy reals) ``x`` under a unit-bin Gaussian of ``scale``."""
    s = scale.clamp(min=MIN_SCALE) * math.sqrt(2.0)
    a = x.abs()
    p = 0.5 * (torch.erfc((a - 0.5) / s) - torch.erfc((a + 0.5) / s))
    return -torch.log(p.clamp(min=1e-9)) / _LN2


SYMBOL_LIMIT = 2 * 1024  # a delta of two latents within +-MAX_LATENT


def integer_bits_table(scales: Tensor, limit: int = SYMBOL_LIMIT) -> Tensor:
    """``-log2 P(n)`` for ``n`` in ``-limit..limit`` under each of ``scales``: ``(len(scales),
    2 * limit + 1)``, differentiable in the scales (a few thousand values per level and step)."""
    n = torch.arange(-limit, limit + 1, dtype=scales.dtype, device=scales.device)
    return gaussian_bits(n[None, :], scales[:, None])


RATE_CHUNK = 1 << 16  # symbols per chunk of the fit's rate: its temporaries stay in cache


class _InterpolatedBits(torch.autograd.Function):
    """``sum((1 - f) * table[i] + f * table[i + 1])`` at ``i = bucket * width + floor(x) +
    limit``, ``f = x - floor(x)``, over a huge ``x`` and a small flat table, with both gradients.

    The symbols are walked in cache-sized chunks and the gradients computed on the way, in the
    same pass (the rate is differentiated at every fitting step): the unfused version built an
    int64 index and half a dozen temporaries the size of the finest level (3.2 million symbols
    for a CIF group of 32 frames) and read them again in the backward pass. The table's
    gradient is summed by a weighted ``bincount`` per chunk, in float64 (autograd's own
    accumulating ``index_put`` took about a third of a fitting step), and chunks are summed in a
    fixed order, so the result depends only on the inputs and the thread count.
    """

    @staticmethod
    def forward(ctx: Any, table: Tensor, symbols: Tensor, buckets: Tensor, limit: int) -> Tensor:
        width = 2 * limit + 1
        x, b = symbols.reshape(-1), buckets.reshape(-1)
        total = torch.zeros((), dtype=torch.float64, device=table.device)
        grad_x = torch.empty_like(x) if ctx.needs_input_grad[1] else None
        grad_table = torch.zeros(table.shape[0], dtype=torch.float64, device=table.device) if ctx.needs_input_grad[0] else None
        with torch.no_grad():
            for s in range(0, x.shape[0], RATE_CHUNK):
                xc = x[s:s + RATE_CHUNK]
                n = torch.floor(xc).clamp_(-limit, limit - 1)
                frac = torch.sub(xc, n).clamp_(0.0, 1.0)  # clamped only beyond the limit, where the cost is flat
                index = b[s:s + RATE_CHUNK].to(torch.int64, copy=True).mul_(width).add_(n.long()).add_(limit)
                lo = table[index]
                step = table[index + 1].sub_(lo)
                total += torch.addcmul(lo, frac, step).sum(dtype=torch.float64)
                if grad_x is not None:
                    grad_x[s:s + RATE_CHUNK] = step
                if grad_table is not None:
                    f = frac.double()
                    grad_table += torch.bincount(index, weights=1.0 - f, minlength=table.shape[0])
                    grad_table += torch.bincount(index + 1, weights=f, minlength=table.shape[0])
        ctx.save_for_backward(grad_table if grad_table is not None else torch.empty(0),
                              grad_x if grad_x is not None else torch.empty(0))
        ctx.shape = symbols.shape
        return total.to(table.dtype)

    @staticmethod
    def backward(ctx: Any, *grads: Tensor) -> tuple[Tensor | None, Tensor | None, None, None]:
        grad_table, grad_x = ctx.saved_tensors
        g = grads[0]
        return ((g * grad_table).to(g.dtype) if ctx.needs_input_grad[0] else None,
                (g * grad_x).reshape(ctx.shape) if ctx.needs_input_grad[1] else None, None, None)


def expected_bits(symbols: Tensor, buckets: Tensor, scales: Tensor) -> Tensor:
    """Bits of real-valued ``symbols`` under the Gaussian of ``scales[buckets]``: the integer
    costs interpolated linearly, ``(1 - f) * bits(n) + f * bits(n + 1)`` at ``n + f``.

    This is the expected cost of a latent whose rounding offset is uniform: a delta of 0.1
    between two latents flips their rounded difference to 1 one time in ten. Its slope at
    zero is the full price of a 1 (many bits where the context is quiet), so a fit under it
    leaves still content exactly still. The usual relaxation, the bits of the symbol plus
    uniform noise, is flat at zero: it let small drifts through for free, and on one group of
    dog (32 frames, quality 3) the noise phase ended on latents that cost 0.22 bpp once
    rounded, which the rounding phase cut to 0.029 bpp at the price of 2.5 dB.
    """
    # The table only as wide as this step's symbols need: its entries are the same whatever the
    # width, and the full +-SYMBOL_LIMIT table (4097 erfc pairs per context) dominated the rate's
    # time once contexts multiplied (30 per level with the checkerboard classes). |floor(x)| is
    # at most |x| + 1.
    reach = float(symbols.detach().abs().max()) if symbols.numel() else 0.0
    limit = min(SYMBOL_LIMIT, int(reach) + 2)
    table = integer_bits_table(scales, limit).reshape(-1)
    return cast(Tensor, _InterpolatedBits.apply(table, symbols, buckets, limit))
