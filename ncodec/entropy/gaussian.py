"""Gaussian-conditional coding: integers under zero-mean quantized Gaussians chosen by scale index.

The image codec predicts a scale per latent element. Coding with that float directly would let
encoder and decoder disagree on a last-bit rounding and desynchronise the stream, so the scale is
mapped to an integer index into the fixed :data:`SCALE_TABLE`, and each index owns one integer
frequency table built once per process. The coder only ever sees those integers.

Table of index ``i`` (scale ``s = SCALE_TABLE[i]``): values ``-R_i..R_i`` with
``R_i = ceil(TAIL_SIGMAS * s)`` (1 to 2048), plus an escape entry for everything outside. The pmf is
``P(k) = Phi((k + 1/2)/s) - Phi((k - 1/2)/s)``, the escape gets the two tails beyond ``R_i + 1/2``;
it is evaluated in float64 with ``math.erfc`` and rounded by :func:`quantize_pmf` to integers that
sum to ``2**24``, each at least 1. Only that last step involves libm; :func:`table_digest` hashes
the integers and a test pins the digest, so a platform whose ``erfc`` would change a table fails
loudly instead of producing incompatible files.
"""

from __future__ import annotations

import hashlib
import math
from functools import lru_cache

import numpy as np

from ._core import (
    PRECISION,
    Alphabet,
    as_group_ids,
    as_int32_values,
    decode_grouped,
    encode_grouped,
    information_bits_grouped,
    quantize_pmf,
    value_bits,
)

# exp(linspace(log(0.11), log(256), 64)), CompressAI's table, as computed by numpy and written out
# literally: libm implementations of exp/log disagree in the last bit on about a third of these
# entries, and the table feeds both scale_to_index and the integer tables, so it must not depend on
# the platform. A test checks the literals against the formula.
_SCALE_TABLE_VALUES = (
    0.11000000000000001, 0.12440410337871262, 0.14069437215874012, 0.1591177928985361,
    0.17995369415583692, 0.20351798155585427, 0.23016792742637654, 0.26030758761831785,
    0.2943939276393863, 0.33294375098286777, 0.37654153469608204, 0.4258482909882771,
    0.48161158923412467, 0.5446768903224373, 0.6160003651969836, 0.6966633919390023,
    0.787888951190402, 0.891060168498511, 1.0077412847140166, 1.1397013723869016,
    1.2889411577389158, 1.4577233548766322, 1.64860697216033, 1.8644861108681825,
    2.108633844405629, 2.384751843339001, 2.697026498648367, 3.0501923941179885,
    3.4496040902074285, 3.901317307761771, 4.412180742435963, 4.989939901886986,
    5.6433545400719245, 6.382331469143953, 7.218074762587224, 8.163255626910708,
    9.232204517427787, 10.441128410904577, 11.808356529278063, 13.354618240009122,
    15.103357346484879, 17.081087533615843, 19.317794357752575, 21.847389875732397,
    24.708226805960464, 27.943680017030772, 31.602804160185094, 35.74107741637158,
    40.42124263429875, 45.71425861248477, 51.70037594826147, 58.47035376532569,
    66.12683576737696, 74.78590648101743, 84.57885128304754, 95.65414689699084,
    108.17971253796196, 122.3454558368367, 138.36615214401417, 156.48470086762356,
    176.9758082174797, 200.15015219107795, 226.3590929494899, 255.99999999999994,
)

SCALE_TABLE: np.ndarray = np.array(_SCALE_TABLE_VALUES, dtype=np.float64)
SCALE_TABLE.flags.writeable = False
NUM_SCALES = len(_SCALE_TABLE_VALUES)

TAIL_SIGMAS = 8
"""Half-width of each alphabet in standard deviations. Beyond ~5.5 sigma a symbol's probability is
below 2**-24 anyway (it keeps the minimum frequency 1), so wider tables would only cost memory;
values beyond 8 sigma are escaped."""

GAUSSIAN_TABLE_VERSION = 1
"""Bumped whenever the rule that builds the Gaussian tables changes."""


_INDEX_BOUNDARIES: np.ndarray = np.sqrt(SCALE_TABLE[:-1] * SCALE_TABLE[1:])
"""Geometric midpoints between neighbouring table scales (IEEE sqrt and multiply are correctly
rounded, so every platform computes the same boundaries)."""


def scale_to_index(scales: np.ndarray) -> np.ndarray:
    """Index of the table scale nearest to ``scale`` in the log domain, clamped to ``[0, NUM_SCALES - 1]``.

    Nearest-in-log rather than CompressAI's round-up: measured on a trained hyperprior, rounding
    up cost 2.5-6 % more bits than the network's own (continuous-scale) estimate on a Kodak photo,
    while the nearest entry came within 0.2 % of it. Scales at or below the first boundary (including zero and
    negative values) map to 0, scales above the last boundary and +inf to 63. Encoder and decoder
    must call this on bit-identical scales. Raises ValueError on NaN. Returns int32 of the input's
    shape.
    """
    s = np.asarray(scales, dtype=np.float64)
    if np.isnan(s).any():
        raise ValueError("scales must not be NaN")
    return np.searchsorted(_INDEX_BOUNDARIES, s, side="left").astype(np.int32)


def tail_range(index: int) -> int:
    """Half-width ``R_i`` of the alphabet of scale index ``index``."""
    return max(1, math.ceil(TAIL_SIGMAS * _SCALE_TABLE_VALUES[index]))


def _gaussian_pmf(scale: float, radius: int) -> np.ndarray:
    """Float64 masses of ``-radius..radius`` and the escape under N(0, scale) quantized to integers."""
    inv = 1.0 / (scale * math.sqrt(2.0))
    # upper[k] = P(X > k - 1/2) for k = 0..radius+1, from erfc so that tails keep their precision.
    upper = [0.5 * math.erfc((k - 0.5) * inv) for k in range(radius + 2)]
    centre = math.erf(0.5 * inv)  # P(|X| < 1/2)
    side = [upper[k] - upper[k + 1] for k in range(1, radius + 1)]  # P(k - 1/2 < X < k + 1/2), k >= 1
    escape = 2.0 * upper[radius + 1]
    return np.array([*side[::-1], centre, *side, escape], dtype=np.float64)


@lru_cache(maxsize=1)
def _alphabets() -> tuple[Alphabet, ...]:
    """The 64 integer tables, built on first use and kept for the life of the process."""
    out = []
    for i, scale in enumerate(_SCALE_TABLE_VALUES):
        radius = tail_range(i)
        out.append(Alphabet(-radius, quantize_pmf(_gaussian_pmf(scale, radius), PRECISION)))
    return tuple(out)


def gaussian_tables() -> tuple[tuple[int, np.ndarray], ...]:
    """``(R_i, freqs_i)`` for every index: freqs of ``-R_i..R_i`` then the escape (read-only int64)."""
    return tuple((-a.lo, a.freqs) for a in _alphabets())


def table_digest() -> str:
    """SHA-256 (hex) of every Gaussian table: a fingerprint of the exact models the coder uses.

    Hashes the precision, then for each index its radius and frequencies as little-endian int64.
    """
    h = hashlib.sha256()
    h.update(np.array([PRECISION, NUM_SCALES], dtype="<i8").tobytes())
    for radius, freqs in gaussian_tables():
        h.update(np.array([radius, freqs.size], dtype="<i8").tobytes())
        h.update(freqs.astype("<i8").tobytes())
    return h.hexdigest()


def _check(symbols: np.ndarray | None, indices: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    idx = as_group_ids(indices, NUM_SCALES, "indices")
    if symbols is None:
        return None, idx
    sym = as_int32_values(symbols)
    if sym.shape != np.shape(indices):
        raise ValueError(f"symbols {sym.shape} and indices {np.shape(indices)} must have the same shape")
    return sym.reshape(-1), idx


def encode_gaussian(symbols: np.ndarray, indices: np.ndarray) -> bytes:
    """Code int32 ``symbols`` (any shape) with the Gaussian table ``indices`` (same shape) selects.

    Symbols are grouped by index (ascending, C order inside), one vectorised call per index, so
    the decoder reproduces the order from ``indices`` alone. Out-of-range values are escaped.
    """
    sym, idx = _check(symbols, indices)
    assert sym is not None
    return encode_grouped(sym, idx, _alphabets())


def decode_gaussian(data: bytes, indices: np.ndarray) -> np.ndarray:
    """Inverse of :func:`encode_gaussian`: int32 array shaped like ``indices``.

    Raises FormatError if the stream is detectably malformed, ValueError on bad ``indices``.
    """
    _, idx = _check(None, indices)
    return decode_grouped(data, idx, _alphabets()).reshape(np.shape(indices))


def gaussian_information_bits(symbols: np.ndarray, indices: np.ndarray) -> float:
    """Ideal code length in bits (``sum -log2 p`` under the integer tables, escapes included)."""
    sym, idx = _check(symbols, indices)
    assert sym is not None
    return information_bits_grouped(sym, idx, _alphabets())


def best_scale_index(values: np.ndarray) -> tuple[int, float]:
    """The table index that codes ``values`` in the fewest bits, and those bits.

    For coders that choose one scale per group of symbols after the fact (the video codec's
    latent contexts): exhaustive over the table, on a histogram, so the choice is exact.
    """
    v = np.asarray(values, dtype=np.int64).reshape(-1)
    if v.size == 0:
        return 0, 0.0
    uniq, counts = np.unique(v, return_counts=True)
    costs = [float(np.dot(counts, value_bits(a, uniq))) for a in _alphabets()]
    best = int(np.argmin(costs))
    return best, costs[best]
