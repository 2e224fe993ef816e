"""Property-based round trips of every entropy-coding mode, escapes and empty inputs included."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ncodec.entropy import (
    FrequencyTable,
    decode_gaussian,
    decode_tables,
    decode_weights,
    encode_gaussian,
    encode_tables,
    encode_weights,
    gaussian_information_bits,
    quantize_pmf,
    table_information_bits,
)
from ncodec.errors import FormatError

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

# Mostly small values (the common case), with in-between and extreme values that must escape.
values = st.one_of(
    st.integers(-8, 8),
    st.integers(-5000, 5000),
    st.integers(INT32_MIN, INT32_MAX),
    st.sampled_from([INT32_MIN, INT32_MAX, INT32_MIN + 1, INT32_MAX - 1]),
)
shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=12)
PROPS = settings(max_examples=60, deadline=None)


@st.composite
def symbols_and_ids(draw: st.DrawFn, n_ids: int) -> tuple[np.ndarray, np.ndarray]:
    shape = draw(shapes)
    sym = draw(hnp.arrays(np.int32, shape, elements=values))
    ids = draw(hnp.arrays(np.int32, shape, elements=st.integers(0, n_ids - 1)))
    return sym, ids


@st.composite
def frequency_tables(draw: st.DrawFn) -> FrequencyTable:
    size = draw(st.integers(1, 40))
    offset = draw(st.one_of(st.integers(-50, 50), st.integers(INT32_MIN, INT32_MAX - size)))
    weights = draw(st.lists(st.floats(0.0, 1e6), min_size=size + 1, max_size=size + 1))
    if sum(weights) == 0:
        weights[0] = 1.0
    return FrequencyTable(offset, quantize_pmf(np.array(weights)))


@PROPS
@given(symbols_and_ids(64))
def test_gaussian_round_trip(case: tuple[np.ndarray, np.ndarray]) -> None:
    sym, idx = case
    data = encode_gaussian(sym, idx)
    out = decode_gaussian(data, idx)
    assert out.shape == sym.shape and out.dtype == np.int32
    assert np.array_equal(out, sym)
    assert len(data) % 4 == 0 and (sym.size > 0 or data == b"")
    # ANS can end up to one 32-bit word below the information content: its initial state is implicit.
    assert len(data) * 8 + 32 >= gaussian_information_bits(sym, idx)


@PROPS
@given(st.lists(frequency_tables(), min_size=1, max_size=5), st.data())
def test_tables_round_trip(tables: list[FrequencyTable], data: st.DataObject) -> None:
    sym, ids = data.draw(symbols_and_ids(len(tables)))
    coded = encode_tables(sym, ids, tables)
    out = decode_tables(coded, ids, tables)
    assert out.shape == sym.shape and np.array_equal(out, sym)
    # As for the Gaussian mode: up to one 32-bit word below the information content, never more.
    assert len(coded) * 8 + 32 >= table_information_bits(sym, ids, tables)


@PROPS
@given(st.one_of(
    hnp.arrays(np.int32, st.integers(0, 300), elements=values),
    hnp.arrays(np.int32, st.integers(0, 300), elements=st.integers(-3, 3)),
))
def test_weights_round_trip(q: np.ndarray) -> None:
    out = decode_weights(encode_weights(q), q.size)
    assert out.dtype == np.int32 and np.array_equal(out, q)


@PROPS
@given(st.lists(st.floats(0.0, 1e300), min_size=1, max_size=200).filter(lambda w: sum(w) > 0),
       st.integers(8, 24))
def test_quantize_pmf_is_exact(weights: list[float], bits: int) -> None:
    q = quantize_pmf(np.array(weights), bits)
    assert q.sum() == 1 << bits and q.min() >= 1 and q.size == len(weights)


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=64), st.integers(1, 50))
def test_decoders_never_crash_on_arbitrary_bytes(blob: bytes, n: int) -> None:
    """Arbitrary input yields FormatError or, at worst, an int32 array of the right shape."""
    idx = np.arange(n, dtype=np.int32) % 64
    table = FrequencyTable(-3, quantize_pmf(np.ones(8)))
    for decode in (lambda: decode_gaussian(blob, idx), lambda: decode_tables(blob, idx % 1, [table]),
                   lambda: decode_weights(blob, n)):
        try:
            out = decode()
        except FormatError:
            continue
        assert out.dtype == np.int32 and out.size == n
