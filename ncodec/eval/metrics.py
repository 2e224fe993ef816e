"""Distortion metrics for images, audio and video, with conventions fixed once for every codec.

Every codec in an evaluation (ncodec's models and the classical baselines) is scored by the same
functions on the same reference, so a difference in a table is a difference between codecs, not
between metric implementations.

Conventions:

* **Image PSNR** is computed over all pixels and channels at once (one MSE per image, not an
  average of per-channel PSNRs), in float64, with the peak taken from the dtype: 255 for uint8,
  65535 for uint16. Identical images give ``inf``.
* **MS-SSIM** is pytorch_msssim's 5-scale MS-SSIM (11x11 Gaussian window, sigma 1.5, the standard
  weights) computed on the RGB channels at the image's own data range. Five scales need the
  shorter side to exceed 160 pixels; smaller images give ``nan`` rather than a score from fewer
  scales, because a 3-scale score is a different metric and would be averaged with 5-scale ones
  without anyone noticing. ``ms_ssim_db`` is ``-10 log10(1 - ms_ssim)``, the usual dB form.
* **Audio metrics** all score the mono downmix (:func:`ncodec.media.to_mono`) at the reference's
  sample rate; PESQ alone is computed at 16 kHz (wide-band PESQ is defined there) after resampling
  both signals with :func:`ncodec.media.resample`. A metric that cannot score an input (PESQ finds
  no utterance, STOI finds too few speech frames, a silent reference) returns ``nan``: "no score",
  never a fake number.
* **Video**: PSNR-RGB and PSNR-Y per frame, and their mean over frames (the convention of the
  video-coding common test conditions). Y is the BT.601 limited-range luma of
  :func:`ncodec.media.video.rgb_to_yuv420`, the module's one RGB->YUV convention, so Y for
  ncodec's output and for every baseline's output is derived the same way.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import numpy as np

#: Shorter image side needed by 5-scale MS-SSIM with an 11-tap window: (11 - 1) * 2**4 = 160, exclusive.
MS_SSIM_MIN_SIDE = 161

#: log-mel parameters: 80 bands, a 10 ms hop and a 40 ms Hann window (FFT size the next power of two).
N_MELS = 80
HOP_SECONDS = 0.010
WIN_SECONDS = 0.040
LOG_MEL_FLOOR = 1e-5

PESQ_RATE = 16_000


@contextmanager
def single_thread() -> Iterator[None]:
    """Run small torch ops on one thread, then restore the setting.

    The metrics' convolutions and STFTs are small; with several intra-op threads on a machine that
    is busy anyway they spend their time synchronising (measured: 1.8 s against 0.1 s for
    MS-SSIM of one Kodak image on two loaded cores). Scores do not depend on the thread count.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# --------------------------------------------------------------------------------------------------
# images


def _peak_for(arr: np.ndarray) -> float:
    if arr.dtype == np.uint8:
        return 255.0
    if arr.dtype == np.uint16:
        return 65535.0
    raise ValueError(f"pass peak= for pixels of dtype {arr.dtype} (only uint8 and uint16 imply one)")


def _check_same_shape(ref: np.ndarray, test: np.ndarray, what: str) -> None:
    if ref.shape != test.shape:
        raise ValueError(f"{what}: reference {ref.shape} and test {test.shape} differ in shape")


def mse(ref: np.ndarray, test: np.ndarray) -> float:
    """Mean squared error over every element, in float64 (uint8 differences would wrap)."""
    a = np.asarray(ref)
    b = np.asarray(test)
    _check_same_shape(a, b, "mse")
    diff = a.astype(np.float64) - b.astype(np.float64)
    return float(np.mean(diff * diff))


def psnr(ref: np.ndarray, test: np.ndarray, peak: float | None = None) -> float:
    """PSNR in dB of ``test`` against ``ref`` over all pixels and channels; ``inf`` when identical.

    ``peak`` defaults to the dtype's maximum (255 for uint8, 65535 for uint16): the peak is a
    property of the representation, so a 16-bit image is not scored as if it were 8-bit.
    """
    a = np.asarray(ref)
    if peak is None:
        peak = _peak_for(a)
    err = mse(a, test)
    if err == 0.0:
        return math.inf
    return 10.0 * math.log10(peak * peak / err)


def ms_ssim(ref: np.ndarray, test: np.ndarray, data_range: float | None = None) -> float:
    """5-scale MS-SSIM of two ``(H, W, C)`` (or ``(H, W)``) images; ``nan`` below 161 px (see module doc)."""
    a = np.asarray(ref)
    b = np.asarray(test)
    _check_same_shape(a, b, "ms_ssim")
    if data_range is None:
        data_range = _peak_for(a)
    if a.ndim == 2:
        a, b = a[:, :, None], b[:, :, None]
    if min(a.shape[0], a.shape[1]) < MS_SSIM_MIN_SIDE:
        return math.nan
    import torch
    from pytorch_msssim import ms_ssim as _ms_ssim

    def to_tensor(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).permute(2, 0, 1)[None].contiguous()

    with torch.no_grad(), single_thread():
        value = _ms_ssim(to_tensor(a), to_tensor(b), data_range=float(data_range), size_average=True)
    return float(value)


def ms_ssim_db(value: float) -> float:
    """MS-SSIM in dB, ``-10 log10(1 - value)``: spreads the crowded top of the scale for plots and BD-rate."""
    if math.isnan(value):
        return math.nan
    if value >= 1.0:
        return math.inf
    return -10.0 * math.log10(1.0 - value)


# --------------------------------------------------------------------------------------------------
# audio


def _mono(samples: np.ndarray) -> np.ndarray:
    from ncodec.media import audio

    return np.asarray(audio.to_mono(samples)[0], dtype=np.float64)


def _pair(ref: np.ndarray, est: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    a = _mono(ref)
    b = _mono(est)
    if a.shape != b.shape:
        raise ValueError(f"{what}: reference has {a.size} samples, estimate {b.size}; align them first")
    return a, b


def si_sdr(ref: np.ndarray, est: np.ndarray) -> float:
    """Scale-invariant SDR in dB (Le Roux et al. 2019) on zero-mean mono signals.

    ``inf`` when the estimate is an exact scaled copy of the reference (nothing left after the
    projection), ``nan`` for a silent reference (no target to project on).
    """
    a, b = _pair(ref, est, "si_sdr")
    a = a - a.mean()
    b = b - b.mean()
    energy = float(np.dot(a, a))
    if energy == 0.0:
        return math.nan
    alpha = float(np.dot(b, a)) / energy
    target = alpha * a
    noise = b - target
    noise_energy = float(np.dot(noise, noise))
    target_energy = float(np.dot(target, target))
    if noise_energy <= target_energy * 1e-30:  # float64 rounding noise of an exact scaled copy
        return math.inf
    if target_energy == 0.0:
        return -math.inf
    return 10.0 * math.log10(target_energy / noise_energy)


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


@lru_cache(maxsize=16)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int = N_MELS) -> np.ndarray:
    """Triangular mel filters ``(n_mels, n_fft // 2 + 1)`` on the HTK mel scale, 0 Hz to Nyquist.

    Each filter is normalised to unit area (Slaney's "norm"), so a band's output does not grow
    with its width: wide high-frequency bands do not dominate the distance.
    """
    freqs = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(np.array(0.0)), _hz_to_mel(np.array(sample_rate / 2.0)), n_mels + 2))
    bank = np.zeros((n_mels, freqs.size), dtype=np.float64)
    for i in range(n_mels):
        lo, mid, hi = edges[i], edges[i + 1], edges[i + 2]
        up = (freqs - lo) / max(mid - lo, 1e-12)
        down = (hi - freqs) / max(hi - mid, 1e-12)
        bank[i] = np.maximum(0.0, np.minimum(up, down)) * (2.0 / (hi - lo))
    bank.setflags(write=False)
    return bank


def stft_params(sample_rate: int) -> tuple[int, int, int]:
    """(n_fft, hop, window) for a rate: 10 ms hop, 40 ms window, FFT the next power of two."""
    hop = max(1, round(HOP_SECONDS * sample_rate))
    win = max(2, round(WIN_SECONDS * sample_rate))
    n_fft = 1 << (win - 1).bit_length()
    return n_fft, hop, win


def log_mel(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """log10 mel magnitude spectrogram ``(n_mels, frames)`` of the mono downmix (``torch.stft``)."""
    import torch

    x = _mono(samples)
    n_fft, hop, win = stft_params(int(sample_rate))
    if x.size < n_fft:  # too short for one frame: pad so that a tiny input still has a spectrum
        x = np.pad(x, (0, n_fft - x.size))
    window = torch.hann_window(win, dtype=torch.float64)
    with single_thread():
        spec = torch.stft(torch.from_numpy(x), n_fft=n_fft, hop_length=hop, win_length=win, window=window,
                          center=True, pad_mode="reflect" if x.size > n_fft // 2 else "constant",
                          return_complex=True)
        mag = spec.abs().numpy()
    mel = mel_filterbank(int(sample_rate), n_fft) @ mag
    return np.log10(np.maximum(mel, LOG_MEL_FLOOR))


def log_mel_distance(ref: np.ndarray, est: np.ndarray, sr: int) -> float:
    """Mean absolute difference of log10 mel magnitudes (80 bands, 10 ms hop); 0 when identical.

    Scores spectral envelope errors the way the ear's frequency resolution weighs them, and is
    insensitive to the phase differences that PESQ and SI-SDR punish in generative decoders.
    """
    _pair(ref, est, "log_mel_distance")
    return float(np.mean(np.abs(log_mel(ref, sr) - log_mel(est, sr))))


def pesq_wb(ref: np.ndarray, est: np.ndarray, sr: int) -> float:
    """Wide-band PESQ (ITU-T P.862.2, MOS-LQO 1.04..4.64) at 16 kHz; ``nan`` when PESQ cannot score."""
    from pesq import PesqError
    from pesq import pesq as _pesq

    from ncodec.media.audio import resample

    a, b = _pair(ref, est, "pesq_wb")
    if int(sr) != PESQ_RATE:
        a = resample(a.astype(np.float32), int(sr), PESQ_RATE).astype(np.float64)
        b = resample(b.astype(np.float32), int(sr), PESQ_RATE).astype(np.float64)
    if not np.any(a):
        return math.nan
    try:
        return float(_pesq(PESQ_RATE, a, b, "wb"))
    except PesqError:  # no utterance found, buffer too short, ...
        return math.nan


def stoi(ref: np.ndarray, est: np.ndarray, sr: int) -> float:
    """Short-time objective intelligibility (Taal et al., 0..1, pystoi); ``nan`` when too short to score."""
    from pystoi import stoi as _stoi

    a, b = _pair(ref, est, "stoi")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = float(_stoi(a, b, int(sr), extended=False))
    if any("Not enough STFT frames" in str(w.message) for w in caught):
        return math.nan  # pystoi returns a placeholder 1e-5 here, which is not a score
    return value


# --------------------------------------------------------------------------------------------------
# video


def _frames_pair(ref: np.ndarray, test: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(ref)
    b = np.asarray(test)
    if a.ndim != 4 or a.shape[-1] != 3:
        raise ValueError(f"{what}: expected (T, H, W, 3) frames, got {a.shape}")
    _check_same_shape(a, b, what)
    return a, b


def _mean_psnr(values: list[float]) -> float:
    return float(np.mean(values)) if values else math.nan


def psnr_rgb(ref: np.ndarray, test: np.ndarray) -> tuple[list[float], float]:
    """Per-frame PSNR over the three RGB channels, and its mean over frames."""
    a, b = _frames_pair(ref, test, "psnr_rgb")
    per_frame = [psnr(a[t], b[t]) for t in range(a.shape[0])]
    return per_frame, _mean_psnr(per_frame)


def luma(frames: np.ndarray) -> np.ndarray:
    """BT.601 limited-range Y ``(T, H, W)`` of uint8 RGB frames, by the media module's conversion."""
    from ncodec.media.video import rgb_to_yuv420

    y, _, _ = rgb_to_yuv420(np.asarray(frames))
    return np.asarray(y)


def psnr_y(ref: np.ndarray, test: np.ndarray) -> tuple[list[float], float]:
    """Per-frame PSNR of the BT.601 luma (peak 255), and its mean over frames."""
    a, b = _frames_pair(ref, test, "psnr_y")
    ya, yb = luma(a), luma(b)
    per_frame = [psnr(ya[t], yb[t]) for t in range(ya.shape[0])]
    return per_frame, _mean_psnr(per_frame)


__all__ = [
    "MS_SSIM_MIN_SIDE",
    "N_MELS",
    "log_mel",
    "log_mel_distance",
    "luma",
    "mel_filterbank",
    "ms_ssim",
    "ms_ssim_db",
    "mse",
    "pesq_wb",
    "psnr",
    "psnr_rgb",
    "psnr_y",
    "si_sdr",
    "stft_params",
    "stoi",
]
