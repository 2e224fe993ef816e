"""The sample media that ship with ncodec, and the sample clip the project makes from the photo.

Everything here comes from files that a PyPI package ships (see ``assets/README.md`` for origins
and licences) or is computed from them, so the demo, the tests and the benchmarks run on a fresh
clone with nothing else at hand, and on every machine they see the same pixels and samples.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from ncodec.registry import shipped_asset

#: A real photograph: SpaceX's launch of DSCOVR (public domain), from scikit-image's wheel.
SAMPLE_PHOTO = "rocket.jpg"
#: Real read speech, 16 kHz mono, 4 s: CMU ARCTIC utterance a0007, from pysptk's sdist.
SAMPLE_SPEECH = "arctic_a0007.wav"


def sample_photo_path() -> Path:
    return shipped_asset(SAMPLE_PHOTO)


def sample_speech_path() -> Path:
    return shipped_asset(SAMPLE_SPEECH)


def pan_zoom_clip(image: np.ndarray, frames: int = 24, size: tuple[int, int] = (176, 144),
                  fps: Fraction = Fraction(24)) -> tuple[np.ndarray, Fraction]:
    """A clip that pans and slowly zooms across ``image``: real texture with real motion.

    ``image`` is uint8 ``(H, W, 3)``; the result is uint8 ``(frames, height, width, 3)`` with
    ``size = (width, height)``. The camera window starts at 90 % of the largest window of the
    clip's aspect ratio, slides diagonally across the photo and shrinks to 70 % by the last frame
    (a zoom in), sampled with bilinear interpolation. Only IEEE-exact float64 arithmetic (products,
    sums, floor) is used, so every machine makes the same bytes.
    """
    src = np.asarray(image)
    if src.ndim != 3 or src.shape[2] != 3 or src.dtype != np.uint8:
        raise ValueError(f"pan_zoom_clip needs a uint8 (H, W, 3) image, got {src.shape} {src.dtype}")
    width, height = size
    if frames < 1 or width < 2 or height < 2:
        raise ValueError("pan_zoom_clip needs at least one frame of at least 2x2 pixels")
    src_h, src_w = src.shape[:2]
    aspect = width / height
    full_w = min(float(src_w - 1), (src_h - 1) * aspect)
    pix = src.astype(np.float64)
    out = np.empty((frames, height, width, 3), dtype=np.uint8)
    for t in range(frames):
        p = t / max(frames - 1, 1)
        win_w = full_w * (0.9 - 0.2 * p)
        win_h = win_w / aspect
        left = (src_w - 1 - win_w) * (0.15 + 0.7 * p)
        top = (src_h - 1 - win_h) * (0.75 - 0.5 * p)
        xs = left + np.arange(width, dtype=np.float64) * (win_w / (width - 1))
        ys = top + np.arange(height, dtype=np.float64) * (win_h / (height - 1))
        x0 = np.minimum(np.floor(xs).astype(np.int64), src_w - 2)
        y0 = np.minimum(np.floor(ys).astype(np.int64), src_h - 2)
        fx = (xs - x0)[None, :, None]
        fy = (ys - y0)[:, None, None]
        top_row = pix[y0][:, x0] * (1 - fx) + pix[y0][:, x0 + 1] * fx
        bottom_row = pix[y0 + 1][:, x0] * (1 - fx) + pix[y0 + 1][:, x0 + 1] * fx
        out[t] = np.clip(np.floor(top_row * (1 - fy) + bottom_row * fy + 0.5), 0, 255).astype(np.uint8)
    return out, Fraction(fps)


def sample_clip(frames: int = 24, size: tuple[int, int] = (176, 144)) -> tuple[np.ndarray, Fraction]:
    """The project's sample video: :func:`pan_zoom_clip` across the sample photo at 24 fps."""
    from ncodec.media.image import read_image

    return pan_zoom_clip(read_image(sample_photo_path()).pixels, frames=frames, size=size)


__all__ = [
    "SAMPLE_PHOTO",
    "SAMPLE_SPEECH",
    "pan_zoom_clip",
    "sample_clip",
    "sample_photo_path",
    "sample_speech_path",
]
