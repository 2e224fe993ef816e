"""Find out what a file holds (image, audio or video) from its content, not its name.

Extensions lie (a ``.png`` that is a JPEG, an ``.mp4`` with only sound, cover art inside an
``.mp3``), and the CLI must pick the right codec before reading anything. Probing only reads
headers, plus at most two decoded frames for containers that do not declare a frame count.
"""

from __future__ import annotations

import os
import warnings
from typing import Literal

import av
from PIL import Image

from ncodec.errors import NcodecError
from ncodec.media._util import SourceLike, av_target, check_path, input_error
from ncodec.media.audio import AUDIO_WRITE_FORMATS
from ncodec.media.image import IMAGE_WRITE_FORMATS
from ncodec.media.video import VIDEO_WRITE_FORMATS

Modality = Literal["image", "audio", "video"]

#: Modality -> the extensions the writers support for it.
OUTPUT_EXTENSIONS: dict[str, set[str]] = {
    "image": set(IMAGE_WRITE_FORMATS),
    "audio": set(AUDIO_WRITE_FORMATS),
    "video": set(VIDEO_WRITE_FORMATS),
}

# Pillow identifies these but cannot decode them as pictures; let FFmpeg have a look instead.
_PILLOW_NOT_IMAGES = {"MPEG"}


def detect_modality(path: SourceLike) -> Modality:
    """Return "image", "audio" or "video" for ``path`` (or file bytes), judged by content.

    Order: a still image Pillow recognises is an image. Otherwise FFmpeg opens it: a video
    stream (cover art excluded) with more than one frame is video, as are animated images; a
    file with an audio stream is audio; a one-frame video stream with no audio is video (a
    one-frame clip) unless FFmpeg's demuxer is an image reader, in which case it is an image
    format Pillow does not support. Raises :class:`InputError` when neither library recognises it.
    """
    name = check_path(path)
    animated = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(av_target(path)) as im:
                if im.format not in _PILLOW_NOT_IMAGES:
                    if im.format == "MPO":
                        return "image"
                    animated = bool(getattr(im, "is_animated", False)) or int(getattr(im, "n_frames", 1)) > 1
                    if not animated:
                        return "image"
                    return "video"  # an animated GIF, WebP or PNG: read_video takes its frames from Pillow
    except Image.DecompressionBombError:
        return "image"  # an image, too large: read_image will say so
    except Exception:
        pass
    try:
        with av.open(av_target(path), metadata_errors="ignore") as container:
            kind = _probe_av(name, container)
    except NcodecError:
        raise
    except Exception:
        kind = None
    if kind is not None:
        return kind
    if animated:
        return "video"  # animated image FFmpeg cannot demux; read_video will report the details
    raise input_error(name, "not an image, audio or video file FFmpeg/Pillow recognise")


def _probe_av(name: str, container: av.container.InputContainer) -> Modality | None:
    videos = [
        s for s in container.streams.video if not int(s.disposition) & int(av.stream.Disposition.attached_pic)
    ]
    has_audio = bool(container.streams.audio)
    if videos:
        stream = videos[0]
        if int(stream.frames or 0) > 1 or _count_frames(container, stream, 2) > 1:
            return "video"
        if has_audio:
            return "audio"
        fmt = str(container.format.name)
        if fmt.startswith("image2") or fmt.endswith("_pipe"):
            raise input_error(name, f"image format ({fmt.split(',')[0]}) that Pillow cannot read")
        return "video"
    if has_audio:
        return "audio"
    return None


def _count_frames(container: av.container.InputContainer, stream: av.VideoStream, at_most: int) -> int:
    """Decode up to ``at_most`` frames of ``stream`` (stops early: probing stays cheap)."""
    count = 0
    try:
        for _ in container.decode(stream):
            count += 1
            if count >= at_most:
                break
    except Exception:
        pass
    return count


def output_modality(path: str | os.PathLike[str]) -> Modality | None:
    """The modality whose writer handles ``path``'s extension, or None if no writer does."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    for modality, extensions in OUTPUT_EXTENSIONS.items():
        if ext in extensions:
            return modality  # type: ignore[return-value]
    return None


__all__ = ["OUTPUT_EXTENSIONS", "Modality", "detect_modality", "output_modality"]
