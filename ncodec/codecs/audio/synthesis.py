"""Log-magnitudes to samples, identically on every CPU: exp, phase vocoder, inverse STFT.

The decoder network predicts STFT log-magnitudes; this module turns them into a waveform with the
arithmetic rules of :mod:`ncodec.exactmath`: magnitudes through its exp, phases from the group-delay
phase vocoder (:mod:`.phase`, elementwise +, -, *, / and comparisons only), cos and sin from its
table, and the inverse real DFT as two half-size matrix products of grid values with
integer-scaled twiddles, whose sums are exact in any order. The result matches ``torch.istft`` to
about 1.4e-5 of the signal's peak (measured on random spectra; tests/test_audio_exact.py) but,
unlike it (MKL's or pocketfft's FFT, chosen per CPU), gives the same bits everywhere.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from ncodec import exactmath

from .phase import PHASE_GROUP_DELAY, peak_locked_phase

SPECTRUM_BITS = 18  # real and imaginary parts on a grid of 2**-18 ...
SPECTRUM_LIMIT = 2.0**9  # ... at most e**6 (the head's ceiling) < 2**9 in magnitude
TWIDDLE_BITS = 15
COLUMN_BUDGET = 2**25  # sum over a DFT column of |twiddle| * 2**15: 2**27 * 2**25 units = 2**52


@lru_cache(maxsize=4)
def inverse_dft_matrices(n_fft: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine and sine matrices (bins, n_fft/2 + 1) of the inverse real DFT's first half.

    With ``C = Re X @ cos`` and ``S = Im X @ sin``, ``n_fft * irfft(X)[n] = C[n] - S[n]`` and
    ``n_fft * irfft(X)[n_fft - n] = C[n] + S[n]``: a quarter of the multiply-adds of the full
    matrix. Entries are integers times ``2**-TWIDDLE_BITS`` (the 2 of the one-sided sum included),
    so products with grid-valued spectra sum exactly, and so do ``C - S`` and ``C + S``.
    """
    bins = n_fft // 2 + 1
    k, n = np.meshgrid(np.arange(bins), np.arange(bins), indexing="ij")
    cos, sin = exactmath.cos_sin_of_turns(k * n, n_fft)
    weight = np.where((np.arange(bins) == 0) | (np.arange(bins) == n_fft // 2), 1.0, 2.0)[:, None]
    scale = 2.0**TWIDDLE_BITS
    cos_m = weight * np.round(cos * scale) / scale
    sin_m = weight * np.round(sin * scale) / scale
    sin_m[0] = 0.0
    sin_m[-1] = 0.0
    if float((np.abs(cos_m) + np.abs(sin_m)).sum(axis=0).max()) * scale > COLUMN_BUDGET:
        raise ValueError("inverse DFT columns exceed the exact-sum budget")
    return torch.from_numpy(cos_m), torch.from_numpy(sin_m)


@lru_cache(maxsize=4)
def hann_window(n_fft: int) -> np.ndarray:
    """The periodic Hann window (``torch.hann_window``'s), from :mod:`ncodec.exactmath`'s cos."""
    cos, _ = exactmath.cos_sin_of_turns(np.arange(n_fft), n_fft)
    return 0.5 - 0.5 * cos


def inverse_stft(real: np.ndarray, imag: np.ndarray, n_fft: int, hop: int, length: int) -> np.ndarray:
    """``torch.istft(..., center=True, length=length)`` of a Hann-windowed spectrum (bins, frames)."""
    if n_fft % hop:
        raise ValueError("the hop must divide the FFT size")
    frames = real.shape[1]
    spectrum = torch.cat([torch.from_numpy(np.ascontiguousarray(real, dtype=np.float64)),
                          torch.from_numpy(np.ascontiguousarray(imag, dtype=np.float64))])
    spectrum = exactmath.to_grid(spectrum, SPECTRUM_BITS, SPECTRUM_LIMIT)
    cos_m, sin_m = inverse_dft_matrices(n_fft)
    bins = n_fft // 2 + 1
    c = spectrum[:bins].t() @ cos_m  # (frames, bins): exact sums
    s = spectrum[bins:].t() @ sin_m
    half = (c - s).numpy()
    mirrored = (c + s).numpy()[:, 1:bins - 1][:, ::-1]
    blocks = np.concatenate([half, mirrored], axis=1) / n_fft  # (frames, n_fft)
    window = hann_window(n_fft)
    overlaps = n_fft // hop
    signal = np.zeros((frames + overlaps - 1, hop))
    envelope = np.zeros((frames + overlaps - 1, hop))
    windowed = (blocks * window).reshape(frames, overlaps, hop)
    square = (window * window).reshape(overlaps, hop)
    for r in range(overlaps):  # a fixed order of additions
        signal[r:r + frames] += windowed[:, r]
        envelope[r:r + frames] += square[r]
    start = n_fft // 2
    signal = signal.reshape(-1)[start:start + length]
    envelope = envelope.reshape(-1)[start:start + length]
    out = np.zeros(length)
    out[: signal.size] = np.where(envelope > 1e-11, signal / np.where(envelope > 1e-11, envelope, 1.0), 0.0)
    return out


def synthesize(log_mag: np.ndarray, n_fft: int, hop: int, length: int,
               previous_phase: np.ndarray | None = None,
               phase_method: int = PHASE_GROUP_DELAY) -> tuple[np.ndarray, np.ndarray]:
    """Waveform (length,) float32 from log-magnitudes (bins, frames), and every frame's phase.

    The caller passes a frame's phase on as ``previous_phase`` to continue the signal coherently
    in the next window; ``phase_method`` is the file's (:data:`.phase.PHASE_METHODS`).
    """
    log_mag = np.asarray(log_mag, dtype=np.float64)
    mag = exactmath.exp(torch.from_numpy(log_mag)).numpy()
    phase = peak_locked_phase(log_mag, hop, n_fft, previous_phase, phase_method)
    cos, sin = exactmath.cos_sin_of_phase(phase)
    real, imag = mag * cos, mag * sin
    # the centred STFT's last frame, which the model does not predict, repeats the one before
    real = np.concatenate([real, real[:, -1:]], axis=1)
    imag = np.concatenate([imag, imag[:, -1:]], axis=1)
    return inverse_stft(real, imag, n_fft, hop, length).astype(np.float32), phase
