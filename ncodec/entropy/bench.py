"""Throughput and overhead of the entropy layer, for ``ncodec bench``.

Speed is reported as the median over repeats (the minimum flatters, the mean is hostage to one
hiccup), after a warm-up call so that building the cached tables is not counted. Overhead compares
the coded size with the ideal information content under the very integer tables that were coded
with, so it measures the coder alone (ANS rounding, final state flush, end check), not the model.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from . import CODER_ID
from .gaussian import decode_gaussian, encode_gaussian, gaussian_information_bits, scale_to_index
from .parametric import HEADER_BYTES, decode_weights, encode_weights, weights_information_bits
from .table import FrequencyTable, decode_tables, encode_tables, table_information_bits


def _median_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _gaussian_data(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Latent-like residuals: log-uniform scales over the useful range, Gaussian values, and a
    heavy tail on 0.01 % of them (escapes) as a trained model's residuals have."""
    scales = np.exp(rng.uniform(np.log(0.11), np.log(32.0), n))
    symbols = np.rint(rng.normal(0.0, scales)).astype(np.int64)
    outliers = rng.random(n) < 1e-4
    symbols[outliers] = np.rint(rng.laplace(0.0, 2000.0, int(outliers.sum())))
    return symbols.astype(np.int32), scale_to_index(scales)


def _table_data(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, list[FrequencyTable]]:
    """A factorized prior: 192 channels of discretised logistics, symbols laid out as (C, H*W)."""
    channels = 192
    widths = np.exp(rng.uniform(np.log(0.3), np.log(8.0), channels))
    tables = []
    for w in widths:
        radius = int(np.ceil(20 * w))
        edges = np.arange(-radius - 0.5, radius + 1.5)
        cdf = 1.0 / (1.0 + np.exp(-edges / w))
        tables.append(FrequencyTable.from_pmf(-radius, np.diff(cdf), escape_mass=2 * cdf[0]))
    ids = np.repeat(np.arange(channels), -(-n // channels))[:n]
    symbols = np.rint(rng.logistic(0.0, widths[ids])).astype(np.int32)
    return symbols, ids.astype(np.int32), tables


def _mode_result(n: int, repeats: int, encode: Callable[[], bytes], decode: Callable[[bytes], np.ndarray],
                 expected: np.ndarray, ideal_bits: float, header_bytes: int = 0) -> dict[str, Any]:
    data = encode()  # warm-up: builds and caches the tables
    if not np.array_equal(decode(data), expected):
        raise AssertionError("entropy bench: round trip mismatch")
    t_enc = _median_time(encode, repeats)
    t_dec = _median_time(lambda: decode(data), repeats)
    coded = len(data) - header_bytes
    ideal = ideal_bits / 8.0
    return {
        "symbols": n,
        "encode_symbols_per_s": n / t_enc if t_enc > 0 else None,
        "decode_symbols_per_s": n / t_dec if t_dec > 0 else None,
        "coded_bytes": coded,
        "ideal_bytes": ideal,
        "overhead_bytes": coded - ideal,
        "overhead_percent": 100.0 * (coded - ideal) / ideal if ideal > 0 else None,
        "bits_per_symbol": 8.0 * coded / n if n else None,
    }


def run_entropy_bench(n_symbols: int = 1_000_000, repeats: int = 3, seed: int = 0) -> dict[str, Any]:
    """Encode/decode speed (median of ``repeats``) and coded-vs-ideal overhead for each mode.

    Returns a JSON-serialisable dict: ``{"coder_id", "n_symbols", "repeats", "modes": {"gaussian",
    "table", "weights"}}``; each mode has symbols/s for encode and decode and the overhead in bytes
    and percent (the weights header is reported separately and excluded from the overhead).
    """
    if n_symbols < 1 or repeats < 1:
        raise ValueError("n_symbols and repeats must be >= 1")
    rng = np.random.default_rng(seed)
    n = int(n_symbols)

    g_sym, g_idx = _gaussian_data(rng, n)
    t_sym, t_ids, tables = _table_data(rng, n)
    w_sym = np.rint(rng.laplace(0.0, 4.0, n)).astype(np.int32)

    modes = {
        "gaussian": _mode_result(n, repeats, lambda: encode_gaussian(g_sym, g_idx),
                                 lambda d: decode_gaussian(d, g_idx), g_sym,
                                 gaussian_information_bits(g_sym, g_idx)),
        "table": _mode_result(n, repeats, lambda: encode_tables(t_sym, t_ids, tables),
                              lambda d: decode_tables(d, t_ids, tables), t_sym,
                              table_information_bits(t_sym, t_ids, tables)),
        "weights": _mode_result(n, repeats, lambda: encode_weights(w_sym),
                                lambda d: decode_weights(d, n), w_sym,
                                weights_information_bits(w_sym), header_bytes=HEADER_BYTES),
    }
    modes["weights"]["header_bytes"] = HEADER_BYTES
    return {"coder_id": CODER_ID, "n_symbols": n, "repeats": int(repeats), "modes": modes}


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(run_entropy_bench(), indent=2))
