"""The audio decoder's exact arithmetic: elementary functions, sum bounds, and agreement with float."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ncodec import exactmath
from ncodec.codecs.audio.codec import AudioCodec
from ncodec.codecs.audio.exact import ExactDecoder, exactness_margin_bits, quantize_rows
from ncodec.codecs.audio.synthesis import inverse_dft_matrices, inverse_stft
from ncodec.registry import by_name, load_codec


def _codec() -> AudioCodec:
    codec, _ = load_codec(by_name("audio-rvq"))
    assert isinstance(codec, AudioCodec)
    return codec


def test_elementary_functions_are_accurate() -> None:
    x = torch.linspace(-40.0, 8.0, 20001, dtype=torch.float64)
    assert float(((exactmath.exp(x) - torch.exp(x)) / torch.exp(x)).abs().max()) < 1e-15
    y = torch.linspace(-12.0, 12.0, 20001, dtype=torch.float64)
    assert float((exactmath.erf(y) - torch.erf(y)).abs().max()) < 2e-7
    assert float((exactmath.gelu(y) - torch.nn.functional.gelu(y)).abs().max()) < 5e-7
    for n in (7, 640, 12800, exactmath.PHASE_STEPS):
        m = np.arange(-2 * n, 2 * n + 3)
        cos, sin = exactmath.cos_sin_of_turns(m, n)
        angle = 2 * np.pi * (m % n) / n
        assert np.abs(cos - np.cos(angle)).max() < 3e-15 and np.abs(sin - np.sin(angle)).max() < 3e-15


def test_elementary_functions_give_pinned_bits() -> None:
    """The same inputs give these exact float64 bits on every machine (the point of the module)."""
    x = torch.tensor([-7.25, -0.5, 0.0, 0.3, 1.0, 5.75], dtype=torch.float64)
    got = [float(v).hex() for v in (*exactmath.exp(x), *exactmath.gelu(x))]
    cos, sin = exactmath.cos_sin_of_turns(np.array([1, 77, 161, 500]), 640)
    got += [float(v).hex() for v in (*cos, *sin)]
    assert got == PINNED_BITS


PINNED_BITS = [
    "0x1.7455fe323fafep-11",
    "0x1.368b2fc6f960ap-1",
    "0x1.0000000000000p+0",
    "0x1.599058c8c1a96p+0",
    "0x1.5bf0a8b14576ap+1",
    "0x1.3a30cf1ccbb3ep+8",
    "-0x1.ac6e000000000p-40",
    "-0x1.3bf143a0c15c0p-3",
    "0x0.0p+0",
    "0x1.7ba50b4ce7423p-3",
    "0x1.aec4bcbd00e4ep-1",
    "0x1.6fffffe45e327p+2",
    "0x1.fff9aefa1cda6p-1",
    "0x1.748b046f1d564p-1",
    "-0x1.41b1a4be64a17p-7",
    "0x1.8f8b83c69a60ap-3",
    "0x1.41b1a4be64a17p-7",
    "0x1.5f38645b9ad52p-1",
    "0x1.fff9aefa1cda6p-1",
    "-0x1.f6297cff75cb0p-1",
]


def test_grid_rounding_is_exact_and_clamped() -> None:
    x = torch.tensor([0.1, -3.0e9, 3.0e9, 2.0**-17, 3 * 2.0**-17], dtype=torch.float64)
    got = exactmath.to_grid(x, 16, 2.0**11)
    assert got.tolist() == [round(0.1 * 2**16) / 2**16, -(2.0**11), 2.0**11, 0.0, 2 * 2.0**-16]


def test_weight_rows_stay_within_the_exact_sum_budget() -> None:
    """Every layer's worst-case partial sum, read back from the stored weights, stays below 2**53."""
    decoder = _codec().decoder
    assert exactness_margin_bits(decoder) >= 1.0
    wide = torch.full((2, 4096), 3.0)
    assert torch.equal(quantize_rows(wide), wide)  # representable rows are kept as they are
    rows = quantize_rows(torch.randn(8, 768, generator=torch.Generator().manual_seed(0)))
    assert float((rows.abs().sum(1) * 2.0 ** torch.floor(torch.log2(2.0**25 / rows.abs().sum(1)))).max()) <= 2.0**25


def test_exact_decoder_agrees_with_the_float_network(speech: tuple[np.ndarray, int]) -> None:
    codec = _codec()
    samples, _ = speech
    x = torch.from_numpy(samples[:1, : 16000 * 3 // 320 * 320].astype(np.float32))
    for k in (3, 24):
        codes = codec.model.encode_codes(x, k)
        reference = codec.model.decode_log_magnitude(codes)[0].double()
        exact = codec.decoder.log_magnitude(codes[0])
        assert exact.shape == reference.shape
        assert float((exact - reference).abs().max()) < 1e-3


def test_exact_decoder_ignores_the_thread_count() -> None:
    decoder = ExactDecoder(_codec().model)
    codes = torch.randint(0, 1024, (6, 40), generator=torch.Generator().manual_seed(1))
    previous = torch.get_num_threads()
    try:
        outputs = []
        for threads in (1, 3):
            torch.set_num_threads(threads)
            outputs.append(decoder.log_magnitude(codes))
    finally:
        torch.set_num_threads(previous)
    assert torch.equal(outputs[0], outputs[1])


def test_inverse_stft_matches_torch() -> None:
    rng = np.random.default_rng(0)
    bins, frames, n_fft, hop = 321, 60, 640, 160
    mag = np.exp(rng.uniform(-12.0, 6.0, (bins, frames)) / 2)
    phase = rng.uniform(0.0, 2 * math.pi, (bins, frames))
    real, imag = mag * np.cos(phase), mag * np.sin(phase)
    length = (frames - 1) * hop
    window = torch.hann_window(n_fft, dtype=torch.float64)
    reference = torch.istft(torch.from_numpy(real + 1j * imag), n_fft, hop, window=window, center=True,
                            length=length).numpy()
    got = inverse_stft(real, imag, n_fft, hop, length)
    assert np.abs(got - reference).max() < 1e-4 * np.abs(reference).max()


def test_inverse_dft_columns_stay_within_the_exact_sum_budget() -> None:
    cos_m, sin_m = inverse_dft_matrices(640)
    for matrix in (cos_m, sin_m):
        assert torch.equal(torch.frac(matrix * 2.0**15), torch.zeros_like(matrix))
    # spectra: at most 2**9 on a 2**-18 grid; twiddles on a 2**-15 grid; C and S share a budget
    assert float((cos_m.abs() + sin_m.abs()).sum(0).max()) * 2.0**15 * 2.0**9 * 2.0**18 < 2.0**53


@pytest.mark.parametrize("n", [1, 3, 3200])
def test_cross_fade_ramp_rises_symmetrically(n: int) -> None:
    from ncodec.codecs.audio.codec import cross_fade_ramp

    ramp = cross_fade_ramp(n).astype(np.float64)
    assert np.all(np.diff(ramp) > 0) and np.allclose(ramp + ramp[::-1], 1.0, atol=1e-7)


def _tones(rate: int, seconds: float = 1.0) -> np.ndarray:
    """1 kHz and 6.5 kHz, from exactmath's sin so that the input too is the same on every machine."""
    i = np.arange(int(rate * seconds))
    return (0.5 * exactmath.cos_sin_of_turns(1000 * i, rate)[1] + 0.3 * exactmath.cos_sin_of_turns(6500 * i, rate)[1])[None]


@pytest.mark.parametrize("rate_out", [44100, 48000, 22050, 8000])
def test_exact_resampler_is_accurate_and_block_size_free(rate_out: int) -> None:
    from ncodec.media.exact_resample import ExactStreamResampler

    x = _tones(16000)
    whole = ExactStreamResampler(1, 16000, rate_out)
    y = np.concatenate([whole.push(x), whole.finish()], axis=1)
    pieces = ExactStreamResampler(1, 16000, rate_out)
    blocks = [pieces.push(x[:, i:i + 1237]) for i in range(0, x.shape[1], 1237)]
    assert np.array_equal(np.concatenate([*blocks, pieces.finish()], axis=1), y)
    n = round(x.shape[1] * rate_out / 16000)
    assert y.shape == (1, n)
    t = np.arange(n) / rate_out
    ideal = 0.5 * np.sin(2 * np.pi * 1000 * t) + (0.3 * np.sin(2 * np.pi * 6500 * t) if rate_out > 14000 else 0.0)
    middle = slice(n // 8, 7 * n // 8)  # away from the zeros before and after the signal
    assert np.abs(y[0, middle] - ideal[middle]).max() < 1e-5


def test_exact_resampler_gives_pinned_bits_and_passes_equal_rates_through() -> None:
    import hashlib

    from ncodec.media.exact_resample import ExactStreamResampler

    x = _tones(16000, 0.25)
    r = ExactStreamResampler(1, 16000, 44100)
    y = np.concatenate([r.push(x), r.finish()], axis=1)
    assert hashlib.sha256(y.tobytes()).hexdigest() == PINNED_RESAMPLED
    same = ExactStreamResampler(2, 16000, 16000)
    stereo = np.concatenate([x, -x]).astype(np.float32)
    assert np.array_equal(same.push(stereo), stereo) and same.finish().shape == (2, 0)


PINNED_RESAMPLED = "81672afdab477e3341920432ffea6510637c19dfc06e13d2f5a986f51686d8b0"


def test_the_resampling_filter_is_designed_in_chunks_with_small_temporaries() -> None:
    """The fuzzer grew a decoding process to 4 GB with files declaring rates like 15,999 Hz: each
    designed a 16,000-phase filter whole (about 300 MB of temporaries). Chunked, the table is the
    same and its temporaries stay small."""
    import tracemalloc

    from ncodec.media.exact_resample import ExactStreamResampler, phase_table

    design = ExactStreamResampler(1, 16000, 15999, tabulate=False)
    whole = design._coefficients(np.arange(design.up))
    phase_table.cache_clear()
    tracemalloc.start()
    try:
        table = phase_table(16000, 15999)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert np.array_equal(table, whole)
    assert peak < 64 * 2**20, f"{peak / 2**20:.0f} MB of temporaries"
    assert not table.flags.writeable  # shared by every resampler of this pair of rates


def test_a_damaged_stream_is_refused_before_any_filter_is_designed() -> None:
    from pathlib import Path

    from ncodec import api
    from ncodec.errors import FormatError
    from ncodec.media.exact_resample import phase_table

    data = (Path(__file__).resolve().parent / "fuzz_regressions" / "audio-odd-rate-filter-56a71d0bafec.nc").read_bytes()
    phase_table.cache_clear()
    with pytest.raises(FormatError):
        api.decode(data)
    assert phase_table.cache_info().misses == 0
