"""Table coding: integers under explicit integer frequency tables (factorized priors, code priors).

The image codec's factorized hyper-prior gives one density per channel; the audio codec gives one
prior per codebook. Either is tabulated once (in whatever float arithmetic the model uses) into a
:class:`FrequencyTable` of integers; from then on, coding is exact integer arithmetic and the table
is what must be identical on both sides (ship it, or rebuild it deterministically).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._core import (
    PRECISION,
    TOTAL,
    Alphabet,
    as_group_ids,
    as_int32_values,
    decode_grouped,
    encode_grouped,
    information_bits_grouped,
    quantize_pmf,
)


class FrequencyTable:
    """Integer model of the values ``offset .. offset + len(freqs) - 2`` plus one escape entry.

    ``freqs`` holds one frequency per value, in increasing value order, followed by the escape
    frequency (the last entry), which codes every value outside the range; the escaped value itself
    follows in the same stream. Frequencies are integers >= 1 summing to exactly ``2**PRECISION``.
    Build one from floats with :meth:`from_pmf`. Raises ValueError on an invalid table.
    """

    __slots__ = ("_alphabet",)

    def __init__(self, offset: int, freqs: np.ndarray) -> None:
        self._alphabet = Alphabet(int(offset), np.asarray(freqs))

    @classmethod
    def from_pmf(cls, offset: int, pmf: np.ndarray, escape_mass: float = 0.0) -> FrequencyTable:
        """Quantize ``pmf`` (values ``offset..offset+len(pmf)-1``; need not be normalised).

        ``escape_mass`` is the weight of "any other value", in the same units as ``pmf`` (e.g. the
        tail mass cut off when tabulating a density); every entry gets frequency >= 1 regardless.
        """
        p = np.asarray(pmf, dtype=np.float64)
        if p.ndim != 1 or p.size == 0:
            raise ValueError(f"pmf must be a non-empty 1-D array, got shape {p.shape}")
        return cls(offset, quantize_pmf(np.append(p, float(escape_mass)), PRECISION))

    @property
    def offset(self) -> int:
        """Smallest in-range value."""
        return self._alphabet.lo

    @property
    def max_value(self) -> int:
        """Largest in-range value."""
        return self._alphabet.hi

    @property
    def freqs(self) -> np.ndarray:
        """Read-only int64 frequencies (values in order, then the escape)."""
        return self._alphabet.freqs

    def probabilities(self) -> np.ndarray:
        """The exact coded probabilities, ``freqs / 2**PRECISION``."""
        return self._alphabet.freqs / TOTAL

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FrequencyTable):
            return NotImplemented
        return self.offset == other.offset and np.array_equal(self.freqs, other.freqs)

    def __hash__(self) -> int:
        return hash((self.offset, self.freqs.tobytes()))

    def __repr__(self) -> str:
        return f"FrequencyTable(offset={self.offset}, values={self.freqs.size - 1})"


def _prepare(symbols: np.ndarray | None, table_ids: np.ndarray,
             tables: Sequence[FrequencyTable]) -> tuple[np.ndarray | None, np.ndarray, list[Alphabet]]:
    if len(tables) == 0:
        raise ValueError("at least one table is required")
    for t in tables:
        if not isinstance(t, FrequencyTable):
            raise TypeError(f"tables must be FrequencyTable instances, got {type(t).__name__}")
    alphabets = [t._alphabet for t in tables]
    ids = as_group_ids(table_ids, len(tables), "table_ids")
    if symbols is None:
        return None, ids, alphabets
    sym = as_int32_values(symbols)
    if sym.shape != np.shape(table_ids):
        raise ValueError(f"symbols {sym.shape} and table_ids {np.shape(table_ids)} must have the same shape")
    return sym.reshape(-1), ids, alphabets


def encode_tables(symbols: np.ndarray, table_ids: np.ndarray, tables: Sequence[FrequencyTable]) -> bytes:
    """Code int32 ``symbols`` (any shape), each under ``tables[table_ids[...]]`` (same shape).

    Grouped by table id (ascending, C order inside), one vectorised call per used table.
    """
    sym, ids, alphabets = _prepare(symbols, table_ids, tables)
    assert sym is not None
    return encode_grouped(sym, ids, alphabets)


def decode_tables(data: bytes, table_ids: np.ndarray, tables: Sequence[FrequencyTable]) -> np.ndarray:
    """Inverse of :func:`encode_tables`: int32 array shaped like ``table_ids``; FormatError if corrupt."""
    _, ids, alphabets = _prepare(None, table_ids, tables)
    return decode_grouped(data, ids, alphabets).reshape(np.shape(table_ids))


def table_information_bits(symbols: np.ndarray, table_ids: np.ndarray,
                           tables: Sequence[FrequencyTable]) -> float:
    """Ideal code length in bits under the exact integer tables, escapes included."""
    sym, ids, alphabets = _prepare(symbols, table_ids, tables)
    assert sym is not None
    return information_bits_grouped(sym, ids, alphabets)
