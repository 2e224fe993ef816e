"""Parametric coding of quantized network weights (the video codec stores its fitted weights).

A network's quantized weights are close to zero-mean and unimodal, so one scale parameter
describes them well and costs 4 bytes, where an explicit table would cost far more. The encoder
fits a zero-mean Laplace and a zero-mean Gaussian (a few scales around each maximum-likelihood
estimate), keeps whichever gives the fewest ideal bits under the *exact* integer table it would
code with, and writes the family and the float32 scale in a header. The decoder rebuilds the same
integer table from those header fields alone, so the table is a deterministic function of the
stored bits (the float64 pmf uses ``math.exp``/``math.erfc``, then :func:`quantize_pmf`).

Stream layout (little-endian)::

    byte 0      format version (WEIGHTS_FORMAT_VERSION)
    byte 1      family: 0 = Laplace, 1 = Gaussian
    bytes 2-3   reserved, zero
    bytes 4-7   scale, float32, in [SCALE_MIN, SCALE_MAX]
    bytes 8-    ANS words (see the package docstring), escapes and end check included
"""

from __future__ import annotations

import math
import struct
from functools import lru_cache

import numpy as np

from ..errors import FormatError
from ._core import (
    PRECISION,
    TOTAL,
    Alphabet,
    as_int32_values,
    decode_grouped,
    encode_grouped,
    escape_bits,
    quantize_pmf,
    value_bits,
)

WEIGHTS_FORMAT_VERSION = 1
LAPLACE = 0
GAUSSIAN = 1
FAMILIES = {LAPLACE: "laplace", GAUSSIAN: "gaussian"}

SCALE_MIN = 1.0 / 64.0
"""Smallest scale: at 1/64 the zero symbol already gets all but three units of 2**24."""
SCALE_MAX = 65536.0
MAX_RADIUS = 1 << 16
"""Cap on the alphabet half-width, which keeps a table under 132k entries; wider values escape."""
LAPLACE_TAIL = 17
"""Laplace half-width in scales: exp(-17) < 2**-24, past which every value has frequency 1 anyway."""
GAUSSIAN_TAIL = 8

HEADER = struct.Struct("<BBHf")
HEADER_BYTES = HEADER.size

_CANDIDATE_STEPS = (-2, -1, 0, 1, 2)  # scales tried: MLE * 2**(k/4)
_EXACT_SEARCH_RADIUS = 4096  # candidates with wider tables are ranked approximately


def _radius(family: int, scale: float) -> int:
    tail = LAPLACE_TAIL if family == LAPLACE else GAUSSIAN_TAIL
    return max(1, min(MAX_RADIUS, math.ceil(tail * scale)))


def _pmf(family: int, scale: float, radius: int) -> np.ndarray:
    """Float64 masses of ``-radius..radius`` then the escape, for the zero-mean family at ``scale``."""
    if family == LAPLACE:
        # P(X > k - 1/2) = exp(-(k - 1/2)/b) / 2 for k >= 1
        upper = [0.5 * math.exp(-(k - 0.5) / scale) for k in range(1, radius + 2)]
        centre = -math.expm1(-0.5 / scale)
        width = -math.expm1(-1.0 / scale)  # P(X = k) = P(X > k - 1/2) * (1 - exp(-1/b)), no cancellation
        side = [u * width for u in upper[:radius]]
    else:
        inv = 1.0 / (scale * math.sqrt(2.0))
        upper = [0.5 * math.erfc((k - 0.5) * inv) for k in range(1, radius + 2)]
        centre = math.erf(0.5 * inv)
        side = [upper[i] - upper[i + 1] for i in range(radius)]
    return np.array([*side[::-1], centre, *side, 2.0 * upper[radius]], dtype=np.float64)


@lru_cache(maxsize=16)
def _alphabet(family: int, scale_bits: int) -> Alphabet:
    """Integer table for (family, float32 scale given by its bit pattern), cached per process."""
    scale = _f32_value(scale_bits)
    radius = _radius(family, scale)
    return Alphabet(-radius, quantize_pmf(_pmf(family, scale, radius), PRECISION))


def _f32_bits(scale: float) -> int:
    return int(np.array([scale], dtype=np.float32).view(np.uint32)[0])


def _f32_value(bits_pattern: int) -> float:
    return float(np.array([bits_pattern], dtype=np.uint32).view(np.float32)[0])


def weights_alphabet(family: int, scale: float) -> tuple[int, np.ndarray]:
    """``(offset, freqs)`` of the table coded for ``family`` at float32 ``scale`` (for inspection)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family}")
    a = _alphabet(family, _f32_bits(scale))
    return a.lo, a.freqs


def _histogram(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct values, counts) of int64 ``q``, by bincount when the value range is small."""
    lo, hi = int(q.min()), int(q.max())
    if hi - lo < 1 << 22:
        counts = np.bincount(q - lo, minlength=hi - lo + 1)
        nz = np.flatnonzero(counts)
        return nz.astype(np.int64) + lo, counts[nz]
    vals, counts = np.unique(q, return_counts=True)
    return vals.astype(np.int64), counts


def _erfc_approx(z: np.ndarray) -> np.ndarray:
    """Vectorised erfc for z >= 0, relative error < 1.2e-7 (Numerical Recipes' ``erfcc``).

    Used only to *choose* a scale on the encoder side; the coded table is built exactly."""
    t = 1.0 / (1.0 + 0.5 * z)
    poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277))))))))
    return np.asarray(t * np.exp(-z * z + poly))


def _approx_bits(family: int, scale: float, absvals: np.ndarray) -> np.ndarray:
    """Approximate bits of each |value| under the table (family, scale) would get: vectorised float
    math, probabilities floored at one unit of 2**-PRECISION, escapes charged 24 bits + payload."""
    radius = _radius(family, scale)
    k = absvals.astype(np.float64)
    if family == LAPLACE:
        tail = 0.5 * np.exp(-(k - 0.5) / scale)  # P(X > k - 1/2), k >= 1
        p = np.where(k == 0, -math.expm1(-0.5 / scale), tail * -math.expm1(-1.0 / scale))
    elif scale >= 4.0:  # midpoint rule, relative error ~ 1/(24 scale^2)
        p = np.exp(-0.5 * (k / scale) ** 2) / (scale * math.sqrt(2.0 * math.pi))
    else:
        inv = 1.0 / (scale * math.sqrt(2.0))
        p = 0.5 * (_erfc_approx(np.maximum(k - 0.5, 0.0) * inv) - _erfc_approx((k + 0.5) * inv))
        p = np.where(k == 0, 1.0 - _erfc_approx(np.array(0.5 * inv)), p)
    bits = -np.log2(np.maximum(p, 1.0 / TOTAL))
    outside = absvals > radius
    if outside.any():
        if family == LAPLACE:
            tail_mass = math.exp(-(radius + 0.5) / scale)
        else:
            tail_mass = float(_erfc_approx(np.array((radius + 0.5) / (scale * math.sqrt(2.0)))))
        escape = -math.log2(max(tail_mass, 1.0 / TOTAL))
        bits[outside] = escape + escape_bits(absvals[outside] - radius - 1)
    return bits


def fit_weights_model(q: np.ndarray) -> tuple[int, float, float]:
    """Choose ``(family, float32 scale, ideal bits)`` for ``q``; the bits are exact for that table.

    Starts from the maximum-likelihood scale of each continuous family (mean absolute value for
    Laplace, root mean square for Gaussian) and tries a few multiples, since quantization and the
    integer table shift the optimum slightly. Candidates with small tables are ranked by their exact
    cost; wide ones by a vectorised approximation, because building every exact table would then
    dominate encoding. The choice only affects compression, never correctness: the decoder reads
    it from the header. Ties keep the earlier candidate (Laplace first).
    """
    flat = as_int32_values(q).reshape(-1)
    if flat.size == 0:
        return LAPLACE, SCALE_MIN, 0.0
    vals, counts = _histogram(flat)
    weights = counts.astype(np.float64)
    absvals = np.abs(vals)
    absf = absvals.astype(np.float64)
    n = float(flat.size)
    mle = {
        LAPLACE: float(np.dot(weights, absf)) / n,
        GAUSSIAN: math.sqrt(float(np.dot(weights, absf * absf)) / n),
    }
    best: tuple[int, int, float] | None = None
    for family in (LAPLACE, GAUSSIAN):
        tried: set[int] = set()
        for step in _CANDIDATE_STEPS:
            bits_pattern = _f32_bits(min(max(mle[family] * 2.0 ** (step / 4), SCALE_MIN), SCALE_MAX))
            if bits_pattern in tried:
                continue
            tried.add(bits_pattern)
            scale = _f32_value(bits_pattern)
            if _radius(family, scale) <= _EXACT_SEARCH_RADIUS:
                cost = float(np.dot(weights, value_bits(_alphabet(family, bits_pattern), vals)))
            else:
                cost = float(np.dot(weights, _approx_bits(family, scale, absvals)))
            if best is None or cost < best[2]:
                best = (family, bits_pattern, cost)
    assert best is not None
    family, bits_pattern, _ = best
    exact = float(np.dot(weights, value_bits(_alphabet(family, bits_pattern), vals)))
    return family, _f32_value(bits_pattern), exact


def encode_weights(q: np.ndarray) -> bytes:
    """Code quantized weights (int32 values, any shape, flattened in C order) with a fitted model."""
    flat = as_int32_values(q, "q").reshape(-1)
    family, scale, _ = fit_weights_model(flat)
    header = HEADER.pack(WEIGHTS_FORMAT_VERSION, family, 0, scale)
    alphabet = _alphabet(family, _f32_bits(scale))
    body = encode_grouped(flat, np.zeros(flat.size, dtype=np.intp), [alphabet])
    return header + body


def read_weights_header(data: bytes) -> tuple[int, float]:
    """Validate the header strictly and return ``(family, scale)``; FormatError if anything is off."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"compressed data must be bytes-like, got {type(data).__name__}")
    raw = bytes(data)
    if len(raw) < HEADER_BYTES:
        raise FormatError(f"weights stream of {len(raw)} bytes is shorter than its {HEADER_BYTES}-byte header")
    version, family, reserved, scale = HEADER.unpack_from(raw)
    if version != WEIGHTS_FORMAT_VERSION:
        raise FormatError(f"weights stream has unsupported format version {version}")
    if family not in FAMILIES:
        raise FormatError(f"weights stream names unknown distribution family {family}")
    if reserved != 0:
        raise FormatError("weights stream header has non-zero reserved bits")
    if not (math.isfinite(scale) and SCALE_MIN <= scale <= SCALE_MAX):
        raise FormatError(f"weights stream scale {scale!r} is outside [{SCALE_MIN}, {SCALE_MAX}]")
    return family, scale


def decode_weights(data: bytes, count: int) -> np.ndarray:
    """Inverse of :func:`encode_weights`: ``count`` int32 weights (1-D). FormatError if malformed."""
    if isinstance(count, bool) or not isinstance(count, int | np.integer) or int(count) < 0:
        raise ValueError(f"count must be a non-negative integer, got {count!r}")
    family, scale = read_weights_header(data)
    alphabet = _alphabet(family, _f32_bits(scale))
    return decode_grouped(bytes(data)[HEADER_BYTES:], np.zeros(int(count), dtype=np.intp), [alphabet])


def weights_information_bits(q: np.ndarray) -> float:
    """Ideal bits of the body of :func:`encode_weights` (excluding the 8-byte header)."""
    return fit_weights_model(q)[2]
