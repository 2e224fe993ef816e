"""Classical codecs as baselines: real files in memory, their real sizes, decoded back.

Every baseline writes what a user of that codec would store (a JPEG/WebP/AVIF file, an Ogg Opus or
MP3 file, an MP4 file) into a ``BytesIO``; the length of those bytes is the rate, headers and
container included, exactly as the size of a ``.nc`` file is ncodec's rate. The bytes are then
decoded by an ordinary decoder and the result is scored against the input.

Settings (the sweeps of :data:`BASELINES`):

* **JPEG** (Pillow/libjpeg): quality 5..90, ``optimize=True`` (optimal Huffman tables), 4:2:0
  chroma below quality 90 and 4:4:4 from 90 up (what libjpeg's own tools do by default).
* **WebP** (Pillow/libwebp): quality 5..90, ``method=6`` (the slowest, best-compressing search).
  Lossy WebP is always 4:2:0.
* **AVIF** (Pillow/libavif): quality 10..90, ``speed=4``, 4:2:0, one thread (``max_threads=1``,
  so that the output does not depend on the machine's core count).
* **Opus** (libopus in Ogg): 6, 8, 12, 16, 24, 32 kbit/s, default VBR, complexity 10, 20 ms frames.
  libopus codes at 48 kHz here: input is resampled to 48 kHz and the output back to the input's
  rate with :func:`ncodec.media.resample`, so the resampler is the same one ncodec's codecs use.
* **MP3** (LAME): 32..128 kbit/s CBR at the input's own rate when MP3 has it (16, 22.05, 24, 32,
  44.1 or 48 kHz); other rates are resampled to the next supported rate up, and back.
* **x264 / x265 / SVT-AV1** (FFmpeg's libx264, libx265, libsvtav1): constant-quality (CRF) sweeps,
  ``yuv420p``, default GOP and tuning, presets ``medium`` / ``medium`` / ``8``, one thread each
  (x264 ``threads=1``; x265 ``pools=none:frame-threads=1``; SVT-AV1 ``lp=1``) so that a run is
  reproducible bit for bit. Muxed into MP4 (Matroska writes a random segment UID, MP4 is
  deterministic). RGB input is converted to 4:2:0 and back with :mod:`ncodec.media.video`'s
  BT.601 conversion, the convention of the whole project.

**Alignment of audio.** Opus and MP3 encoders add priming samples (Opus 312 at 48 kHz, LAME 576 +
decoder delay) and pad the end. Both containers record it (Ogg Opus "pre-skip" and the end granule
position; the LAME/Xing header's delay and padding), and FFmpeg's decoders drop those samples, so
decoded sample ``k`` is input sample ``k``. This is checked, not assumed: the tests measure the lag
by cross-correlation on a chirp-and-noise test signal. Any residual length difference (a frame of
padding) is trimmed or zero-padded to the input length and reported as ``length_diff``.

**Video frames** are built fresh from arrays (``VideoFrame.from_ndarray``) with ``pts`` and
``time_base`` set on every frame: a frame carried over from a decoder keeps its picture type and
makes x264 code every frame as intra.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import Any, cast

import numpy as np

from ncodec.errors import NcodecError

Setting = int


class BaselineError(NcodecError):
    """A baseline cannot code this input (e.g. JPEG and 16-bit pixels); the point is skipped, not faked."""


@dataclass
class Encoded:
    """One baseline's encoded file.

    ``data`` is the complete file (its length is the rate); ``bitstream_bytes`` is the size of the
    codec's own packets plus codec headers, without the container, where that differs.
    """

    data: bytes
    bitstream_bytes: int | None = None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Baseline:
    """A classical codec: its name, modality, setting sweep and encode/decode pair."""

    name: str
    modality: str
    settings: tuple[Setting, ...]
    label_format: str  # e.g. "q{}" -> "q50", "{}kbps" -> "12kbps", "crf{}"
    encode: Callable[[Any, Setting], Encoded]
    decode: Callable[[Encoded, Any], Any]
    description: str

    def label(self, setting: Setting) -> str:
        return self.label_format.format(setting)


# --------------------------------------------------------------------------------------------------
# images (Pillow)


def _image_array(pixels: np.ndarray) -> np.ndarray:
    arr = np.asarray(pixels)
    if arr.dtype != np.uint8:
        raise BaselineError(f"classical image baselines take 8-bit pixels, got {arr.dtype}")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3):
        raise BaselineError(f"classical image baselines take grey or RGB pixels, got shape {arr.shape}")
    return arr


def _pil_image(arr: np.ndarray) -> Any:
    from PIL import Image

    return Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr, mode="L" if arr.shape[2] == 1 else "RGB")


def _pil_decode(data: bytes, channels: int) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        out = np.asarray(im.convert("L" if channels == 1 else "RGB"))
    return out[:, :, None] if channels == 1 else out


def _pixels_of(media: Any) -> np.ndarray:
    return np.asarray(getattr(media, "pixels", media))


def jpeg_encode(media: Any, quality: Setting) -> Encoded:
    arr = _image_array(_pixels_of(media))
    buf = io.BytesIO()
    subsampling = "4:2:0" if quality < 90 else "4:4:4"
    _pil_image(arr).save(buf, format="JPEG", quality=int(quality), optimize=True, subsampling=subsampling)
    return Encoded(buf.getvalue(), info={"subsampling": subsampling})


def webp_encode(media: Any, quality: Setting) -> Encoded:
    arr = _image_array(_pixels_of(media))
    img = _pil_image(arr).convert("RGB")  # lossy WebP has no grey mode
    buf = io.BytesIO()
    img.save(buf, format="WEBP", quality=int(quality), method=6)
    return Encoded(buf.getvalue())


def avif_encode(media: Any, quality: Setting) -> Encoded:
    arr = _image_array(_pixels_of(media))
    img = _pil_image(arr).convert("RGB")
    buf = io.BytesIO()
    img.save(buf, format="AVIF", quality=int(quality), speed=4, subsampling="4:2:0", max_threads=1)
    return Encoded(buf.getvalue())


def image_decode(encoded: Encoded, like: Any) -> np.ndarray:
    """Decode an image baseline's file to pixels with the reference's channel count."""
    channels = _image_array(_pixels_of(like)).shape[2]
    return _pil_decode(encoded.data, channels)


def jpeg(pixels: np.ndarray, quality: int) -> tuple[int, np.ndarray]:
    """JPEG round trip: (file bytes, decoded pixels)."""
    enc = jpeg_encode(pixels, quality)
    return len(enc.data), image_decode(enc, pixels)


def webp(pixels: np.ndarray, quality: int) -> tuple[int, np.ndarray]:
    """WebP round trip: (file bytes, decoded pixels)."""
    enc = webp_encode(pixels, quality)
    return len(enc.data), image_decode(enc, pixels)


def avif(pixels: np.ndarray, quality: int) -> tuple[int, np.ndarray]:
    """AVIF round trip: (file bytes, decoded pixels)."""
    enc = avif_encode(pixels, quality)
    return len(enc.data), image_decode(enc, pixels)


# --------------------------------------------------------------------------------------------------
# audio (PyAV)

OPUS_RATE = 48_000
#: Muxer flag: no random Ogg serial numbers, no library version strings, so equal input gives equal bytes.
_BITEXACT = {"fflags": "+bitexact"}
MP3_RATES = (16_000, 22_050, 24_000, 32_000, 44_100, 48_000)


def _audio_of(media: Any) -> tuple[np.ndarray, int]:
    samples = np.asarray(media.samples, dtype=np.float32)
    if samples.ndim != 2 or samples.shape[0] not in (1, 2) or samples.shape[1] == 0:
        raise BaselineError(f"audio baselines take mono or stereo (channels, n) audio, got {samples.shape}")
    return samples, int(media.sample_rate)


def _encode_audio(samples: np.ndarray, rate: int, codec: str, muxer: str, sample_fmt: str,
                  bitrate: int) -> Encoded:
    import av

    channels = samples.shape[0]
    layout = "mono" if channels == 1 else "stereo"
    buf = io.BytesIO()
    packet_bytes = 0
    with cast("av.container.OutputContainer", av.open(buf, "w", format=muxer, options=_BITEXACT)) as container:
        stream = cast("av.AudioStream", container.add_stream(codec, rate=rate))
        stream.bit_rate = int(bitrate)
        stream.layout = layout
        stream.codec_context.format = sample_fmt
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples.T.reshape(1, -1)), format="flt",
                                           layout=layout)
        frame.sample_rate = rate
        frame.pts = 0
        frame.time_base = Fraction(1, rate)
        # PyAV re-chunks to the encoder's frame size and converts the sample format
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            packet_bytes += packet.size
            container.mux(packet)
    return Encoded(buf.getvalue(), bitstream_bytes=packet_bytes, info={"codec_rate": rate})


def _decode_audio(data: bytes, channels: int) -> tuple[np.ndarray, int]:
    import av

    pieces: list[np.ndarray] = []
    with cast("av.container.InputContainer", av.open(io.BytesIO(data))) as container:
        stream = container.streams.audio[0]
        rate = int(stream.codec_context.sample_rate)
        for frame in container.decode(stream):
            arr = frame.to_ndarray()
            n_ch = len(frame.layout.channels)
            arr = arr.reshape(n_ch, -1) if frame.format.is_planar else arr.reshape(-1, n_ch).T
            pieces.append(arr.astype(np.float32))
    if not pieces:
        return np.zeros((channels, 0), dtype=np.float32), rate
    out = np.concatenate(pieces, axis=1)
    if out.shape[0] != channels:
        out = np.repeat(out.mean(axis=0, keepdims=True), channels, axis=0) if channels > 1 else out.mean(
            axis=0, keepdims=True)
    return out, rate


def _fit_length(samples: np.ndarray, n: int) -> tuple[np.ndarray, int]:
    diff = samples.shape[1] - n
    if diff > 0:
        samples = samples[:, :n]
    elif diff < 0:
        samples = np.concatenate([samples, np.zeros((samples.shape[0], -diff), dtype=samples.dtype)], axis=1)
    return np.ascontiguousarray(samples), diff


def opus_encode(media: Any, kbps: Setting) -> Encoded:
    from ncodec.media.audio import resample

    samples, rate = _audio_of(media)
    x = resample(samples, rate, OPUS_RATE)
    return _encode_audio(x, OPUS_RATE, "libopus", "ogg", "flt", int(kbps * 1000))


def mp3_rate_for(rate: int) -> int:
    """The sample rate MP3 codes an input at: the input's own rate if MP3 has it, else the next up."""
    for r in MP3_RATES:
        if r >= rate:
            return r
    return MP3_RATES[-1]


def mp3_encode(media: Any, kbps: Setting) -> Encoded:
    from ncodec.media.audio import resample

    samples, rate = _audio_of(media)
    codec_rate = mp3_rate_for(rate)
    x = resample(samples, rate, codec_rate) if codec_rate != rate else samples
    return _encode_audio(x, codec_rate, "libmp3lame", "mp3", "fltp", int(kbps * 1000))


def audio_decode(encoded: Encoded, like: Any) -> Any:
    """Decode an audio baseline's file to :class:`AudioData` at the reference's rate and length."""
    from ncodec.media.audio import AudioData, resample

    samples, rate = _audio_of(like)
    decoded, codec_rate = _decode_audio(encoded.data, samples.shape[0])
    if codec_rate != rate:
        decoded = resample(decoded, codec_rate, rate)
    fitted, diff = _fit_length(decoded, samples.shape[1])
    encoded.info["length_diff"] = int(diff)
    return AudioData(fitted, rate, source_format=None)


def opus(samples: np.ndarray, sample_rate: int, kbps: int) -> tuple[int, np.ndarray]:
    """Opus round trip of ``(channels, n)`` float32 audio: (Ogg file bytes, decoded samples)."""
    from ncodec.media.audio import AudioData

    media = AudioData(np.asarray(samples, dtype=np.float32), int(sample_rate))
    enc = opus_encode(media, kbps)
    return len(enc.data), audio_decode(enc, media).samples


def mp3(samples: np.ndarray, sample_rate: int, kbps: int) -> tuple[int, np.ndarray]:
    """MP3 round trip of ``(channels, n)`` float32 audio: (MP3 file bytes, decoded samples)."""
    from ncodec.media.audio import AudioData

    media = AudioData(np.asarray(samples, dtype=np.float32), int(sample_rate))
    enc = mp3_encode(media, kbps)
    return len(enc.data), audio_decode(enc, media).samples


# --------------------------------------------------------------------------------------------------
# video (PyAV)

@lru_cache(maxsize=1)
def _x264_params() -> dict[str, str]:
    """Extra libx264 settings that make its output a function of the input alone.

    On a CPU with AVX-512, libx264's AVX-512 kernels made two encodes of the same frames in one
    process differ now and then (measured: 5 of 12 processes of 10 encodes each produced a second
    or third distinct file for the same 8 frames, whatever memory the input frames lay in). Capping
    its kernels at AVX2 gave 480 of 480 identical encodes, the same bytes as the usual result: x264's
    vector kernels compute what its C code computes, so the cap changes speed only. The cap is set
    only where ``/proc/cpuinfo`` reports AVX-512, because naming AVX2 on a CPU without it would
    make x264 run instructions that CPU lacks.
    """
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            has_avx512 = any(line.startswith("flags") and " avx512f" in line for line in f)
    except OSError:
        has_avx512 = False
    return {"x264-params": "asm=AVX2"} if has_avx512 else {}


#: encoder -> (FFmpeg options for the given CRF, preset description)
_VIDEO_OPTIONS: dict[str, Callable[[int], dict[str, str]]] = {
    "libx264": lambda crf: {"crf": str(crf), "preset": "medium", "threads": "1", **_x264_params()},
    "libx265": lambda crf: {"crf": str(crf), "preset": "medium",
                            "x265-params": "pools=none:frame-threads=1:log-level=error"},
    "libsvtav1": lambda crf: {"crf": str(crf), "preset": "8", "svtav1-params": "lp=1"},
}


def _video_of(media: Any) -> tuple[np.ndarray, Fraction]:
    frames = np.asarray(media.frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise BaselineError(f"video baselines take uint8 (T, H, W, 3) RGB frames, got {frames.shape} {frames.dtype}")
    if frames.shape[1] % 2 or frames.shape[2] % 2:
        raise BaselineError(f"4:2:0 video baselines need even frame sizes, got {frames.shape[2]}x{frames.shape[1]}")
    return frames, Fraction(media.fps)


#: Zeroed bytes after the last plane of every frame handed to a video encoder (see below).
ENCODER_FRAME_SLACK = 64 * 1024


def _yuv420_planes_frame(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> Any:
    """A yuv420p frame over memory this process owns and has fully initialised.

    Why not ``VideoFrame.from_ndarray``: it copies into a buffer from ``av_frame_get_buffer``,
    which pads the plane heights to a multiple of 32 rows and leaves that padding uninitialised,
    and vector kernels may read past the last row of a plane. Here the three planes (edge-padded
    to the layout PyAV can describe, see below) sit back to back in one zero-initialised numpy
    buffer followed by :data:`ENCODER_FRAME_SLACK` zero bytes, and the frame points into it (PyAV
    keeps the buffer alive), so every byte an encoder can read is defined. (This alone did not stop
    libx264 from varying on AVX-512 CPUs; :func:`_x264_params` does.)
    """
    import av

    height, width = y.shape
    # PyAV derives the frame's height from the buffer's row count as ``rows // 6 * 4`` and the
    # chroma stride as half the luma stride, so the luma plane is laid out ``padded_height`` (a
    # multiple of 4) rows tall and ``padded_width`` (even) bytes wide, the extra rows and columns
    # repeating the edge pixels. A taller frame would be rescaled by PyAV to the stream's size, so
    # it is cut back to ``height`` rows by FFmpeg's crop filter, which only narrows the frame's
    # view and keeps pointing into this buffer.
    padded_height, padded_width = -(-height // 4) * 4, -(-width // 2) * 2
    chroma_height, chroma_width = padded_height // 2, padded_width // 2
    luma_bytes, chroma_bytes = padded_height * padded_width, chroma_height * chroma_width
    body_bytes = luma_bytes + 2 * chroma_bytes
    backing = np.zeros(body_bytes + ENCODER_FRAME_SLACK, dtype=np.uint8)
    body = backing[:body_bytes]
    body[:luma_bytes] = _edge_padded(y, padded_height, padded_width).reshape(-1)
    body[luma_bytes: luma_bytes + chroma_bytes] = _edge_padded(u, chroma_height, chroma_width).reshape(-1)
    body[luma_bytes + chroma_bytes:] = _edge_padded(v, chroma_height, chroma_width).reshape(-1)
    frame = av.VideoFrame.from_numpy_buffer(body.reshape(-1, padded_width), format="yuv420p", width=width)
    return frame if padded_height == height else _cropped_in_place(frame, height)


def _cropped_in_place(frame: Any, height: int) -> Any:
    """The top ``height`` rows of ``frame``, sharing its buffer (the crop filter copies nothing)."""
    import av

    graph = av.filter.Graph()
    source = graph.add_buffer(width=frame.width, height=frame.height, format=frame.format.name, time_base=Fraction(1, 1))
    crop = graph.add("crop", f"{frame.width}:{height}:0:0:exact=1")
    sink = graph.add("buffersink")
    source.link_to(crop)
    crop.link_to(sink)
    graph.configure()
    frame.pts = 0
    graph.push(frame)
    return graph.pull()


def _edge_padded(plane: np.ndarray, height: int, width: int) -> np.ndarray:
    """``plane`` grown to ``height x width`` by repeating its last row and column."""
    grow = ((0, height - plane.shape[0]), (0, width - plane.shape[1]))
    return np.pad(plane, grow, mode="edge") if any(after for _, after in grow) else plane


def _encode_video(media: Any, codec: str, crf: int) -> Encoded:
    import av

    from ncodec.media.video import rgb_to_yuv420

    frames, fps = _video_of(media)
    _, height, width, _ = frames.shape
    y, u, v = rgb_to_yuv420(frames)
    time_base = 1 / fps
    buf = io.BytesIO()
    packet_bytes = 0
    if codec == "libsvtav1":
        os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its configuration banner otherwise
    with cast("av.container.OutputContainer", av.open(buf, "w", format="mp4", options=_BITEXACT)) as container:
        stream = cast("av.VideoStream", container.add_stream(codec, rate=fps, options=_VIDEO_OPTIONS[codec](int(crf))))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = time_base
        stream.codec_context.colorspace = 6  # SMPTE 170M = BT.601, as converted
        stream.codec_context.color_range = 1  # limited ("MPEG") range
        for index in range(frames.shape[0]):
            frame = _yuv420_planes_frame(y[index], u[index], v[index])  # fresh frame: no inherited pict_type
            frame.pts = index
            frame.time_base = time_base
            for packet in stream.encode(frame):
                packet_bytes += packet.size
                container.mux(packet)
        for packet in stream.encode(None):
            packet_bytes += packet.size
            container.mux(packet)
        extradata = stream.codec_context.extradata or b""
    return Encoded(buf.getvalue(), bitstream_bytes=packet_bytes + len(extradata))


def video_decode(encoded: Encoded, like: Any) -> Any:
    """Decode a video baseline's MP4 to RGB :class:`VideoData` with the reference's frame count."""
    import av

    from ncodec.media.video import VideoData, yuv420_to_rgb

    frames, fps = _video_of(like)
    ys: list[np.ndarray] = []
    us: list[np.ndarray] = []
    vs: list[np.ndarray] = []
    with cast("av.container.InputContainer", av.open(io.BytesIO(encoded.data))) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            yuv = frame if frame.format.name == "yuv420p" else frame.reformat(format="yuv420p")
            arr = yuv.to_ndarray()  # (H * 3 / 2, W): Y rows, then U and V quarter planes
            h, w = frame.height, frame.width
            ys.append(arr[:h])
            chroma = arr[h:].reshape(2, h // 2, w // 2)
            us.append(chroma[0])
            vs.append(chroma[1])
    if len(ys) != frames.shape[0]:
        raise BaselineError(f"decoder returned {len(ys)} frames for {frames.shape[0]}")
    rgb = yuv420_to_rgb(np.stack(ys), np.stack(us), np.stack(vs))
    return VideoData(rgb, fps, source_format=None)


def x264_encode(media: Any, crf: Setting) -> Encoded:
    return _encode_video(media, "libx264", int(crf))


def x265_encode(media: Any, crf: Setting) -> Encoded:
    return _encode_video(media, "libx265", int(crf))


def svtav1_encode(media: Any, crf: Setting) -> Encoded:
    return _encode_video(media, "libsvtav1", int(crf))


def x264(frames: np.ndarray, fps: Fraction, crf: int) -> tuple[int, np.ndarray]:
    """x264 round trip of uint8 RGB ``(T, H, W, 3)``: (MP4 file bytes, decoded RGB frames)."""
    from ncodec.media.video import VideoData

    media = VideoData(np.asarray(frames), Fraction(fps))
    enc = x264_encode(media, crf)
    return len(enc.data), video_decode(enc, media).frames


def x265(frames: np.ndarray, fps: Fraction, crf: int) -> tuple[int, np.ndarray]:
    """x265 round trip: (MP4 file bytes, decoded RGB frames)."""
    from ncodec.media.video import VideoData

    media = VideoData(np.asarray(frames), Fraction(fps))
    enc = x265_encode(media, crf)
    return len(enc.data), video_decode(enc, media).frames


def svtav1(frames: np.ndarray, fps: Fraction, crf: int) -> tuple[int, np.ndarray]:
    """SVT-AV1 round trip: (MP4 file bytes, decoded RGB frames)."""
    from ncodec.media.video import VideoData

    media = VideoData(np.asarray(frames), Fraction(fps))
    enc = svtav1_encode(media, crf)
    return len(enc.data), video_decode(enc, media).frames


# --------------------------------------------------------------------------------------------------
# registry

BASELINES: dict[str, Baseline] = {
    b.name: b
    for b in (
        Baseline("jpeg", "image", (5, 10, 20, 30, 40, 50, 60, 70, 80, 90), "q{}", jpeg_encode, image_decode,
                 "JPEG (libjpeg via Pillow), optimize, 4:2:0 below q90"),
        Baseline("webp", "image", (5, 10, 20, 30, 40, 50, 60, 70, 80, 90), "q{}", webp_encode, image_decode,
                 "WebP (libwebp via Pillow), method 6"),
        Baseline("avif", "image", (10, 20, 30, 40, 50, 60, 70, 80, 90), "q{}", avif_encode, image_decode,
                 "AVIF (libavif via Pillow), speed 4, 4:2:0"),
        Baseline("opus", "audio", (6, 8, 12, 16, 24, 32), "{}kbps", opus_encode, audio_decode,
                 "Opus (libopus) in Ogg, 48 kHz, VBR"),
        Baseline("mp3", "audio", (32, 40, 48, 64, 96, 128), "{}kbps", mp3_encode, audio_decode,
                 "MP3 (LAME) CBR"),
        Baseline("x264", "video", (17, 22, 27, 32, 37, 42), "crf{}", x264_encode, video_decode,
                 "H.264 (x264) preset medium, CRF, yuv420p, MP4"),
        Baseline("x265", "video", (17, 22, 27, 32, 37, 42), "crf{}", x265_encode, video_decode,
                 "HEVC (x265) preset medium, CRF, yuv420p, MP4"),
        Baseline("svtav1", "video", (20, 28, 36, 44, 52, 60), "crf{}", svtav1_encode, video_decode,
                 "AV1 (SVT-AV1) preset 8, CRF, yuv420p, MP4"),
    )
}

#: The context anchor per modality: the codec every other baseline is also compared against.
ANCHORS: dict[str, str] = {"image": "jpeg", "audio": "opus", "video": "x264"}


def baselines_for(modality: str) -> list[Baseline]:
    return [b for b in BASELINES.values() if b.modality == modality]


__all__ = [
    "ANCHORS",
    "BASELINES",
    "MP3_RATES",
    "OPUS_RATE",
    "Baseline",
    "BaselineError",
    "Encoded",
    "audio_decode",
    "avif",
    "baselines_for",
    "image_decode",
    "jpeg",
    "mp3",
    "mp3_rate_for",
    "opus",
    "svtav1",
    "video_decode",
    "webp",
    "x264",
    "x265",
]
