"""Entropy layer: exact models, golden streams, escapes, overhead, malformed input, bench."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from ncodec.entropy import (
    CODER_ID,
    CODER_VERSION,
    NUM_SCALES,
    PRECISION,
    SCALE_TABLE,
    TOTAL,
    FrequencyTable,
    _core,
    decode_gaussian,
    decode_tables,
    decode_weights,
    encode_gaussian,
    encode_tables,
    encode_weights,
    gaussian,
    gaussian_information_bits,
    parametric,
    quantize_pmf,
    scale_to_index,
    table_digest,
    table_information_bits,
    weights_information_bits,
)
from ncodec.entropy.bench import run_entropy_bench
from ncodec.errors import FormatError

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

# Pinned: any change in the tables or the coded bytes is a format change (bump CODER_VERSION).
GOLDEN_TABLE_DIGEST = "79d141cd230d9614b9264bc5e957ac0f3f080bffc617e82d251f56b50c277ac4"
GOLDEN_GAUSSIAN_HEX = "00ffffff3f61fe00bcfe7fb7ffffff3ee9ffffff77ec5fdb1e6a0c00"
GOLDEN_TABLES_HEX = "f49866669e8408b8dc000000"
GOLDEN_WEIGHTS_HEX = "01000000cdcc9c40ee585c04ef1b805659000000"


def _golden_tables() -> list[FrequencyTable]:
    return [FrequencyTable.from_pmf(-2, np.array([1, 2, 4, 2, 1]), escape_mass=0.5),
            FrequencyTable.from_pmf(0, np.array([5, 3, 1, 1]))]


# ------------------------------------------------------------------------------------------------
# Exactness of the models handed to constriction


def _probe_decoded_symbol(model: object, quantile: int) -> int:
    """Decode one symbol from a coder whose state's low 24 bits equal ``quantile``."""
    import constriction

    coder = constriction.stream.stack.AnsCoder(np.array([quantile, quantile], dtype=np.uint32))
    return int(coder.decode(model))


@pytest.mark.parametrize("freqs", [
    pytest.param(gaussian.gaussian_tables()[20][1], id="gaussian-20"),
    pytest.param(quantize_pmf(np.random.default_rng(3).dirichlet(np.full(300, 0.2))), id="random-300"),
])
def test_constriction_codes_exactly_the_integer_table(freqs: np.ndarray) -> None:
    """Every cdf boundary of the coded model sits exactly where the integer table puts it."""
    model = _core.exact_categorical(np.asarray(freqs, dtype=np.int64))
    cdf = np.concatenate([[0], np.cumsum(freqs)])
    for i in range(1, len(freqs)):
        if cdf[i] - 1 > 0:
            assert _probe_decoded_symbol(model, int(cdf[i]) - 1) == i - 1
        assert _probe_decoded_symbol(model, int(cdf[i])) == i


def test_quantize_pmf_basic_properties() -> None:
    q = quantize_pmf(np.array([0.0, 1e-30, 0.5, 0.5, 3.0]), 10)
    assert q.sum() == 1024 and q.min() >= 1 and q.dtype == np.int64
    assert np.array_equal(q, quantize_pmf(np.array([0.0, 1e-30, 0.5, 0.5, 3.0]), 10))
    assert np.array_equal(quantize_pmf(np.ones(4), 2), [1, 1, 1, 1])
    assert np.array_equal(quantize_pmf(np.array([5e-324, 5e-324, 0.0]), 4), [8, 7, 1])  # subnormal
    for bad in (np.zeros(3), np.array([1.0, -1.0]), np.array([np.nan, 1.0]), np.array([]), np.ones((2, 2))):
        with pytest.raises(ValueError):
            quantize_pmf(bad)
    with pytest.raises(ValueError):
        quantize_pmf(np.ones(5), 2)


def test_frequency_table_validation() -> None:
    good = quantize_pmf(np.ones(4))
    FrequencyTable(0, good)
    with pytest.raises(ValueError):
        FrequencyTable(0, good[:-1])  # wrong total
    with pytest.raises(ValueError):
        FrequencyTable(0, np.array([TOTAL - 1, 1, 0]))  # a zero frequency
    with pytest.raises(ValueError):
        FrequencyTable(0, good.astype(np.float64))
    with pytest.raises(ValueError):
        FrequencyTable(INT32_MAX - 1, good)  # range leaves int32
    with pytest.raises(ValueError):
        FrequencyTable(0, np.array([TOTAL]))  # no escape entry
    t = FrequencyTable(INT32_MAX - 2, good)
    assert (t.offset, t.max_value) == (INT32_MAX - 2, INT32_MAX)
    assert t == FrequencyTable(INT32_MAX - 2, good.copy()) and np.isclose(t.probabilities().sum(), 1.0)


# ------------------------------------------------------------------------------------------------
# Gaussian tables and scale indices


def test_scale_table_literals_match_formula() -> None:
    formula = np.exp(np.linspace(np.log(0.11), np.log(256), 64))
    np.testing.assert_allclose(SCALE_TABLE, formula, rtol=1e-14)
    assert len(SCALE_TABLE) == NUM_SCALES == 64


def test_table_digest_is_pinned() -> None:
    assert table_digest() == GOLDEN_TABLE_DIGEST


def test_gaussian_tables_shape() -> None:
    for i, (radius, freqs) in enumerate(gaussian.gaussian_tables()):
        assert radius == max(1, int(np.ceil(8 * SCALE_TABLE[i])))
        assert freqs.size == 2 * radius + 2 and freqs.sum() == TOTAL and freqs.min() >= 1
        assert freqs[radius] >= freqs.max() - 1  # the mode is zero, up to one unit of rounding
        assert np.abs(freqs[:radius][::-1] - freqs[radius + 1:-1]).max() <= 1  # symmetric, likewise
    assert gaussian.gaussian_tables()[-1][0] == 2048


def test_scale_to_index_rule() -> None:
    assert scale_to_index(SCALE_TABLE).tolist() == list(range(64))  # an exact entry is its own index
    mid = np.sqrt(SCALE_TABLE[:-1] * SCALE_TABLE[1:])  # geometric midpoints between entries
    assert scale_to_index(mid).tolist() == list(range(63))  # a midpoint itself goes down
    assert scale_to_index(np.nextafter(mid, np.inf)).tolist() == list(range(1, 64))  # just above goes up
    assert scale_to_index(SCALE_TABLE * 1.05).tolist() == list(range(64))  # nearest in log, not round up
    assert scale_to_index(np.array([-1.0, 0.0, 0.05, 0.11, 300.0, np.inf])).tolist() == [0, 0, 0, 0, 63, 63]
    out = scale_to_index(np.full((2, 3), 1.0, dtype=np.float32))
    assert out.shape == (2, 3) and out.dtype == np.int32
    with pytest.raises(ValueError):
        scale_to_index(np.array([1.0, np.nan]))


# ------------------------------------------------------------------------------------------------
# Golden streams


def test_golden_gaussian_bytes() -> None:
    sym = np.array([0, 1, -1, 3, -7, 100, INT32_MAX, INT32_MIN], dtype=np.int32)
    idx = np.array([0, 5, 10, 20, 30, 40, 50, 63], dtype=np.int32)
    data = encode_gaussian(sym, idx)
    assert data.hex() == GOLDEN_GAUSSIAN_HEX
    assert np.array_equal(decode_gaussian(data, idx), sym)


def test_golden_table_bytes() -> None:
    tables = _golden_tables()
    assert tables[0].freqs.tolist() == [1597831, 3195660, 6391319, 3195660, 1597830, 798916]
    sym = np.array([[-2, 0, 5], [0, 3, -9]])
    ids = np.array([[0, 0, 0], [1, 1, 1]])
    data = encode_tables(sym, ids, tables)
    assert data.hex() == GOLDEN_TABLES_HEX
    assert np.array_equal(decode_tables(data, ids, tables), sym)


def test_golden_weights_bytes() -> None:
    q = np.array([0, 1, -2, 3, 0, 0, -1, 40, 0, 2], dtype=np.int32)
    data = encode_weights(q)
    assert data.hex() == GOLDEN_WEIGHTS_HEX
    assert np.array_equal(decode_weights(data, q.size), q)


def test_coder_id() -> None:
    assert CODER_VERSION == 1 and CODER_ID == "ans32-p24-esc-v1" and PRECISION == 24


# ------------------------------------------------------------------------------------------------
# Escapes and edge cases


def test_escapes_cover_full_int32_range() -> None:
    extremes = np.array([INT32_MAX, INT32_MIN, INT32_MAX - 1, INT32_MIN + 1, 2049, -2049, 1 << 16,
                         -(1 << 16) - 1, (1 << 17) + 12345, 0], dtype=np.int32)
    for index in (0, 31, 63):
        idx = np.full(extremes.shape, index, dtype=np.int32)
        assert np.array_equal(decode_gaussian(encode_gaussian(extremes, idx), idx), extremes)
    for offset in (INT32_MIN, -3, INT32_MAX - 3):
        tables = [FrequencyTable(offset, quantize_pmf(np.ones(5)))]
        ids = np.zeros(extremes.shape, dtype=np.int32)
        assert np.array_equal(decode_tables(encode_tables(extremes, ids, tables), ids, tables), extremes)
    assert np.array_equal(decode_weights(encode_weights(extremes), extremes.size), extremes)


def test_escape_information_bits() -> None:
    table = FrequencyTable(0, np.array([TOTAL // 2, TOTAL // 4, TOTAL // 4]))  # values 0, 1; escape
    ids = np.zeros(4, dtype=np.int32)
    # 0: 1 bit; 1: 2 bits; 2 and -1 escape (2 bits) at distance d=0: side 1 bit + length L=0 + 0 mantissa
    length0 = PRECISION - np.log2(_core.ESCAPE_LENGTH_FREQS[0])
    expected = 1 + 2 + 2 * (2 + 1 + length0)
    bits = table_information_bits(np.array([0, 1, 2, -1]), ids, [table])
    assert bits == pytest.approx(expected, rel=1e-12)


def test_empty_inputs() -> None:
    for shape in [(0,), (0, 3), (2, 0, 4)]:
        idx = np.zeros(shape, dtype=np.int32)
        assert encode_gaussian(idx, idx) == b""
        out = decode_gaussian(b"", idx)
        assert out.shape == shape and out.dtype == np.int32
        tables = _golden_tables()
        assert encode_tables(idx, idx, tables) == b""
        assert decode_tables(b"", idx, tables).shape == shape
        assert gaussian_information_bits(idx, idx) == 0.0
    w = encode_weights(np.zeros(0, dtype=np.int32))
    assert len(w) == parametric.HEADER_BYTES and decode_weights(w, 0).shape == (0,)
    assert weights_information_bits(np.zeros(0, dtype=np.int32)) == 0.0


def test_all_lowest_symbols_still_cost_a_word() -> None:
    """Without the end check this message would encode to zero bytes, indistinguishable from b''."""
    tables = [FrequencyTable(0, quantize_pmf(np.ones(3)))]
    ids = np.zeros(5, dtype=np.int32)
    data = encode_tables(np.zeros(5, dtype=np.int32), ids, tables)
    assert len(data) >= 4
    assert np.array_equal(decode_tables(data, ids, tables), np.zeros(5))
    with pytest.raises(FormatError):
        decode_tables(b"", ids, tables)


def test_misuse_raises_value_error() -> None:
    idx = np.zeros(3, dtype=np.int32)
    with pytest.raises(ValueError):
        encode_gaussian(np.zeros(4, dtype=np.int32), idx)  # shape mismatch
    with pytest.raises(ValueError):
        encode_gaussian(np.zeros(3), idx)  # float symbols
    with pytest.raises(ValueError):
        encode_gaussian(np.array([0, 0, 2**31]), idx)  # outside int32
    with pytest.raises(ValueError):
        encode_gaussian(np.zeros(3, dtype=np.int32), np.array([0, 64, 1]))
    with pytest.raises(ValueError):
        decode_gaussian(b"", np.array([-1]))
    with pytest.raises(ValueError):
        encode_tables(np.zeros(3, dtype=np.int32), np.array([0, 1, 2]), _golden_tables())
    with pytest.raises(ValueError):
        encode_tables(np.zeros(3, dtype=np.int32), idx, [])
    with pytest.raises(ValueError):
        decode_weights(encode_weights(idx), -1)
    with pytest.raises(TypeError):
        decode_gaussian("abcd", idx)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------
# Overhead: a property of the coder, asserted on ~200k symbols


def test_overhead_within_a_tenth_of_a_percent() -> None:
    rng = np.random.default_rng(7)
    n = 200_000
    scales = np.exp(rng.uniform(np.log(0.11), np.log(40.0), n))
    sym = np.rint(rng.normal(0.0, scales)).astype(np.int32)
    sym[::5000] = 10_000  # some escapes
    idx = scale_to_index(scales)
    data = encode_gaussian(sym, idx)
    assert len(data) <= gaussian_information_bits(sym, idx) / 8 * 1.001 + 16

    tables = [FrequencyTable.from_pmf(-20, np.exp(-np.abs(np.arange(-20, 21)) / w)) for w in (0.5, 2.0, 6.0)]
    ids = rng.integers(0, 3, n).astype(np.int32)
    tsym = np.rint(rng.laplace(0.0, np.array([0.5, 2.0, 6.0])[ids])).astype(np.int32)
    data = encode_tables(tsym, ids, tables)
    assert len(data) <= table_information_bits(tsym, ids, tables) / 8 * 1.001 + 16

    q = np.rint(rng.laplace(0.0, 3.0, n)).astype(np.int32)
    data = encode_weights(q)
    body = len(data) - parametric.HEADER_BYTES
    assert body <= weights_information_bits(q) / 8 * 1.001 + 16


def test_weights_pick_the_better_family() -> None:
    rng = np.random.default_rng(11)
    lap = np.rint(rng.laplace(0.0, 5.0, 20_000)).astype(np.int32)
    gau = np.rint(rng.normal(0.0, 5.0, 20_000)).astype(np.int32)
    assert parametric.fit_weights_model(lap)[0] == parametric.LAPLACE
    assert parametric.fit_weights_model(gau)[0] == parametric.GAUSSIAN
    assert encode_weights(gau)[1] == parametric.GAUSSIAN


# ------------------------------------------------------------------------------------------------
# Malformed input


def _valid_gaussian_stream(n: int = 500) -> tuple[bytes, np.ndarray]:
    rng = np.random.default_rng(5)
    idx = rng.integers(0, 64, n).astype(np.int32)
    sym = np.rint(rng.normal(0.0, SCALE_TABLE[idx])).astype(np.int32)
    return encode_gaussian(sym, idx), idx


def test_random_bytes_raise_format_error() -> None:
    rng = np.random.default_rng(1)
    _, idx = _valid_gaussian_stream()
    tables = _golden_tables()
    for trial in range(150):
        data = rng.bytes(4 * int(rng.integers(0, 64)))
        with pytest.raises(FormatError):
            decode_gaussian(data, idx)
        with pytest.raises(FormatError):
            decode_tables(data, np.zeros(trial + 1, dtype=np.int32), tables)


def test_truncated_or_misaligned_streams_raise_format_error() -> None:
    data, idx = _valid_gaussian_stream()
    assert len(data) > 40
    for cut in range(4, len(data), 4):
        with pytest.raises(FormatError):
            decode_gaussian(data[:cut], idx)  # tail dropped
        with pytest.raises(FormatError):
            decode_gaussian(data[cut:], idx)  # head dropped
    for extra in (1, 2, 3):
        with pytest.raises(FormatError):
            decode_gaussian(data[:-extra], idx)
        with pytest.raises(FormatError):
            decode_gaussian(data + b"\x01" * extra, idx)
    with pytest.raises(FormatError):
        decode_gaussian(data + b"\x01\x00\x00\x00", idx)  # trailing word
    with pytest.raises(FormatError):
        decode_gaussian(data[:-4] + b"\x00\x00\x00\x00", idx)  # zero last word
    with pytest.raises(FormatError):
        decode_gaussian(data, np.zeros(0, dtype=np.int32))  # data but no symbols


def test_bit_flips_never_crash() -> None:
    """ANS cannot detect every flip (the container's CRC does); the decoder must still be safe."""
    data, idx = _valid_gaussian_stream()
    rng = np.random.default_rng(2)
    for _ in range(100):
        buf = bytearray(data)
        pos = int(rng.integers(0, len(buf)))
        buf[pos] ^= 1 << int(rng.integers(0, 8))
        try:
            out = decode_gaussian(bytes(buf), idx)
        except FormatError:
            continue
        assert out.shape == idx.shape and out.dtype == np.int32


def test_weights_header_is_validated() -> None:
    q = np.array([0, 1, -1, 5], dtype=np.int32)
    data = encode_weights(q)
    body = data[parametric.HEADER_BYTES:]
    header = struct.Struct("<BBHf")
    bad_headers = [
        header.pack(2, 0, 0, 1.0),  # version
        header.pack(1, 2, 0, 1.0),  # family
        header.pack(1, 0, 1, 1.0),  # reserved
        header.pack(1, 0, 0, float("nan")),
        header.pack(1, 0, 0, float("inf")),
        header.pack(1, 0, 0, 0.0),
        header.pack(1, 0, 0, -1.0),
        header.pack(1, 0, 0, 1e9),
    ]
    for h in bad_headers:
        with pytest.raises(FormatError):
            decode_weights(h + body, q.size)
    for cut in range(parametric.HEADER_BYTES):
        with pytest.raises(FormatError):
            decode_weights(data[:cut], q.size)
    with pytest.raises(FormatError):
        decode_weights(data + b"\x00", q.size)
    rng = np.random.default_rng(4)
    for _ in range(50):
        with pytest.raises(FormatError):
            decode_weights(data[:parametric.HEADER_BYTES] + rng.bytes(8), 1000)


# ------------------------------------------------------------------------------------------------
# Benchmark


def test_bench_returns_json_serialisable_dict() -> None:
    result = run_entropy_bench(n_symbols=3000, repeats=1)
    json.dumps(result)
    assert set(result["modes"]) == {"gaussian", "table", "weights"}
    for mode in result["modes"].values():
        assert mode["encode_symbols_per_s"] > 0 and mode["decode_symbols_per_s"] > 0
        assert 0 <= mode["overhead_bytes"] < 64
