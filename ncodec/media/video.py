"""Video reading and writing with PyAV (FFmpeg): numpy in and out.

Policies:

* **Frames** are ``uint8`` arrays ``(T, H, W, 3)`` in RGB, in the order the decoder outputs them
  (presentation order; no duplication or dropping for variable frame rates); rotation metadata
  is not applied. Sources deeper than 8 bits are reduced to 8.
* **Frame rate** is an exact :class:`fractions.Fraction` (``30000/1001``, not 29.97): the
  stream's average rate, else the rate of the decoded timestamps, else FFmpeg's guess, snapped
  back to the integer / NTSC rate it rounds (Matroska stores nanosecond durations). It survives
  every write/read round trip here exactly.
* **YUV convention**: BT.601 matrix, limited ("MPEG", 16..235) range, for every RGB <-> YUV
  conversion this module makes (:func:`rgb_to_yuv420`, :func:`yuv420_to_rgb`, writing .mp4 and
  .y4m, reading untagged YUV). It is FFmpeg's default for untagged video, and what the classic
  test sequences are. Files whose stream is tagged otherwise (BT.709, full range) are converted
  as tagged. All conversions use swscale with bilinear chroma filtering, accurate rounding and
  bit-exact mode, so results do not depend on the CPU's SIMD paths.
* **Writing** (format from the extension):

  - ``.mkv``: FFV1 in Matroska, pixel format ``bgr0`` (FFV1's reversible colour transform). The
    RGB frames are stored losslessly, no YUV conversion: reading back gives identical frames.
  - ``.mp4``: H.264 (libx264) at ``qp=0`` in 4:4:4 (``yuv444p``, High 4:4:4 Predictive profile).
    Lossless in YUV, so only the RGB -> YUV rounding is lost (at most a few levels).
  - ``.y4m``: raw YUV4MPEG2 in ``yuv420p``, the interchange format of video-codec tools.
  - ``name_%04d.png``: a PNG sequence, one lossless RGB file per frame, numbered from 1.

* **Limits**: at most :data:`MAX_FRAMES` frames, :data:`MAX_FRAME_PIXELS` pixels per frame and
  :data:`MAX_VIDEO_BYTES` of decoded RGB, checked from the header and again while decoding.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TypeVar, cast

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace, Interpolation

from ncodec.container.atomic import link_unnamed, open_unnamed, temp_path_for
from ncodec.errors import NcodecError, UsageError
from ncodec.media._util import (
    SourceLike,
    atomic_output,
    av_target,
    check_path,
    input_error,
    output_extension,
    reraise_as_input,
)

#: Most frames read (5.5 minutes at 30 fps); pass ``max_frames`` to read the start of longer files.
MAX_FRAMES = 10_000
#: Largest frame accepted, in pixels (4096 x 2304: covers UHD and DCI 4K).
MAX_FRAME_PIXELS = 4096 * 2304
#: Most decoded RGB bytes held at once (4 GiB; about 690 frames of 1080p).
MAX_VIDEO_BYTES = 4 << 30

#: Output extension -> (FFmpeg muxer, encoder, encoder pixel format).
VIDEO_WRITE_FORMATS: dict[str, tuple[str, str, str]] = {
    ".mkv": ("matroska", "ffv1", "bgr0"),
    ".mp4": ("mp4", "libx264", "yuv444p"),
    ".y4m": ("yuv4mpegpipe", "rawvideo", "yuv420p"),
}

# One swscale configuration for every conversion, see the module docstring.
_SWS_FLAGS = Interpolation.BILINEAR | Interpolation.ACCURATE_RND | Interpolation.BITEXACT
_COLORSPACE = Colorspace.ITU601
_RANGE = ColorRange.MPEG
_AVCOL_SPC_UNSPECIFIED = 2
_AVCOL_SPC_SMPTE170M = 6

YUVPlanes = tuple[np.ndarray, np.ndarray, np.ndarray]
_T = TypeVar("_T")


@dataclass
class VideoData:
    """Decoded video: ``frames`` is uint8 ``(T, H, W, 3)`` RGB; ``fps`` an exact Fraction.

    ``source_format`` is FFmpeg's demuxer name ("matroska", "mov", "yuv4mpegpipe", ...) or None.
    """

    frames: np.ndarray
    fps: Fraction
    source_format: str | None = None

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def height(self) -> int:
        return int(self.frames.shape[1])

    @property
    def width(self) -> int:
        return int(self.frames.shape[2])


# --------------------------------------------------------------------------------------------------
# reading


def read_video(source: SourceLike, max_frames: int | None = None) -> VideoData:
    """Decode the first video stream of ``source`` to RGB :class:`VideoData`.

    ``max_frames`` reads only the first frames (and lets longer files through the frame limit).
    Raises :class:`InputError` for unreadable files, files without video and files over the limits.
    """
    name = check_path(source)
    _check_max_frames(max_frames)
    animation = _read_animated_image(name, source, max_frames)
    if animation is not None:
        return animation
    try:
        with av.open(av_target(source), metadata_errors="ignore") as container:
            stream = _open_stream(name, container, max_frames)
            frames, fps = _decode(name, container, stream, max_frames, _frame_to_rgb, 3)
            return VideoData(np.stack(frames), fps, _format_name(container))
    except Exception as exc:
        raise reraise_as_input(name, exc) from None


def _read_animated_image(name: str, source: SourceLike, max_frames: int | None) -> VideoData | None:
    """The frames of an animated GIF, WebP or PNG, read by Pillow; None for anything else.

    FFmpeg cannot decode animated WebP at all, and Pillow composes GIF frames with their disposal
    methods, so Pillow reads every animated image. The frame rate is that of the first frame's
    duration (10 fps when none is given): the video codec codes a constant rate.
    """
    import warnings

    from PIL import Image, ImageSequence

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(av_target(source)) as im:
                if not (getattr(im, "is_animated", False) or int(getattr(im, "n_frames", 1)) > 1):
                    return None
                width, height = im.size
                if width * height > MAX_FRAME_PIXELS:
                    raise input_error(name, f"video frames are {width}x{height}, more than the limit of "
                                            f"{MAX_FRAME_PIXELS} pixels")
                limit = MAX_FRAMES if max_frames is None else max_frames
                count = int(getattr(im, "n_frames", 1))
                if count > limit and max_frames is None:
                    raise input_error(name, f"video has {count} frames, more than the limit of {MAX_FRAMES} "
                                            f"(pass max_frames)")
                duration = int(im.info.get("duration") or 0)
                frames = []
                for frame in ImageSequence.Iterator(im):
                    frames.append(np.asarray(frame.convert("RGB"), dtype=np.uint8))
                    if len(frames) >= limit:
                        break
    except NcodecError:
        raise
    except Exception:
        return None  # not something Pillow animates: FFmpeg reads it
    fps = Fraction(1000, duration) if duration > 0 else Fraction(10)
    return VideoData(np.stack(frames), fps, "animated image")


def read_video_yuv420(source: SourceLike, max_frames: int | None = None) -> tuple[YUVPlanes, Fraction]:
    """Decode the first video stream of ``source`` as 8-bit 4:2:0 planes, without an RGB detour.

    Returns ``((y, u, v), fps)`` with ``y`` uint8 ``(T, H, W)`` and ``u``, ``v`` uint8
    ``(T, ceil(H/2), ceil(W/2))``. For ``yuv420p`` sources (the test sequences, y4m files) these
    are the stored samples, bit for bit, in the stream's own range and matrix; anything else is
    converted to yuv420p by swscale (RGB sources with the module's BT.601 limited convention).
    This is what baselines coding yuv420p (and PSNR-YUV metrics) need.
    """
    name = check_path(source)
    _check_max_frames(max_frames)
    try:
        with av.open(av_target(source), metadata_errors="ignore") as container:
            stream = _open_stream(name, container, max_frames)
            frames, fps = _decode(name, container, stream, max_frames, _frame_to_yuv420, 1.5)
    except Exception as exc:
        raise reraise_as_input(name, exc) from None
    y = np.stack([f[0] for f in frames])
    u = np.stack([f[1] for f in frames])
    v = np.stack([f[2] for f in frames])
    return (y, u, v), fps


def _check_max_frames(max_frames: int | None) -> None:
    if max_frames is not None and (not isinstance(max_frames, int | np.integer) or max_frames < 1):
        raise UsageError(f"max_frames must be a positive integer or None, got {max_frames!r}")


def _open_stream(name: str, container: av.container.InputContainer, max_frames: int | None) -> av.VideoStream:
    streams = [s for s in container.streams.video if not _is_attached_picture(s)]
    if not streams:
        raise input_error(name, "no video stream")
    stream = streams[0]
    width, height = int(stream.codec_context.width or 0), int(stream.codec_context.height or 0)
    if width <= 0 or height <= 0:
        raise input_error(name, f"video has a zero dimension ({width}x{height})")
    if width * height > MAX_FRAME_PIXELS:
        raise input_error(
            name, f"video frames are {width}x{height}, more than the limit of {MAX_FRAME_PIXELS} pixels"
        )
    declared = int(stream.frames or 0)
    if declared > MAX_FRAMES and (max_frames is None or max_frames > MAX_FRAMES):
        raise input_error(
            name, f"video has {declared} frames, more than the limit of {MAX_FRAMES} (pass max_frames)"
        )
    stream.thread_type = "AUTO"
    return stream


def _frame_rate(
    name: str, stream: av.VideoStream, first: Fraction | None, last: Fraction | None, count: int
) -> Fraction:
    """The stream's frame rate: its average rate, else the rate of the decoded timestamps, else
    FFmpeg's guess. Animated PNGs, for one, declare no average rate and a meaningless guess."""
    rate: Fraction | None = None
    if stream.average_rate:
        rate = Fraction(stream.average_rate)
    elif count > 1 and first is not None and last is not None and last > first:
        rate = Fraction(count - 1) / (last - first)
    else:
        guessed = stream.guessed_rate or stream.base_rate
        rate = Fraction(guessed) if guessed else None
    if rate is None or rate <= 0:
        raise input_error(name, "video frame rate is unknown")
    return _snap_rate(rate)


def _snap_rate(rate: Fraction) -> Fraction:
    """Undo the rounding of frame rates stored as durations.

    Matroska stores a frame duration in nanoseconds and FFmpeg turns it back into a reduced
    fraction, so 60000/1001 comes back as 19001/317. A rate within one part per million of an
    integer, a half-integer or an NTSC rate (``k * 1000/1001``) is taken to be that rate; any
    other rate is returned unchanged.
    """
    candidates = (
        Fraction(round(rate)),
        Fraction(round(rate * 1001 / 1000) * 1000, 1001),
        Fraction(round(rate * 2), 2),
    )
    for candidate in candidates:
        if candidate > 0 and abs(candidate - rate) <= rate / 1_000_000:
            return candidate
    return rate


def _is_attached_picture(stream: av.VideoStream) -> bool:
    """Cover art in audio files shows up as a one-frame video stream; it is not video."""
    return bool(int(stream.disposition) & int(av.stream.Disposition.attached_pic))


def _decode(
    name: str,
    container: av.container.InputContainer,
    stream: av.VideoStream,
    max_frames: int | None,
    convert: Callable[[av.VideoFrame], _T],
    bytes_per_pixel: float,
) -> tuple[list[_T], Fraction]:
    """Decode and convert frames, enforcing the limits as it goes; also return the frame rate."""
    limit = MAX_FRAMES if max_frames is None else int(max_frames)
    out: list[_T] = []
    first: Fraction | None = None
    last: Fraction | None = None
    size: tuple[int, int] | None = None
    total_bytes = 0.0
    for frame in container.decode(stream):
        if size is None:
            size = (frame.width, frame.height)
        elif (frame.width, frame.height) != size:
            raise input_error(
                name, f"frame size changes mid-stream ({size[0]}x{size[1]} -> {frame.width}x{frame.height})"
            )
        if len(out) >= limit:
            if max_frames is None:
                raise input_error(name, f"video has more than {MAX_FRAMES} frames (pass max_frames)")
            break
        total_bytes += frame.width * frame.height * bytes_per_pixel
        if total_bytes > MAX_VIDEO_BYTES:
            raise input_error(
                name,
                f"decoded video exceeds {MAX_VIDEO_BYTES >> 30} GiB after {len(out)} frames (pass max_frames)",
            )
        if frame.pts is not None and frame.time_base is not None:
            last = frame.pts * Fraction(frame.time_base)
            first = last if first is None else first
        out.append(convert(frame))
    if not out:
        raise input_error(name, "video stream has no frames")
    return out, _frame_rate(name, stream, first, last, len(out))


def _format_name(container: av.container.Container) -> str:
    return str(container.format.name).split(",")[0]


def _is_yuv(frame: av.VideoFrame) -> bool:
    fmt = frame.format
    return not fmt.is_rgb and not fmt.has_palette and len(fmt.components) >= 3


def _source_tags(frame: av.VideoFrame) -> tuple[Colorspace | None, ColorRange | None]:
    """The matrix and range to assume for a YUV frame: its own tags, BT.601 limited where untagged.

    ``None`` means "use the frame's tag"; yuvj formats are full range by definition.
    """
    untagged = int(frame.colorspace) == _AVCOL_SPC_UNSPECIFIED
    no_range = int(frame.color_range) == 0 and not frame.format.name.startswith("yuvj")
    return (_COLORSPACE if untagged else None), (_RANGE if no_range else None)


def _frame_to_rgb(frame: av.VideoFrame) -> np.ndarray:
    """A decoded frame as (H, W, 3) uint8 RGB, honouring its colour tags (untagged = BT.601 limited)."""
    colorspace, color_range = _source_tags(frame) if _is_yuv(frame) else (None, None)
    rgb = frame.reformat(
        format="rgb24", src_colorspace=colorspace, src_color_range=color_range, interpolation=_SWS_FLAGS
    )
    return _packed_array(rgb, 3)


def _frame_to_yuv420(frame: av.VideoFrame) -> YUVPlanes:
    """A decoded frame as yuv420p planes; stored yuv420p planes are returned untouched.

    Other YUV layouts keep their matrix (only chroma is resampled) and come out limited range;
    RGB, palette and grey sources are converted with the module's BT.601 limited convention.
    """
    if frame.format.name != "yuv420p":
        if _is_yuv(frame):
            colorspace, color_range = _source_tags(frame)
            frame = frame.reformat(
                format="yuv420p",
                src_colorspace=colorspace,
                src_color_range=color_range,
                dst_colorspace=colorspace,
                dst_color_range=_RANGE,
                interpolation=_SWS_FLAGS,
            )
        else:
            frame = frame.reformat(
                format="yuv420p", dst_colorspace=_COLORSPACE, dst_color_range=_RANGE, interpolation=_SWS_FLAGS
            )
    return _planes(frame)


def _packed_array(frame: av.VideoFrame, channels: int) -> np.ndarray:
    plane = frame.planes[0]
    rows = np.frombuffer(memoryview(plane), dtype=np.uint8).reshape(frame.height, plane.line_size)
    return rows[:, : frame.width * channels].reshape(frame.height, frame.width, channels).copy()


def _planes(frame: av.VideoFrame) -> YUVPlanes:
    """Copy the three planes of a yuv420p frame, dropping line padding (works for odd sizes)."""
    width, height = frame.width, frame.height
    sizes = [(height, width), ((height + 1) // 2, (width + 1) // 2), ((height + 1) // 2, (width + 1) // 2)]
    planes = []
    for plane, (h, w) in zip(frame.planes, sizes, strict=True):
        rows = np.frombuffer(memoryview(plane), dtype=np.uint8).reshape(-1, plane.line_size)
        planes.append(rows[:h, :w].copy())
    return planes[0], planes[1], planes[2]


# --------------------------------------------------------------------------------------------------
# YUV helpers


def rgb_to_yuv420(frames: np.ndarray) -> YUVPlanes:
    """Convert uint8 RGB ``(T, H, W, 3)`` (or one ``(H, W, 3)`` frame) to yuv420p planes.

    BT.601, limited range, swscale's bilinear chroma filter with accurate rounding, bit-exact
    mode: the convention used everywhere in this module. Returns ``(y, u, v)`` shaped like the
    input without the channel axis, chroma ``ceil(H/2) x ceil(W/2)``.
    """
    arr = _validate_rgb(frames, "rgb_to_yuv420")
    planes = [_rgb_frame_to_yuv420(f) for f in (arr if arr.ndim == 4 else arr[None])]
    y, u, v = (np.stack([p[i] for p in planes]) for i in range(3))
    if arr.ndim == 3:
        return y[0], u[0], v[0]
    return y, u, v


def yuv420_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Convert yuv420p planes (``(T, H, W)`` / ``(T, ceil(H/2), ceil(W/2))``, or one frame without
    the ``T`` axis) to uint8 RGB ``(T, H, W, 3)`` (or ``(H, W, 3)``), BT.601 limited range."""
    y, u, v = (np.asarray(p) for p in (y, u, v))
    single = y.ndim == 2
    if single:
        y, u, v = y[None], u[None], v[None]
    if y.ndim != 3 or u.shape != v.shape or u.ndim != 3 or y.shape[0] != u.shape[0]:
        raise UsageError(
            f"yuv420_to_rgb expects matching (T, H, W) planes, got {y.shape}, {u.shape}, {v.shape}"
        )
    _, height, width = y.shape
    if u.shape[1:] != ((height + 1) // 2, (width + 1) // 2):
        raise UsageError(
            f"chroma planes must be {(height + 1) // 2}x{(width + 1) // 2} for {height}x{width} luma"
        )
    if y.dtype != np.uint8 or u.dtype != np.uint8 or v.dtype != np.uint8:
        raise UsageError("yuv420_to_rgb expects uint8 planes")
    out = np.empty((y.shape[0], height, width, 3), dtype=np.uint8)
    for t in range(y.shape[0]):
        frame = _yuv420_frame(y[t], u[t], v[t])
        rgb = frame.reformat(
            format="rgb24",
            src_colorspace=_COLORSPACE,
            src_color_range=_RANGE,
            interpolation=_SWS_FLAGS,
        )
        out[t] = _packed_array(rgb, 3)
    return out[0] if single else out


def _validate_rgb(frames: np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(frames)
    if arr.ndim not in (3, 4) or arr.shape[-1] != 3:
        raise UsageError(f"{what} expects uint8 (T, H, W, 3) RGB frames, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise UsageError(f"{what} expects uint8 RGB frames, got {arr.dtype}")
    if 0 in arr.shape:
        raise UsageError(f"{what} got an empty array of shape {arr.shape}")
    return arr


def _rgb_frame(rgb: np.ndarray) -> av.VideoFrame:
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    return frame


def _rgb_frame_to_yuv420(rgb: np.ndarray) -> YUVPlanes:
    frame = _rgb_frame(rgb).reformat(
        format="yuv420p", dst_colorspace=_COLORSPACE, dst_color_range=_RANGE, interpolation=_SWS_FLAGS
    )
    return _planes(frame)


def _yuv420_frame(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> av.VideoFrame:
    """Build a yuv420p VideoFrame from planes, honouring FFmpeg's line padding."""
    height, width = y.shape
    frame = av.VideoFrame(width, height, "yuv420p")
    for plane, data in zip(frame.planes, (y, u, v), strict=True):
        rows = np.zeros((plane.buffer_size // plane.line_size, plane.line_size), dtype=np.uint8)
        rows[: data.shape[0], : data.shape[1]] = data
        plane.update(rows.tobytes())
    frame.colorspace = _AVCOL_SPC_SMPTE170M
    frame.color_range = int(_RANGE)
    return frame


# --------------------------------------------------------------------------------------------------
# writing


def write_video(path: str | os.PathLike[str], video: VideoData) -> None:
    """Write RGB ``video`` to ``path``; the extension picks the route (see the module docstring).

    Every frame is built fresh from the array with its own ``pts`` and ``time_base`` (1/fps), so
    timing is exact and no decoder state (picture types) leaks into the encoder. The file is
    written to a temporary name and moved into place. Raises :class:`UsageError` for an
    unsupported extension or malformed :class:`VideoData`.
    """
    frames = _validate_video(path, video)
    fps = _as_fraction(path, video.fps)
    _, height, width, _ = frames.shape
    with open_video_writer(path, width, height, fps) as writer:
        writer.write(frames)


def is_png_sequence(path: str | os.PathLike[str]) -> bool:
    """True for an output name like ``frames_%04d.png``: one PNG per frame, numbered from 1."""
    name = os.fspath(path)
    return name.lower().endswith(".png") and _frame_pattern_ok(os.path.basename(name))


def _frame_pattern_ok(name: str) -> bool:
    try:
        return (name % 1) != (name % 2)
    except (TypeError, ValueError):
        return False


class VideoWriter:
    """Appends RGB frames to one open video file; use :func:`open_video_writer`."""

    def __init__(self, path: str, ext: str, width: int, height: int, fps: Fraction) -> None:
        muxer, codec, pix_fmt = VIDEO_WRITE_FORMATS[ext]
        self.pix_fmt, self.written, self.size = pix_fmt, 0, (height, width)
        self.time_base = 1 / fps
        self._container = av.open(path, "w", format=muxer)
        options = {"qp": "0", "preset": "medium"} if codec == "libx264" else {}
        self._stream = cast(av.VideoStream, self._container.add_stream(codec, rate=fps, options=options))
        self._stream.width, self._stream.height, self._stream.pix_fmt = width, height, pix_fmt
        ctx = self._stream.codec_context
        ctx.time_base = self.time_base
        if pix_fmt.startswith("yuv"):
            ctx.colorspace = _AVCOL_SPC_SMPTE170M
            ctx.color_range = int(_RANGE)

    def write(self, frames: np.ndarray) -> None:
        """Append uint8 ``(n, H, W, 3)`` frames."""
        for rgb in frames:
            frame = _rgb_frame(rgb)
            if self.pix_fmt.startswith("yuv"):
                frame = frame.reformat(format=self.pix_fmt, dst_colorspace=_COLORSPACE,
                                       dst_color_range=_RANGE, interpolation=_SWS_FLAGS)
            else:
                frame = frame.reformat(format=self.pix_fmt, interpolation=_SWS_FLAGS)
            frame.pts = self.written
            frame.time_base = self.time_base
            self.written += 1
            self._container.mux(self._stream.encode(frame))

    def close(self) -> None:
        self._container.mux(self._stream.encode(None))
        self._container.close()


class PngSequenceWriter:
    """Writes frame ``i`` (from 1) to ``pattern % i``; the files appear only when all are written.

    Each frame goes to an unnamed file (see :func:`ncodec.container.atomic.unnamed_output`), held
    open until the sequence is complete, so a killed decode leaves nothing behind. Open files are
    a limited resource: past a budget taken from the process's limit, and where the system has no
    unnamed files, frames go to named temporary files instead, which a later run sweeps if this
    one is killed.
    """

    def __init__(self, pattern: str) -> None:
        self.pattern, self.written = pattern, 0
        self.temps: list[tuple[str | int, str]] = []  # (named temporary file or open unnamed file, target)
        self.directory = os.path.dirname(pattern) or "."
        if not os.path.isdir(self.directory):
            raise UsageError(f"cannot write '{pattern}': directory '{self.directory}' does not exist")
        self.unnamed_budget = _open_file_budget()

    def write(self, frames: np.ndarray) -> None:
        from PIL import Image

        for rgb in frames:
            self.written += 1
            target = self.pattern % self.written
            image = Image.fromarray(np.ascontiguousarray(rgb))
            fd = open_unnamed(Path(self.directory)) if self.unnamed_budget > 0 else None
            if fd is not None:
                self.unnamed_budget -= 1
                self.temps.append((fd, target))
                image.save(f"/proc/self/fd/{fd}", format="PNG")
                continue
            tmp = str(temp_path_for(Path(target)))
            self.temps.append((tmp, target))
            image.save(tmp, format="PNG")

    def commit(self) -> None:
        while self.temps:
            tmp, target = self.temps.pop(0)
            if isinstance(tmp, int):
                try:
                    link_unnamed(tmp, Path(target))
                finally:
                    os.close(tmp)
            else:
                os.replace(tmp, target)

    def discard(self) -> None:
        for tmp, _ in self.temps:
            with contextlib.suppress(OSError):
                if isinstance(tmp, int):
                    os.close(tmp)
                else:
                    os.unlink(tmp)
        self.temps = []


def _open_file_budget() -> int:
    """How many frames may be held as open unnamed files: a quarter of the open-file limit."""
    try:
        import resource

        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):
        return 0
    if soft == resource.RLIM_INFINITY or soft < 0:
        soft = 1 << 16
    return min(soft, 1 << 16) // 4


@contextmanager
def open_video_writer(path: str | os.PathLike[str], width: int, height: int, fps: Fraction,
                      overwrite: bool = True) -> Iterator[VideoWriter | PngSequenceWriter]:
    """A writer whose output appears under ``path`` only if the block succeeds.

    ``.mkv`` / ``.mp4`` / ``.y4m`` as :func:`write_video`; a ``.png`` name with a printf pattern
    (``frames_%04d.png``) writes a numbered PNG per frame. ``overwrite=False`` refuses to replace
    existing frames of a sequence (single files are checked by the caller).
    """
    if is_png_sequence(path):
        writer = PngSequenceWriter(os.fspath(path))
        try:
            yield writer
            if not overwrite:
                existing = [t for _, t in writer.temps if os.path.exists(t)]
                if existing:
                    raise UsageError(f"'{existing[0]}' exists (use -f to overwrite)")
            writer.commit()
        except BaseException:
            writer.discard()
            raise
        return
    ext = output_extension(path, VIDEO_WRITE_FORMATS, "video")
    with atomic_output(path) as tmp:
        video_writer = VideoWriter(tmp, ext, width, height, Fraction(fps))
        try:
            yield video_writer
        finally:
            video_writer.close()


def _validate_video(path: str | os.PathLike[str], video: VideoData) -> np.ndarray:
    where = f"cannot write '{os.fspath(path)}'"
    if not isinstance(video, VideoData):
        raise UsageError(f"{where}: expected VideoData, got {type(video).__name__}")
    frames = np.asarray(video.frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or 0 in frames.shape:
        raise UsageError(f"{where}: frames must be non-empty uint8 (T, H, W, 3), got shape {frames.shape}")
    if frames.dtype != np.uint8:
        raise UsageError(f"{where}: frames must be uint8, got {frames.dtype}")
    return frames


def _as_fraction(path: str | os.PathLike[str], fps: object) -> Fraction:
    """The exact frame rate to write.

    Fractions and integers are taken as they are. A float is a lossy spelling of a rate, so it is
    snapped: to the NTSC rate ``k * 1000/1001`` it is within 0.005 of (29.97 means 30000/1001),
    otherwise to the nearest ratio with a denominator of at most 1001.
    """
    try:
        if isinstance(fps, float):
            value = Fraction(fps).limit_denominator(1001)
            for k in (24, 30, 48, 60, 120, 240):
                if abs(fps - k * 1000 / 1001) < 0.005:
                    value = Fraction(k * 1000, 1001)
        else:
            value = Fraction(cast(int, fps))
    except (TypeError, ValueError):
        value = Fraction(0)
    if value <= 0:
        raise UsageError(f"cannot write '{os.fspath(path)}': frame rate must be positive, got {fps!r}")
    return value


__all__ = [
    "MAX_FRAMES",
    "MAX_FRAME_PIXELS",
    "MAX_VIDEO_BYTES",
    "VIDEO_WRITE_FORMATS",
    "PngSequenceWriter",
    "VideoData",
    "VideoWriter",
    "YUVPlanes",
    "is_png_sequence",
    "open_video_writer",
    "read_video",
    "read_video_yuv420",
    "rgb_to_yuv420",
    "write_video",
    "yuv420_to_rgb",
]
