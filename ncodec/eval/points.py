"""One rate-distortion point: code one file with one codec at one setting, time it, score it.

The ncodec side is reached through a small :class:`NcodecBackend` protocol instead of importing
:mod:`ncodec.api` directly, for two reasons: tests inject a fake codec (a real trained model is
slow and its weights may not be installed), and the evaluation must go through the same path a
user takes, encode -> real ``.nc`` bytes -> decode, which :class:`ApiBackend` does.

A point's rate is always the length of the bytes a user would store: the ``.nc`` file for ncodec,
the JPEG/Ogg/MP4 file for a baseline. ncodec's own estimate of its size (the sum of -log2 p of
the coded symbols) is kept next to it, with the gap in percent: a large gap means the entropy
coder or the container wastes bits that training never saw.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ncodec.eval import metrics
from ncodec.eval.baselines import Baseline

Point = dict[str, Any]


@dataclass(frozen=True)
class ModelSpec:
    """What the evaluation needs to know about one ncodec model."""

    name: str
    modality: str
    qualities: tuple[int, ...]
    available: bool = True
    test_only: bool = False
    weights: str = ""  # SHA-256 (hex) of the installed weights: a resumed evaluation re-measures on a change


EFFORT_MARK = "+effort"  # "image-hyperprior+effort2": the model at encode effort 2, its own curve


def split_effort(name: str) -> tuple[str, int]:
    """(model name, effort) of an evaluated codec name; effort 0 when the name has no mark."""
    base, mark, level = name.partition(EFFORT_MARK)
    return (base, int(level)) if mark and level.isdigit() else (name, 0)


def with_effort(name: str, effort: int) -> str:
    return name if effort == 0 else f"{name}{EFFORT_MARK}{effort}"


class NcodecBackend(Protocol):
    """The ncodec side of an evaluation: the registered models and the encode/decode round trip."""

    def models(self, modality: str) -> list[ModelSpec]:
        """Models registered for ``modality`` (test-only models excluded)."""
        ...

    def encode(self, media: Any, model: str, quality: int) -> tuple[bytes, float | None]:
        """The bytes of a ``.nc`` file and the model's own estimate of its size in bits."""
        ...

    def decode(self, data: bytes) -> Any:
        """Media decoded from ``.nc`` bytes (ImageData, AudioData or VideoData)."""
        ...


class ApiBackend:
    """The real thing: :mod:`ncodec.registry` for models, :mod:`ncodec.api` for the round trip."""

    def models(self, modality: str) -> list[ModelSpec]:
        from ncodec import registry

        return [
            ModelSpec(m.name, m.modality, tuple(m.qualities), available=m.is_available(), test_only=m.test_only,
                      weights=registry.weights_sha256(m).hex() if m.is_available() else "")
            for m in registry.list_models(modality)
            if not m.test_only
        ]

    def encode(self, media: Any, model: str, quality: int) -> tuple[bytes, float | None]:
        from ncodec import api

        name, effort = split_effort(model)
        result = api.encode_with_stats(media, model=name, quality=quality, effort=effort)
        return result.data, result.estimated_bits

    def decode(self, data: bytes) -> Any:
        from ncodec import api

        return api.decode(data)


class CallableBackend:
    """A backend from plain callables: how tests (and experiments) plug in a codec of their own."""

    def __init__(
        self,
        encode: Callable[[Any, str, int], tuple[bytes, float | None]],
        decode: Callable[[bytes], Any],
        models: Sequence[ModelSpec],
    ) -> None:
        self._encode = encode
        self._decode = decode
        self._models = list(models)

    def models(self, modality: str) -> list[ModelSpec]:
        return [m for m in self._models if m.modality == modality and not m.test_only]

    def encode(self, media: Any, model: str, quality: int) -> tuple[bytes, float | None]:
        return self._encode(media, model, quality)

    def decode(self, data: bytes) -> Any:
        return self._decode(data)


# --------------------------------------------------------------------------------------------------
# media facts and rates


def media_units(modality: str, media: Any) -> dict[str, Any]:
    """The facts a rate is normalised by: pixels, or duration, or pixels x frames."""
    if modality == "image":
        h, w = media.pixels.shape[:2]
        return {"width": int(w), "height": int(h), "channels": int(media.pixels.shape[2]),
                "bit_depth": int(media.bit_depth)}
    if modality == "audio":
        return {"sample_rate": int(media.sample_rate), "channels": int(media.samples.shape[0]),
                "samples": int(media.samples.shape[1]), "seconds": media.samples.shape[1] / media.sample_rate}
    if modality == "video":
        t, h, w = media.frames.shape[:3]
        return {"width": int(w), "height": int(h), "frames": int(t), "fps": str(media.fps),
                "seconds": float(t / media.fps)}
    raise ValueError(f"unknown modality '{modality}'")


RATE_UNITS = {"image": "bpp", "audio": "kbps", "video": "bpp"}


def rate_of(modality: str, bits: float, units: dict[str, Any]) -> float:
    """bits per pixel (image), kbit/s (audio), bits per pixel per frame (video)."""
    if modality == "image":
        return bits / (units["width"] * units["height"])
    if modality == "audio":
        return bits / units["seconds"] / 1000.0
    if modality == "video":
        return bits / (units["width"] * units["height"] * units["frames"])
    raise ValueError(f"unknown modality '{modality}'")


# --------------------------------------------------------------------------------------------------
# scoring


def score(modality: str, ref: Any, out: Any) -> dict[str, Any]:
    """All metrics of a modality for decoded ``out`` against reference ``ref`` (see metrics)."""
    if modality == "image":
        a = np.asarray(ref.pixels)
        b = np.asarray(getattr(out, "pixels", out))
        if a.shape != b.shape or a.dtype != b.dtype:
            raise ValueError(f"decoded image is {b.shape} {b.dtype}, the input {a.shape} {a.dtype}")
        value = metrics.ms_ssim(a, b)
        return {"psnr_rgb": metrics.psnr(a, b), "ms_ssim": value, "ms_ssim_db": metrics.ms_ssim_db(value)}
    if modality == "audio":
        sr = int(ref.sample_rate)
        x = np.asarray(ref.samples)
        y = _audio_like(out, sr, x.shape[1])
        return {"pesq": metrics.pesq_wb(x, y, sr), "stoi": metrics.stoi(x, y, sr),
                "log_mel": metrics.log_mel_distance(x, y, sr), "si_sdr": metrics.si_sdr(x, y)}
    if modality == "video":
        a = np.asarray(ref.frames)
        b = np.asarray(getattr(out, "frames", out))
        rgb_frames, rgb = metrics.psnr_rgb(a, b)
        y_frames, y_mean = metrics.psnr_y(a, b)
        return {"psnr_rgb": rgb, "psnr_y": y_mean, "psnr_rgb_frames": rgb_frames, "psnr_y_frames": y_frames}
    raise ValueError(f"unknown modality '{modality}'")


def _audio_like(out: Any, sr: int, n: int) -> np.ndarray:
    """Decoded audio at the reference's rate and length (resampled / trimmed if a codec changed them)."""
    from ncodec.media.audio import resample

    samples = np.asarray(getattr(out, "samples", out), dtype=np.float32)
    if samples.ndim == 1:
        samples = samples[None, :]
    out_sr = int(getattr(out, "sample_rate", sr))
    if out_sr != sr:
        samples = np.asarray(resample(samples, out_sr, sr), dtype=np.float32)
    if samples.shape[1] > n:
        samples = samples[:, :n]
    elif samples.shape[1] < n:
        samples = np.pad(samples, ((0, 0), (0, n - samples.shape[1])))
    return samples


def _base_point(file: str, codec: str, kind: str, setting: str, value: int, modality: str, nbytes: int,
                units: dict[str, Any]) -> Point:
    bits = 8 * nbytes
    return {"file": file, "codec": codec, "kind": kind, "setting": setting, "setting_value": value,
            "modality": modality, "bytes": int(nbytes), "bits": bits, "rate": rate_of(modality, bits, units),
            "rate_unit": RATE_UNITS[modality]}


def measure_ncodec(backend: NcodecBackend, modality: str, file: str, media: Any, model: str,
                   quality: int) -> Point:
    """Encode -> ``.nc`` bytes -> decode with an ncodec model, timed, scored, size-checked."""
    units = media_units(modality, media)
    t0 = time.perf_counter()
    data, estimated = backend.encode(media, model, quality)
    t1 = time.perf_counter()
    out = backend.decode(bytes(data))
    t2 = time.perf_counter()
    point = _base_point(file, f"ncodec:{model}", "ncodec", f"q{quality}", int(quality), modality, len(data), units)
    point["estimated_bits"] = None if estimated is None else float(estimated)
    if estimated is not None and estimated > 0:
        point["estimate_gap_pct"] = 100.0 * (point["bits"] - float(estimated)) / float(estimated)
    else:
        point["estimate_gap_pct"] = None
    point.update(score(modality, media, out))
    point.update(encode_s=t1 - t0, decode_s=t2 - t1)
    return point


def measure_baseline(baseline: Baseline, modality: str, file: str, media: Any, setting: int) -> Point:
    """Encode to a real file in memory and decode it with a classical codec, timed and scored."""
    units = media_units(modality, media)
    t0 = time.perf_counter()
    encoded = baseline.encode(media, setting)
    t1 = time.perf_counter()
    out = baseline.decode(encoded, media)
    t2 = time.perf_counter()
    point = _base_point(file, baseline.name, "baseline", baseline.label(setting), int(setting), modality,
                        len(encoded.data), units)
    if encoded.bitstream_bytes is not None:
        point["bitstream_bytes"] = int(encoded.bitstream_bytes)
        point["bitstream_rate"] = rate_of(modality, 8 * encoded.bitstream_bytes, units)
    for key, value in encoded.info.items():
        point[key] = value
    point.update(score(modality, media, out))
    point.update(encode_s=t1 - t0, decode_s=t2 - t1)
    return point


def is_finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


__all__ = [
    "RATE_UNITS",
    "ApiBackend",
    "CallableBackend",
    "ModelSpec",
    "NcodecBackend",
    "Point",
    "measure_baseline",
    "measure_ncodec",
    "media_units",
    "rate_of",
    "score",
]
