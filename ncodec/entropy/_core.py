"""The shared engine: exact integer models, grouped vectorised ANS coding, escapes, stream checks.

Every public coder (Gaussian-conditional, table, parametric) reduces to the same problem: a flat
array of int32 symbols, a parallel array of *group ids* that says which integer frequency table
codes each symbol, and the list of those tables (:class:`Alphabet`). This module codes that
problem with one vectorised constriction call per non-empty group, so the Python overhead is
bounded by the number of tables, never by the number of symbols.

Stream layout, in the order the decoder reads it (the encoder pushes it in reverse, because ANS
is a stack):

1. the main symbols, grouped by ascending group id; inside a group, in the C order of the input;
2. for every escape in that same order: its side (1 bit, uniform);
3. for every escape: the bit length ``L`` (0..32) of ``d + 1`` minus one, under the fixed integer
   table :data:`ESCAPE_LENGTH_FREQS`;
4. for every escape with ``L >= 1``: the low ``min(L, 16)`` mantissa bits (uniform);
5. for every escape with ``L > 16``: the remaining ``L - 16`` mantissa bits (uniform);
6. a 16-bit sentinel :data:`SENTINEL` (uniform), which is pushed first and therefore sits at the
   bottom of the stack.

``d >= 0`` is the distance of an out-of-range value from the nearest end of its table's range
(Elias-gamma style), so values just outside a range cost a few bits and any int32 value can be
coded. After decoding everything, the decoder requires the sentinel to match and the coder to be
exactly empty. That rejects empty, truncated or random streams with high probability (and gives
the all-first-symbol message, which would otherwise encode to zero words, a non-empty stream).
ANS cannot detect every corruption; the container's CRCs do that. What a decoder guarantees is
that it never crashes or hangs on any input: it returns int32 values or raises FormatError.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import constriction
import numpy as np

from ..errors import FormatError

PRECISION = 24
"""Fixed-point precision of every model: frequencies sum to exactly ``2**PRECISION``.

24 is the precision of constriction's default ANS coder (32-bit words, 64-bit state); with it the
coder's rounding overhead is far below 0.01 % while tables with up to millions of entries still
give every symbol a frequency of at least one."""

TOTAL = 1 << PRECISION

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1

SENTINEL = 0x6E63
"""Value of the 16-bit end-of-stream check (ASCII "nc")."""
SENTINEL_BITS = 16

MAX_ESCAPE_LENGTH = 32
"""``d + 1`` lies in [1, 2**32] for any int32 value and any int32 range, so L = bits - 1 <= 32."""

_MANTISSA_CHUNK = 16


def quantize_pmf(pmf: np.ndarray, total_bits: int = PRECISION) -> np.ndarray:
    """Round a non-negative weight vector to integer frequencies that sum to ``2**total_bits``.

    The result is a deterministic function of the float64 input: every entry first gets 1 (so every
    symbol stays codable, even one with weight 0), the remaining ``2**total_bits - n`` units are
    split proportionally and floored, and the units lost by flooring go to the entries with the
    largest fractional parts, ties to the lower index. Only IEEE-exact operations are used
    (``math.fsum`` for the normaliser, one multiply and floor per entry, a stable sort), so two
    machines that agree on the input floats agree on the integers.

    ``pmf`` need not be normalised. Raises ValueError if it is empty, not 1-D, contains negative or
    non-finite values, sums to zero, or has more entries than the total allows.
    """
    p = np.asarray(pmf, dtype=np.float64)
    if p.ndim != 1 or p.size == 0:
        raise ValueError(f"pmf must be a non-empty 1-D array, got shape {p.shape}")
    if not 1 <= int(total_bits) <= 31:
        raise ValueError(f"total_bits must be in [1, 31], got {total_bits}")
    total = 1 << int(total_bits)
    n = p.size
    if n > total:
        raise ValueError(f"{n} entries cannot each get a frequency >= 1 out of 2**{total_bits}")
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ValueError("pmf must be finite and non-negative")
    norm = math.fsum(p.tolist())
    if not norm > 0 or not math.isfinite(norm):
        raise ValueError("pmf must have a positive, finite sum")
    free = total - n
    if not math.isfinite(free / norm):  # subnormal weights: rescale so the factor stays finite
        p = p / p.max()
        norm = math.fsum(p.tolist())
    raw = p * (free / norm)
    base = np.floor(raw)
    freqs = base.astype(np.int64) + 1
    frac = raw - base
    rem = total - int(freqs.sum())
    if rem > 0:
        # Largest fractional parts first; a stable sort makes ties go to the lower index.
        order = np.argsort(-frac, kind="stable")
        take = order[:rem]
        freqs[take] += 1
        rem -= take.size
        while rem > 0:  # only reachable through float rounding of `raw`; spread what is left
            step = min(rem, n)
            freqs[order[:step]] += 1
            rem -= step
    elif rem < 0:
        # Float rounding pushed the floors over the total: take back from the smallest fractions
        # among entries that can spare a unit.
        order = np.argsort(frac, kind="stable")
        while rem < 0:
            spare = order[freqs[order] > 1][: -rem]
            freqs[spare] -= 1
            rem += spare.size
    return freqs


def _escape_length_freqs() -> np.ndarray:
    """Prior of the escape bit length L: P(L) proportional to 2**(-L/2), so near misses are cheap."""
    weights = np.array([2.0 ** (-0.5 * k) for k in range(MAX_ESCAPE_LENGTH + 1)], dtype=np.float64)
    return quantize_pmf(weights, PRECISION)


ESCAPE_LENGTH_FREQS = _escape_length_freqs()


def check_freqs(freqs: np.ndarray) -> np.ndarray:
    """Validate an integer frequency table for coding and return it as a read-only int64 array."""
    arr = np.asarray(freqs)
    if arr.ndim != 1 or arr.size < 2:
        raise ValueError(f"a frequency table needs a 1-D array of >= 2 entries, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"frequencies must be integers, got dtype {arr.dtype}")
    if arr.size >= TOTAL - 1:
        raise ValueError(f"a frequency table may have at most {TOTAL - 2} entries")
    out = arr.astype(np.int64)
    if np.any(out < 1):
        raise ValueError("every frequency must be >= 1 so that every symbol stays codable")
    if int(out.sum()) != TOTAL:
        raise ValueError(f"frequencies must sum to exactly 2**{PRECISION}, got {int(out.sum())}")
    out.flags.writeable = False
    return out


def exact_categorical(freqs: np.ndarray) -> Any:
    """A constriction model whose fixed-point table is exactly ``freqs`` (validated by the caller).

    constriction's ``Categorical(perfect=False)`` builds its fixed-point cdf as
    ``floor(cumsum_before_i(p) * (2**24 - n) / sum(p)) + i``. Passing ``p_i = f_i - 1`` (integers
    in float64, so every partial sum is exact) makes the scale factor exactly 1.0 and the cdf
    exactly ``cumsum_before_i(f)``: the coded model is the integer table itself, with no float
    that two machines could round differently. A test probes every boundary to pin this.
    """
    return constriction.stream.model.Categorical((freqs - 1).astype(np.float64), perfect=False)


class Alphabet:
    """One integer model: values ``lo..hi`` map to table entries ``0..hi-lo``, entry ``hi-lo+1`` escapes.

    Holds the constriction model (built lazily, once) and log2 frequencies for ideal bit counts.
    """

    __slots__ = ("_model", "freqs", "hi", "lo")

    def __init__(self, lo: int, freqs: np.ndarray) -> None:
        self.freqs = check_freqs(freqs)
        self.lo = int(lo)
        self.hi = self.lo + self.freqs.size - 2
        if self.lo < INT32_MIN or self.hi > INT32_MAX:
            raise ValueError(f"table range [{self.lo}, {self.hi}] exceeds int32")
        self._model: Any = None

    @property
    def escape(self) -> int:
        """Table entry of the escape symbol (the last one)."""
        return self.freqs.size - 1

    @property
    def model(self) -> Any:
        if self._model is None:
            self._model = exact_categorical(self.freqs)
        return self._model


_ESCAPE_LENGTH_MODEL = exact_categorical(ESCAPE_LENGTH_FREQS)
_UNIFORM_FAMILY = constriction.stream.model.Uniform()
_SIDE_MODEL = constriction.stream.model.Uniform(2)
_SENTINEL_MODEL = constriction.stream.model.Uniform(1 << SENTINEL_BITS)


# ------------------------------------------------------------------------------------------------
# Input validation


def as_int32_values(symbols: np.ndarray, name: str = "symbols") -> np.ndarray:
    """Return ``symbols`` as an int64 array after checking it is integer-valued within int32."""
    arr = np.asarray(symbols)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must have an integer dtype, got {arr.dtype}")
    out = arr.astype(np.int64, copy=False)
    if out.size and (int(out.min()) < INT32_MIN or int(out.max()) > INT32_MAX):
        raise ValueError(f"{name} must lie in the int32 range")
    return out


def as_group_ids(ids: np.ndarray, n_groups: int, name: str) -> np.ndarray:
    """Validate integer ids in ``[0, n_groups)`` and return them as a flat intp array."""
    arr = np.asarray(ids)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must have an integer dtype, got {arr.dtype}")
    flat = arr.reshape(-1).astype(np.intp, copy=False)
    if flat.size and (int(flat.min()) < 0 or int(flat.max()) >= n_groups):
        raise ValueError(f"{name} must lie in [0, {n_groups})")
    return flat


# ------------------------------------------------------------------------------------------------
# Words <-> bytes


def words_to_bytes(words: np.ndarray) -> bytes:
    """Serialise compressed words as little-endian uint32, whatever the host byte order."""
    return np.asarray(words, dtype=np.uint32).astype("<u4", copy=False).tobytes()


def bytes_to_words(data: bytes | bytearray | memoryview) -> np.ndarray:
    """Parse little-endian uint32 words; FormatError if the length is not a multiple of 4."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"compressed data must be bytes-like, got {type(data).__name__}")
    raw = bytes(data)
    if len(raw) % 4:
        raise FormatError(f"entropy-coded stream of {len(raw)} bytes is not a whole number of 32-bit words")
    return np.frombuffer(raw, dtype="<u4").astype(np.uint32)


def _new_decoder(words: np.ndarray) -> Any:
    try:
        return constriction.stream.stack.AnsCoder(words)
    except Exception as exc:  # constriction rejects e.g. a trailing zero word
        raise FormatError(f"invalid entropy-coded stream: {exc}") from None


# ------------------------------------------------------------------------------------------------
# Grouped coding


def _group_order(gids: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """(permutation sorting symbols by group id, stably; symbol count per group).

    Both sides derive this from the group ids alone. Small id ranges sort as uint8/uint16, for
    which numpy's stable sort is a radix sort.
    """
    if n_groups <= 1 << 8:
        key: np.ndarray = gids.astype(np.uint8)
    elif n_groups <= 1 << 16:
        key = gids.astype(np.uint16)
    else:
        key = gids
    order = np.argsort(key, kind="stable")
    counts = np.bincount(gids, minlength=n_groups)
    return order, counts


def _split_escapes(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For out-of-range int64 ``values``: (side 0 above / 1 below, distance d >= 0 past the range)."""
    above = values > hi
    d = np.where(above, values - hi - 1, lo - 1 - values)
    return (~above).astype(np.int32), d


def _escape_payload(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(bit length L of d+1 minus one, mantissa = the L low bits of d+1) for int64 d >= 0."""
    v = d + 1
    length = np.zeros(v.shape, dtype=np.int64)
    rest = v.copy()
    for shift in (32, 16, 8, 4, 2, 1):  # branch-free floor(log2(v)) for v < 2**33
        big = rest >= (1 << shift)
        length += np.where(big, shift, 0)
        rest = np.where(big, rest >> shift, rest)
    mantissa = v - (np.int64(1) << length)
    return length, mantissa


def encode_grouped(values: np.ndarray, gids: np.ndarray, alphabets: Sequence[Alphabet]) -> bytes:
    """Code flat int64 ``values`` (int32 range) under ``alphabets[gids[i]]``; see the module docstring."""
    n = values.size
    if n == 0:
        return b""
    order, counts = _group_order(gids, len(alphabets))
    sv = values[order]
    sg = gids[order]
    lo_of = np.array([a.lo for a in alphabets], dtype=np.int64)
    hi_of = np.array([a.hi for a in alphabets], dtype=np.int64)
    lo = lo_of[sg]
    hi = hi_of[sg]
    esc = (sv < lo) | (sv > hi)
    coded = np.where(esc, hi - lo + 1, sv - lo).astype(np.int32)

    coder = constriction.stream.stack.AnsCoder()
    coder.encode_reverse(np.array([SENTINEL], dtype=np.int32), _SENTINEL_MODEL)
    if esc.any():
        side, d = _split_escapes(sv[esc], lo[esc], hi[esc])
        length, mantissa = _escape_payload(d)
        big = length > _MANTISSA_CHUNK
        if big.any():
            hi_bits = length[big] - _MANTISSA_CHUNK
            coder.encode_reverse((mantissa[big] >> _MANTISSA_CHUNK).astype(np.int32), _UNIFORM_FAMILY,
                                 (np.int64(1) << hi_bits).astype(np.int32))
        some = length > 0
        if some.any():
            lo_bits = np.minimum(length[some], _MANTISSA_CHUNK)
            coder.encode_reverse((mantissa[some] & ((1 << _MANTISSA_CHUNK) - 1)).astype(np.int32),
                                 _UNIFORM_FAMILY, (np.int64(1) << lo_bits).astype(np.int32))
        coder.encode_reverse(length.astype(np.int32), _ESCAPE_LENGTH_MODEL)
        coder.encode_reverse(side, _SIDE_MODEL)
    ends = np.cumsum(counts)
    for g in range(len(alphabets) - 1, -1, -1):
        if counts[g]:
            coder.encode_reverse(coded[ends[g] - counts[g]:ends[g]], alphabets[g].model)
    return words_to_bytes(coder.get_compressed())


def decode_grouped(data: bytes | bytearray | memoryview, gids: np.ndarray,
                   alphabets: Sequence[Alphabet]) -> np.ndarray:
    """Inverse of :func:`encode_grouped`: flat int32 values; FormatError on any detectable damage."""
    words = bytes_to_words(data)
    n = gids.size
    if n == 0:
        if words.size:
            raise FormatError("entropy-coded stream has data but no symbols are expected")
        return np.zeros(0, dtype=np.int32)
    coder = _new_decoder(words)
    order, counts = _group_order(gids, len(alphabets))
    coded = np.empty(n, dtype=np.int64)
    start = 0
    try:
        for g, count in enumerate(counts.tolist()):
            if count:
                coded[start:start + count] = coder.decode(alphabets[g].model, count)
                start += count
    except Exception as exc:
        raise FormatError(f"entropy-coded stream cannot be decoded: {exc}") from None
    sg = gids[order]
    lo = np.array([a.lo for a in alphabets], dtype=np.int64)[sg]
    hi = np.array([a.hi for a in alphabets], dtype=np.int64)[sg]
    esc = coded == hi - lo + 1
    values = coded + lo
    n_esc = int(esc.sum())
    try:
        if n_esc:
            side = np.asarray(coder.decode(_SIDE_MODEL, n_esc), dtype=np.int64)
            length = np.asarray(coder.decode(_ESCAPE_LENGTH_MODEL, n_esc), dtype=np.int64)
            mantissa = np.zeros(n_esc, dtype=np.int64)
            some = length > 0
            if some.any():
                lo_bits = np.minimum(length[some], _MANTISSA_CHUNK)
                mantissa[some] = coder.decode(_UNIFORM_FAMILY, (np.int64(1) << lo_bits).astype(np.int32))
            big = length > _MANTISSA_CHUNK
            if big.any():
                hi_bits = length[big] - _MANTISSA_CHUNK
                high = np.asarray(coder.decode(_UNIFORM_FAMILY, (np.int64(1) << hi_bits).astype(np.int32)),
                                  dtype=np.int64)
                mantissa[big] |= high << _MANTISSA_CHUNK
            d = (np.int64(1) << length) + mantissa - 1
            values[esc] = np.where(side == 0, hi[esc] + 1 + d, lo[esc] - 1 - d)
        sentinel = int(coder.decode(_SENTINEL_MODEL))
        empty = bool(coder.is_empty())
    except Exception as exc:
        raise FormatError(f"entropy-coded stream cannot be decoded: {exc}") from None
    if sentinel != SENTINEL or not empty:
        raise FormatError("entropy-coded stream is corrupt, truncated or does not match its models")
    if n_esc and (int(values.min()) < INT32_MIN or int(values.max()) > INT32_MAX):
        raise FormatError("entropy-coded stream decodes to a value outside int32")
    out = np.empty(n, dtype=np.int32)
    out[order] = values
    return out


def escape_bits(d: np.ndarray) -> np.ndarray:
    """Ideal bits of each escape payload (side + length + mantissa) for distances ``d``."""
    length, _ = _escape_payload(np.asarray(d, dtype=np.int64))
    length_bits = PRECISION - np.log2(ESCAPE_LENGTH_FREQS.astype(np.float64))
    return 1.0 + length_bits[length] + length


def information_bits_grouped(values: np.ndarray, gids: np.ndarray, alphabets: Sequence[Alphabet]) -> float:
    """Ideal code length, ``sum -log2 p``, under the exact integer tables, escape payloads included."""
    if values.size == 0:
        return 0.0
    sizes = np.array([a.freqs.size for a in alphabets], dtype=np.int64)
    base = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    flat_log2 = np.log2(np.concatenate([a.freqs for a in alphabets]).astype(np.float64))
    lo = np.array([a.lo for a in alphabets], dtype=np.int64)[gids]
    hi = np.array([a.hi for a in alphabets], dtype=np.int64)[gids]
    esc = (values < lo) | (values > hi)
    coded = np.where(esc, hi - lo + 1, values - lo)
    bits = float(np.sum(PRECISION - flat_log2[base[gids] + coded]))
    if esc.any():
        _, d = _split_escapes(values[esc], lo[esc], hi[esc])
        bits += float(np.sum(escape_bits(d)))
    return bits


def value_bits(alphabet: Alphabet, values: np.ndarray) -> np.ndarray:
    """Ideal bits of each int64 value under one alphabet, escape payloads included."""
    v = np.asarray(values, dtype=np.int64)
    esc = (v < alphabet.lo) | (v > alphabet.hi)
    log2 = np.log2(alphabet.freqs.astype(np.float64))
    coded = np.where(esc, alphabet.escape, v - alphabet.lo)
    bits = PRECISION - log2[coded]
    if esc.any():
        lo = np.full(int(esc.sum()), alphabet.lo, dtype=np.int64)
        hi = np.full(lo.size, alphabet.hi, dtype=np.int64)
        _, d = _split_escapes(v[esc], lo, hi)
        bits[esc] += escape_bits(d)
    return bits
