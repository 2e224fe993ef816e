"""Stepwise table coding: symbols whose table depends on symbols decoded before them.

The grouped coder (:mod:`.table`) needs every symbol's table before it decodes anything, which
rules out context models: a code's distribution given the code one frame earlier is only known
once that code is decoded. This coder decodes a stream in *steps* (for audio, one latent frame):
the caller names the tables of a step's symbols from what the earlier steps gave, and the step
is decoded in one vectorised constriction call with one table row per symbol. The Python
overhead is per step, not per symbol.

The tables live in a :class:`TableBank`: same-sized integer frequency tables (values
``offset .. offset + n - 1`` and the escape entry last, as :class:`~.table.FrequencyTable`) held
as one array. Every row is handed to constriction in the same exact form as a single table
(``f_i - 1`` as float64, see :func:`~._core.exact_categorical`), so the coded model is the integers
themselves, identical on every machine.

Stream layout, in decoding order: the symbols of step 0 (in the caller's order), step 1, ..., then
the 16-bit sentinel; the decoder insists on the sentinel and on an empty coder. Values outside a
bank's range are not codable here (a context model's alphabet is closed): encoding one raises
ValueError, and decoding the escape entry raises FormatError.
"""

from __future__ import annotations

from collections.abc import Callable

import constriction
import numpy as np

from ..errors import FormatError
from ._core import _SENTINEL_MODEL as SENTINEL_MODEL
from ._core import PRECISION, SENTINEL, TOTAL, _new_decoder, as_int32_values, bytes_to_words, words_to_bytes

_FAMILY = constriction.stream.model.Categorical(perfect=False)
_ENCODE_BLOCK = 4096  # symbols per encoder call: bounds the (symbols, entries) float64 rows it gathers


class TableBank:
    """Same-sized integer frequency tables, any of which can code any symbol of a stepwise stream.

    ``freqs`` is (tables, values + 1): each row one table over ``offset .. offset + values - 1``
    followed by its escape entry; integers >= 1 summing to exactly ``2**PRECISION``. Raises
    ValueError on an invalid bank.
    """

    __slots__ = ("_log2", "_rows", "freqs", "offset")

    def __init__(self, offset: int, freqs: np.ndarray) -> None:
        arr = np.asarray(freqs)
        if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 2:
            raise ValueError(f"a table bank needs a (tables, entries >= 2) array, got shape {arr.shape}")
        if not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"frequencies must be integers, got dtype {arr.dtype}")
        out = arr.astype(np.int64)
        if np.any(out < 1):
            raise ValueError("every frequency must be >= 1 so that every symbol stays codable")
        if np.any(out.sum(axis=1) != TOTAL):
            raise ValueError(f"every table's frequencies must sum to exactly 2**{PRECISION}")
        out.flags.writeable = False
        self.freqs = out
        self.offset = int(offset)
        self._rows = (out - 1).astype(np.float64)  # the exact form constriction is given
        self._log2 = np.log2(out.astype(np.float64))

    @property
    def n_tables(self) -> int:
        return int(self.freqs.shape[0])

    @property
    def n_values(self) -> int:
        """Codable values per table (the escape entry excluded)."""
        return int(self.freqs.shape[1]) - 1

    def _check(self, symbols: np.ndarray, table_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sym = as_int32_values(symbols).reshape(-1)
        ids = np.asarray(table_ids)
        if ids.shape != np.shape(symbols):
            raise ValueError(f"symbols {np.shape(symbols)} and table_ids {ids.shape} must have the same shape")
        if ids.size and (not np.issubdtype(ids.dtype, np.integer) or ids.min() < 0 or ids.max() >= self.n_tables):
            raise ValueError(f"table ids must be integers in [0, {self.n_tables})")
        coded = sym - self.offset
        if coded.size and (coded.min() < 0 or coded.max() >= self.n_values):
            raise ValueError(f"values must lie in [{self.offset}, {self.offset + self.n_values - 1}]")
        return coded, ids.reshape(-1).astype(np.int64)


def encode_steps(symbols: np.ndarray, table_ids: np.ndarray, bank: TableBank) -> bytes:
    """Code ``symbols`` in decoding order, each under ``bank`` row ``table_ids[i]`` (1-D, same length)."""
    coded, ids = bank._check(symbols, table_ids)
    if coded.size == 0:
        return b""
    coder = constriction.stream.stack.AnsCoder()
    coder.encode_reverse(np.array([SENTINEL], dtype=np.int32), SENTINEL_MODEL)
    ends = range(coded.size, 0, -_ENCODE_BLOCK)  # ANS is a stack: push the last block first
    for end in ends:
        start = max(0, end - _ENCODE_BLOCK)
        coder.encode_reverse(coded[start:end].astype(np.int32), _FAMILY, bank._rows[ids[start:end]])
    return words_to_bytes(coder.get_compressed())


StepTables = Callable[[int, np.ndarray], np.ndarray]
"""``step_tables(step, previous_values)``: the bank rows of step ``step``'s symbols, given the
values step ``step - 1`` decoded to (empty for step 0)."""


def decode_steps(data: bytes | bytearray | memoryview, n_steps: int, step_tables: StepTables,
                 bank: TableBank) -> list[np.ndarray]:
    """Inverse of :func:`encode_steps`: the int32 values of each step; FormatError if corrupt."""
    words = bytes_to_words(data)
    values: list[np.ndarray] = []
    previous = np.zeros(0, dtype=np.int32)
    coder = _new_decoder(words) if words.size else None
    try:
        for step in range(n_steps):
            ids = np.asarray(step_tables(step, previous), dtype=np.int64)
            if ids.size == 0:
                previous = np.zeros(0, dtype=np.int32)
            elif coder is None:
                raise FormatError("entropy-coded stream is empty but symbols are expected")
            else:
                coded = np.asarray(coder.decode(_FAMILY, bank._rows[ids]), dtype=np.int64)
                if np.any(coded >= bank.n_values):
                    raise FormatError("entropy-coded stream decodes to an escape a context model cannot hold")
                previous = (coded + bank.offset).astype(np.int32)
            values.append(previous)
        if coder is None:
            return values
        if not any(v.size for v in values):
            raise FormatError("entropy-coded stream has data but no symbols are expected")
        sentinel = int(coder.decode(SENTINEL_MODEL))
        empty = bool(coder.is_empty())
    except FormatError:
        raise
    except Exception as exc:
        raise FormatError(f"entropy-coded stream cannot be decoded: {exc}") from None
    if sentinel != SENTINEL or not empty:
        raise FormatError("entropy-coded stream is corrupt, truncated or does not match its models")
    return values


def steps_information_bits(symbols: np.ndarray, table_ids: np.ndarray, bank: TableBank) -> float:
    """Ideal code length in bits, ``sum -log2 p``, under the bank's exact integer tables."""
    coded, ids = bank._check(symbols, table_ids)
    return float(np.sum(PRECISION - bank._log2[ids, coded]))
