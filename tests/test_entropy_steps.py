"""Stepwise (context) coding: exact rows, round trips under a context model, damage, pinned bytes."""

from __future__ import annotations

import numpy as np
import pytest

from ncodec.entropy import TOTAL, TableBank, decode_steps, encode_steps, quantize_pmf, steps_information_bits
from ncodec.entropy.stepwise import _FAMILY
from ncodec.errors import FormatError

VALUES = 12


def _bank(n_tables: int = 3, seed: int = 0) -> TableBank:
    rng = np.random.default_rng(seed)
    rows = [quantize_pmf(np.append(rng.dirichlet(np.full(VALUES, 0.3)), 0.0)) for _ in range(n_tables)]
    return TableBank(0, np.stack(rows))


def _markov(n: int, seed: int = 1) -> np.ndarray:
    """A sequence whose next value depends strongly on the one before (what a context model is for)."""
    rng = np.random.default_rng(seed)
    out = np.zeros(n, dtype=np.int64)
    for i in range(1, n):
        out[i] = (out[i - 1] + rng.choice([0, 1, 1, 2])) % VALUES
    return out


def _context_tables(values: np.ndarray, width: int) -> TableBank:
    """Row 0 for a sequence's first value, row 1 + v for a value after v (counted from ``values``)."""
    rows = [quantize_pmf(np.append(np.bincount(values, minlength=VALUES) + 0.5, 0.0))]
    for v in range(VALUES):
        after = values[1:][values[:-1] == v]
        rows.append(quantize_pmf(np.append(np.bincount(after, minlength=VALUES) + 0.5, 0.0)))
    return TableBank(0, np.stack(rows))


def _stepwise(values: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """``width`` interleaved chains, one symbol of each per step; table = context of its own chain."""
    chains = values.reshape(width, -1)
    ids = np.zeros_like(chains)
    ids[:, 1:] = 1 + chains[:, :-1]
    return chains.T.reshape(-1), ids.T.reshape(-1)  # step-major: decoding order


def _decode(data: bytes, steps: int, width: int, bank: TableBank) -> np.ndarray:
    def tables(step: int, previous: np.ndarray) -> np.ndarray:
        return np.zeros(width, dtype=np.int64) if step == 0 else 1 + previous.astype(np.int64)

    return np.concatenate(decode_steps(data, steps, tables, bank))


def _probe(rows: np.ndarray, quantile: int) -> int:
    import constriction

    coder = constriction.stream.stack.AnsCoder(np.array([quantile, quantile], dtype=np.uint32))
    return int(coder.decode(_FAMILY, rows)[0])


def test_each_bank_row_is_coded_exactly_as_its_integers() -> None:
    """Every cdf boundary of every row handed to constriction sits where the integer table puts it."""
    bank = _bank(2, seed=5)
    for row in range(bank.n_tables):
        freqs = bank.freqs[row]
        cdf = np.concatenate([[0], np.cumsum(freqs)])
        for i in range(1, freqs.size):
            rows = bank._rows[[row]]
            if cdf[i] - 1 > 0:
                assert _probe(rows, int(cdf[i]) - 1) == i - 1
            assert _probe(rows, int(cdf[i])) == i


@pytest.mark.parametrize("width", [1, 3])
def test_a_context_model_round_trips_and_saves_bits(width: int) -> None:
    values = _markov(3000)
    bank = _context_tables(values, width)
    symbols, ids = _stepwise(values, width)
    data = encode_steps(symbols, ids, bank)
    decoded = _decode(data, symbols.size // width, width, bank)
    np.testing.assert_array_equal(decoded, symbols)
    ideal = steps_information_bits(symbols, ids, bank)
    assert 8 * len(data) <= ideal + 64  # the coder's overhead: the sentinel and the last word
    unigram = steps_information_bits(symbols, np.zeros_like(ids), bank)
    assert ideal < 0.6 * unigram  # the context carries most of the information


def test_coded_bytes_are_pinned() -> None:
    """A change in these bytes is a format change of every context-coded stream."""
    weights = np.arange(1, 3 * (VALUES + 1) + 1, dtype=np.float64).reshape(3, VALUES + 1) % 7 + 1
    bank = TableBank(0, np.stack([quantize_pmf(w) for w in weights]))  # from exact integer weights
    data = encode_steps(np.array([0, 5, 11, 3, 3]), np.array([0, 1, 2, 2, 0]), bank)
    assert data.hex() == "fdb9022502030000"
    assert encode_steps(np.zeros(0, np.int64), np.zeros(0, np.int64), bank) == b""


def test_long_streams_cross_the_encoders_block_boundary() -> None:
    values = _markov(20_000, seed=4)
    bank = _context_tables(values, 1)
    symbols, ids = _stepwise(values, 1)
    assert np.array_equal(_decode(encode_steps(symbols, ids, bank), symbols.size, 1, bank), symbols)


def test_invalid_banks_and_symbols_are_refused() -> None:
    good = quantize_pmf(np.ones(4))
    with pytest.raises(ValueError):
        TableBank(0, good)  # 1-D
    with pytest.raises(ValueError):
        TableBank(0, np.stack([good, good[::-1] + np.array([0, 0, 0, 1])]))  # a row off the total
    with pytest.raises(ValueError):
        TableBank(0, np.stack([good, np.array([TOTAL - 2, 1, 1, 0])]))  # a zero frequency
    with pytest.raises(ValueError):
        TableBank(0, np.stack([good]).astype(np.float64))
    bank = TableBank(0, np.stack([good]))
    with pytest.raises(ValueError):
        encode_steps(np.array([3]), np.array([0]), bank)  # the escape entry is not a value
    with pytest.raises(ValueError):
        encode_steps(np.array([1]), np.array([1]), bank)  # no such table
    with pytest.raises(ValueError):
        encode_steps(np.array([1, 2]), np.array([0]), bank)


def test_damaged_streams_raise_format_error() -> None:
    values = _markov(400, seed=2)
    bank = _context_tables(values, 1)
    symbols, ids = _stepwise(values, 1)
    data = encode_steps(symbols, ids, bank)
    for bad in (data[:-4], data[4:], b"", b"\x00" * 3, data + b"\x01\x00\x00\x00"):
        with pytest.raises(FormatError):
            _decode(bad, symbols.size, 1, bank)
    with pytest.raises(FormatError):  # data where no symbol is expected
        decode_steps(data, 3, lambda step, prev: np.zeros(0, np.int64), bank)
    rng = np.random.default_rng(0)
    failures = 0
    for _ in range(200):  # random words: never a crash, and the check value catches nearly all
        noise = rng.integers(1, 2**32, size=8, dtype=np.uint64).astype("<u4").tobytes()
        try:
            _decode(noise, 50, 1, bank)
        except FormatError:
            failures += 1
    assert failures >= 195


def test_an_escape_in_a_stream_is_format_error() -> None:
    heavy_escape = np.array([1, 1, TOTAL - 2])  # two values and an escape that takes nearly all
    bank = TableBank(0, np.stack([heavy_escape]))
    noise = np.array([0x12345678, 0x9ABCDEF0], dtype="<u4").tobytes()
    with pytest.raises(FormatError, match="escape"):
        decode_steps(noise, 1, lambda step, prev: np.zeros(1, np.int64), bank)
