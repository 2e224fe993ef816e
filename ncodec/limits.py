"""Configurable size limits: the largest input an encode or decode accepts.

A service that takes files from strangers wants to refuse a 100-megapixel photo or a 3-hour
recording before spending minutes on it, and a decoder must refuse a tiny file that declares a
huge output before allocating anything. The defaults are the readers' own hard limits, so
lowering them is what a caller does (``--max-pixels``, ``--max-samples``, ``--max-frames``, or
``limits=Limits(...)`` in the API). Checks use only what a header declares: the image size from
its header, the audio duration and video frame count from the container, the ``.nc`` metadata.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

from ncodec.errors import InputError, LimitError, UsageError

DEFAULT_MAX_PIXELS = 64 * 1024 * 1024  # per image, and per video frame
DEFAULT_MAX_SAMPLES = 2 * 60 * 60 * 48_000  # per channel: two hours at 48 kHz
DEFAULT_MAX_FRAMES = 10_000


@dataclass(frozen=True)
class Limits:
    """Largest media accepted; every limit names the CLI flag that changes it."""

    max_pixels: int = DEFAULT_MAX_PIXELS
    max_samples: int = DEFAULT_MAX_SAMPLES
    max_frames: int = DEFAULT_MAX_FRAMES

    def __post_init__(self) -> None:
        for name in ("max_pixels", "max_samples", "max_frames"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UsageError(f"{name.replace('_', ' ')} must be a positive whole number, not {value!r}")

    def check(self, *, what: str, pixels: int | None = None, samples: int | None = None,
              frames: int | None = None, declared_by_file: bool = False) -> None:
        """Raise when a declared size is above a limit: InputError for inputs, LimitError for files."""
        error = LimitError if declared_by_file else InputError
        for value, limit, flag, unit in ((pixels, self.max_pixels, "--max-pixels", "pixels"),
                                         (samples, self.max_samples, "--max-samples", "samples per channel"),
                                         (frames, self.max_frames, "--max-frames", "frames")):
            if value is not None and value > limit:
                raise error(f"{what} has {value:,} {unit}, above the limit of {limit:,} ({flag})")

    def check_input_file(self, path: str | os.PathLike[str], modality: str) -> None:
        """Check a media file by its headers only, before it is decoded."""
        dims = probe_dimensions(path, modality)
        self.check(what=f"'{path}'", pixels=dims.get("pixels"), samples=dims.get("samples"),
                   frames=dims.get("frames"))

    def check_media(self, media: Any) -> None:
        """Check decoded media (ImageData, AudioData, VideoData) before it is coded."""
        from ncodec.media.audio import AudioData
        from ncodec.media.image import ImageData
        from ncodec.media.video import VideoData

        if isinstance(media, ImageData):
            self.check(what="the image", pixels=int(media.pixels.shape[0] * media.pixels.shape[1]))
        elif isinstance(media, AudioData):
            self.check(what="the audio", samples=int(media.samples.shape[-1]))
        elif isinstance(media, VideoData):
            _, h, w = media.frames.shape[:3]
            self.check(what="the video", frames=int(media.frames.shape[0]), pixels=int(h * w))

    def check_metadata(self, modality: str, meta: dict[str, Any]) -> None:
        """Check what a ``.nc`` file declares, before anything is allocated for it."""

        def num(key: str) -> int | None:
            v = meta.get(key)
            return v if isinstance(v, int) and not isinstance(v, bool) else None

        width, height = num("width"), num("height")
        pixels = width * height if width is not None and height is not None else None
        if modality == "image":
            self.check(what="the file", pixels=pixels, declared_by_file=True)
        elif modality == "audio":
            self.check(what="the file", samples=num("samples"), declared_by_file=True)
        elif modality == "video":
            self.check(what="the file", pixels=pixels, frames=num("frames"), declared_by_file=True)


def probe_dimensions(path: str | os.PathLike[str], modality: str) -> dict[str, int]:
    """What a media file's headers declare: pixels, samples per channel, frames (where known)."""
    if modality == "image":
        import warnings

        from PIL import Image

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                with Image.open(path) as im:
                    return {"pixels": int(im.width * im.height)}
            except Image.DecompressionBombError:
                return {}  # the reader refuses it with its own message
            except Exception:
                return {}  # unreadable here: the reader says why
    import av

    out: dict[str, int] = {}
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if modality == "audio" and container.streams.audio:
                sound = container.streams.audio[0]
                seconds = _seconds(sound.duration, sound.time_base) or _seconds(container.duration, 1e-6)
                if seconds is not None and sound.rate:
                    out["samples"] = math.ceil(seconds * sound.rate)
            elif modality == "video" and container.streams.video:
                picture = container.streams.video[0]
                if picture.width and picture.height:
                    out["pixels"] = int(picture.width * picture.height)
                if picture.frames:
                    out["frames"] = int(picture.frames)
    except Exception:
        return {}
    return out


def _seconds(duration: Any, time_base: Any) -> float | None:
    if duration is None or time_base is None:
        return None
    return float(duration * time_base)
