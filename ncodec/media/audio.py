"""Audio reading, writing and resampling with PyAV (FFmpeg): numpy in and out.

Policies:

* **Samples** are ``float32`` arrays of shape ``(channels, n)`` in [-1, 1], at the file's own rate
  (reading never resamples; call :func:`resample` explicitly). Integer PCM is scaled by its full
  range (s16 by 1/32768), so 16-bit files round-trip exactly through :func:`write_audio`. Decoded
  float samples beyond [-1, 1] (lossy decoders overshoot) are clipped, and NaN becomes 0.
* **Which stream**: the first audio stream of any file FFmpeg reads (wav, flac, mp3, ogg/opus,
  m4a, or the sound track of a video file).
* **Limits**: at most :data:`MAX_CHANNELS` channels, :data:`MAX_AUDIO_SECONDS` of audio and a
  sample rate in [:data:`MIN_SAMPLE_RATE`, :data:`MAX_SAMPLE_RATE`]. The declared duration is
  checked before decoding, and the decoded length while decoding (headers can lie).
* **Writing** is 16-bit PCM (WAV) or 16-bit FLAC, with plain rounding and clipping, no dither:
  deterministic output, and exact for input that came from 16-bit files.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from typing import cast

import av
import numpy as np

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

#: Most channels accepted (7.1 surround).
MAX_CHANNELS = 8
#: Longest audio accepted, in seconds. Two hours of 48 kHz stereo is 2.6 GiB of float32: beyond that
#: the whole-file-in-memory design of the codecs stops being reasonable.
MAX_AUDIO_SECONDS = 2 * 60 * 60
#: Sample-rate range accepted (FFmpeg itself tolerates nonsense rates from damaged headers).
MIN_SAMPLE_RATE = 1000
MAX_SAMPLE_RATE = 384_000

#: Output extension -> (FFmpeg muxer, FFmpeg encoder).
AUDIO_WRITE_FORMATS: dict[str, tuple[str, str]] = {
    ".wav": ("wav", "pcm_s16le"),
    ".flac": ("flac", "flac"),
}

# Full-scale divisor per FFmpeg sample format (planar and packed share it).
_INT_SCALE: dict[str, float] = {
    "u8": 128.0,
    "s16": 32768.0,
    "s32": 2147483648.0,
    "s64": 9223372036854775808.0,
}
_CHUNK = 1 << 16  # samples per frame when encoding / resampling: bounds per-call memory


@dataclass
class AudioData:
    """Decoded audio: ``samples`` is float32 ``(channels, n)`` in [-1, 1] at ``sample_rate`` Hz.

    ``source_format`` is FFmpeg's demuxer name ("wav", "flac", "mp3", "ogg", "mov", ...) or None.
    """

    samples: np.ndarray
    sample_rate: int
    source_format: str | None = None

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def num_samples(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration(self) -> float:
        """Duration in seconds."""
        return self.num_samples / self.sample_rate


# --------------------------------------------------------------------------------------------------
# reading


def read_audio(source: SourceLike) -> AudioData:
    """Decode the first audio stream of ``source`` (a path or the file's bytes) to :class:`AudioData`.

    No resampling and no channel mixing: the file's rate and channels come back as they are.
    Raises :class:`InputError` for unreadable files, files without audio and files over the limits.
    """
    name = check_path(source)
    try:
        with av.open(av_target(source), metadata_errors="ignore") as container:
            return _decode(name, container)
    except Exception as exc:
        raise reraise_as_input(name, exc) from None


def _decode(name: str, container: av.container.InputContainer) -> AudioData:
    if not container.streams.audio:
        raise input_error(name, "no audio stream")
    stream = container.streams.audio[0]
    ctx = stream.codec_context
    rate = int(ctx.sample_rate or 0)
    channels = int(ctx.channels or 0)
    _check_rate_channels(name, rate, channels)
    declared = _declared_seconds(container, stream)
    if declared is not None and declared > MAX_AUDIO_SECONDS + 1:
        raise input_error(name, f"audio lasts {declared:.0f} s, more than the limit of {MAX_AUDIO_SECONDS} s")
    max_samples = MAX_AUDIO_SECONDS * rate
    chunks: list[np.ndarray] = []
    total = 0
    for frame in container.decode(stream):
        if frame.sample_rate != rate:
            raise input_error(name, f"sample rate changes mid-stream ({rate} -> {frame.sample_rate} Hz)")
        block = _frame_to_float(frame)
        if block.shape[0] != channels:
            raise input_error(name, f"channel count changes mid-stream ({channels} -> {block.shape[0]})")
        total += block.shape[1]
        if total > max_samples:
            raise input_error(name, f"audio is longer than the limit of {MAX_AUDIO_SECONDS} s")
        chunks.append(block)
    if total == 0:
        raise input_error(name, "audio stream has no samples")
    samples = np.concatenate(chunks, axis=1) if len(chunks) > 1 else chunks[0]
    np.nan_to_num(samples, copy=False, nan=0.0, posinf=1.0, neginf=-1.0)
    np.clip(samples, -1.0, 1.0, out=samples)
    return AudioData(np.ascontiguousarray(samples, dtype=np.float32), rate, _format_name(container))


class AudioBlocks:
    """Iterate over a file's first audio stream in blocks, optionally resampled: constant memory.

    ``sample_rate``, ``channels`` and ``source_format`` describe the file once opened; iterating
    yields float32 ``(channels, n)`` blocks at ``rate`` (the file's own rate if None), checked and
    cleaned as :func:`read_audio` checks them. After the last block, :attr:`input_samples` is the
    number of samples decoded and :attr:`expected_samples` the length :func:`resample` would give;
    the stream itself may run a few samples past it (the resampler's flush), which the caller trims.
    """

    def __init__(self, source: SourceLike, rate: int | None = None) -> None:
        self.name = check_path(source)
        self._source = source
        self.rate = rate
        self.input_samples = 0
        try:
            self._container = av.open(av_target(source), metadata_errors="ignore")
        except Exception as exc:
            raise reraise_as_input(self.name, exc) from None
        try:
            if not self._container.streams.audio:
                raise input_error(self.name, "no audio stream")
            self._stream = self._container.streams.audio[0]
            ctx = self._stream.codec_context
            self.sample_rate = int(ctx.sample_rate or 0)
            self.channels = int(ctx.channels or 0)
            _check_rate_channels(self.name, self.sample_rate, self.channels)
            declared = _declared_seconds(self._container, self._stream)
            if declared is not None and declared > MAX_AUDIO_SECONDS + 1:
                raise input_error(self.name, f"audio lasts {declared:.0f} s, more than the limit of "
                                             f"{MAX_AUDIO_SECONDS} s")
            self.source_format = _format_name(self._container)
        except BaseException:
            self._container.close()
            raise

    @property
    def output_rate(self) -> int:
        return int(self.rate or self.sample_rate)

    @property
    def expected_samples(self) -> int:
        return round(self.input_samples * self.output_rate / self.sample_rate)

    def __enter__(self) -> AudioBlocks:
        return self

    def __exit__(self, *exc: object) -> None:
        self._container.close()

    def __iter__(self) -> Iterator[np.ndarray]:
        resampler = StreamResampler(self.channels, self.sample_rate, self.output_rate)
        max_samples = MAX_AUDIO_SECONDS * self.sample_rate
        try:
            for frame in self._container.decode(self._stream):
                if frame.sample_rate != self.sample_rate:
                    raise input_error(self.name, f"sample rate changes mid-stream ({self.sample_rate} -> "
                                                 f"{frame.sample_rate} Hz)")
                block = _frame_to_float(frame)
                if block.shape[0] != self.channels:
                    raise input_error(self.name, f"channel count changes mid-stream ({self.channels} -> "
                                                 f"{block.shape[0]})")
                self.input_samples += block.shape[1]
                if self.input_samples > max_samples:
                    raise input_error(self.name, f"audio is longer than the limit of {MAX_AUDIO_SECONDS} s")
                np.nan_to_num(block, copy=False, nan=0.0, posinf=1.0, neginf=-1.0)
                np.clip(block, -1.0, 1.0, out=block)
                yield resampler.push(block)
        except NcodecError:
            raise
        except Exception as exc:
            raise reraise_as_input(self.name, exc) from None
        if self.input_samples == 0:
            raise input_error(self.name, "audio stream has no samples")
        yield resampler.finish()


def _check_rate_channels(name: str, rate: int, channels: int) -> None:
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise input_error(
            name, f"sample rate {rate} Hz is outside the supported {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz"
        )
    if channels < 1:
        raise input_error(name, "audio stream has no channels")
    if channels > MAX_CHANNELS:
        raise input_error(name, f"{channels} channels, more than the limit of {MAX_CHANNELS}")


def _declared_seconds(container: av.container.InputContainer, stream: av.AudioStream) -> float | None:
    """The duration the headers declare, if any (cheap, checked before decoding)."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _format_name(container: av.container.Container) -> str:
    return str(container.format.name).split(",")[0]


def _frame_to_float(frame: av.AudioFrame) -> np.ndarray:
    """One decoded frame as float32 (channels, n), scaled by the sample format's full range."""
    fmt = frame.format
    base = fmt.name.rstrip("p") if fmt.is_planar else fmt.name
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if not fmt.is_planar:
        data = data.reshape(-1, channels).T
    if base in ("flt", "dbl"):
        return data.astype(np.float32)
    scale = _INT_SCALE.get(base)
    if scale is None:
        raise ValueError(f"unsupported sample format {fmt.name}")
    if base == "u8":
        return ((data.astype(np.float32) - 128.0) / scale).astype(np.float32)
    return (data.astype(np.float64) / scale).astype(np.float32)


# --------------------------------------------------------------------------------------------------
# writing


def write_audio(path: str | os.PathLike[str], audio: AudioData) -> None:
    """Write ``audio`` as 16-bit WAV (``.wav``) or 16-bit FLAC (``.flac``), chosen by extension.

    Samples are scaled by 32768, rounded to nearest and clipped to [-32768, 32767] (no dither, so
    the output is deterministic and 16-bit input comes back bit-exact). The file is written to a
    temporary name and moved into place. Raises :class:`UsageError` for an unsupported extension
    or malformed :class:`AudioData`.
    """
    ext = output_extension(path, AUDIO_WRITE_FORMATS, "audio")
    muxer, codec = AUDIO_WRITE_FORMATS[ext]
    samples = _validate_audio(path, audio)
    channels, n = samples.shape
    rate = int(audio.sample_rate)
    pcm = _to_s16(samples)
    layout = channel_layout(channels)
    with atomic_output(path) as tmp, av.open(tmp, "w", format=muxer) as container:
        stream = cast(av.AudioStream, container.add_stream(codec, rate=rate, layout=layout))
        stream.format = "s16"
        time_base = Fraction(1, rate)
        for start in range(0, n, _CHUNK):
            block = np.ascontiguousarray(pcm[:, start : start + _CHUNK].T).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(block, format="s16", layout=layout)
            frame.sample_rate = rate
            frame.pts = start
            frame.time_base = time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


class AudioWriter:
    """Write 16-bit WAV or FLAC block by block (constant memory), as :func:`write_audio` does whole.

    Use as a context manager inside :func:`ncodec.media._util.atomic_output` 's temporary path, or
    through :func:`open_audio_writer`, which adds the atomic move into place.
    """

    def __init__(self, path: str, ext: str, rate: int, channels: int) -> None:
        muxer, codec = AUDIO_WRITE_FORMATS[ext]
        self.rate, self.layout, self.written = int(rate), channel_layout(channels), 0
        self._container = av.open(path, "w", format=muxer)
        self._stream = cast(av.AudioStream, self._container.add_stream(codec, rate=self.rate, layout=self.layout))
        self._stream.format = "s16"

    def write(self, samples: np.ndarray) -> None:
        """Append float ``(channels, n)`` samples in [-1, 1]."""
        pcm = _to_s16(np.asarray(samples))
        for start in range(0, pcm.shape[1], _CHUNK):
            block = np.ascontiguousarray(pcm[:, start : start + _CHUNK].T).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(block, format="s16", layout=self.layout)
            frame.sample_rate = self.rate
            frame.pts = self.written
            frame.time_base = Fraction(1, self.rate)
            self.written += block.size // len(frame.layout.channels)
            self._container.mux(self._stream.encode(frame))

    def close(self) -> None:
        self._container.mux(self._stream.encode(None))
        self._container.close()


@contextmanager
def open_audio_writer(path: str | os.PathLike[str], rate: int, channels: int) -> Iterator[AudioWriter]:
    """An :class:`AudioWriter` on a temporary file that replaces ``path`` only if the block succeeds."""
    ext = output_extension(path, AUDIO_WRITE_FORMATS, "audio")
    with atomic_output(path) as tmp:
        writer = AudioWriter(tmp, ext, rate, channels)
        try:
            yield writer
        finally:
            writer.close()


def _validate_audio(path: str | os.PathLike[str], audio: AudioData) -> np.ndarray:
    where = f"cannot write '{os.fspath(path)}'"
    if not isinstance(audio, AudioData):
        raise UsageError(f"{where}: expected AudioData, got {type(audio).__name__}")
    samples = np.asarray(audio.samples)
    if samples.ndim == 1:
        samples = samples[None, :]
    if samples.ndim != 2 or not 1 <= samples.shape[0] <= MAX_CHANNELS:
        raise UsageError(
            f"{where}: samples must be (channels, n) with 1..{MAX_CHANNELS} channels, "
            f"got shape {tuple(np.shape(audio.samples))}"
        )
    if samples.shape[1] == 0:
        raise UsageError(f"{where}: no samples to write")
    if not np.issubdtype(samples.dtype, np.floating):
        raise UsageError(f"{where}: samples must be floating point in [-1, 1], got {samples.dtype}")
    rate = audio.sample_rate
    if not isinstance(rate, int | np.integer) or not MIN_SAMPLE_RATE <= int(rate) <= MAX_SAMPLE_RATE:
        raise UsageError(
            f"{where}: sample rate must be an integer in {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz"
        )
    return samples


def _to_s16(samples: np.ndarray) -> np.ndarray:
    scaled = np.nan_to_num(samples.astype(np.float64), nan=0.0, posinf=1.0, neginf=-1.0) * 32768.0
    return np.clip(np.rint(scaled), -32768, 32767).astype(np.int16)


def channel_layout(channels: int) -> str:
    """FFmpeg's default layout name for a channel count ("mono", "stereo", "5.1", ...)."""
    return str(av.AudioLayout(f"{channels}c").name)


# --------------------------------------------------------------------------------------------------
# processing


def resample(samples: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Resample float ``(channels, n)`` (or ``(n,)``) audio from ``sr_in`` to ``sr_out`` Hz.

    Uses FFmpeg's swresample (through PyAV's ``AudioResampler``, default windowed-sinc filter) on
    float planar samples. The result has exactly ``round(n * sr_out / sr_in)`` samples per channel
    and is time-aligned with the input (sample ``k`` of the output is at time ``k / sr_out``):
    swresample's output starts aligned, so the tail is flushed with zero padding and the result is
    trimmed (or zero-padded) to that length. Callers can therefore predict lengths, and encode
    then decode at another rate without drift. Deterministic. Same rates return a float32 copy.
    """
    arr = np.asarray(samples)
    squeeze = arr.ndim == 1
    if squeeze:
        arr = arr[None, :]
    if arr.ndim != 2 or not 1 <= arr.shape[0] <= MAX_CHANNELS:
        raise UsageError(
            f"resample expects (channels, n) audio with 1..{MAX_CHANNELS} channels, got {arr.shape}"
        )
    for rate in (sr_in, sr_out):
        if not isinstance(rate, int | np.integer) or not MIN_SAMPLE_RATE <= int(rate) <= MAX_SAMPLE_RATE:
            raise UsageError(
                f"sample rate must be an integer in {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz, got {rate}"
            )
    sr_in, sr_out = int(sr_in), int(sr_out)
    channels, n = arr.shape
    out_len = round(n * sr_out / sr_in)
    x = np.ascontiguousarray(arr, dtype=np.float32)
    if sr_in == sr_out:
        out = x.copy()
    elif n == 0:
        out = np.zeros((channels, 0), dtype=np.float32)
    else:
        out = _swr(x, sr_in, sr_out, out_len)
    return out[0] if squeeze else out


def _swr(x: np.ndarray, sr_in: int, sr_out: int, out_len: int) -> np.ndarray:
    channels = x.shape[0]
    stream = StreamResampler(channels, sr_in, sr_out)
    pieces = [stream.push(x[:, start : start + _CHUNK]) for start in range(0, x.shape[1], _CHUNK)]
    pieces.append(stream.finish())
    y = np.concatenate(pieces, axis=1)
    if y.shape[1] < out_len:
        y = np.concatenate([y, np.zeros((channels, out_len - y.shape[1]), dtype=np.float32)], axis=1)
    return np.ascontiguousarray(y[:, :out_len], dtype=np.float32)


class StreamResampler:
    """Resample a stream of ``(channels, n)`` float blocks; the same output as :func:`resample`.

    swresample is a streaming filter, so feeding a signal in blocks of any size gives the samples
    that resampling it whole gives. :meth:`finish` flushes the filter through a zero tail (so the
    last real samples come out); the caller trims the total to ``round(n * sr_out / sr_in)``.
    """

    def __init__(self, channels: int, sr_in: int, sr_out: int) -> None:
        self.channels, self.sr_in, self.sr_out = channels, int(sr_in), int(sr_out)
        self.layout = channel_layout(channels)
        self._resampler = av.AudioResampler(format="fltp", layout=self.layout, rate=self.sr_out)
        self._pts = 0
        # Zero tail so that even tiny inputs produce output and the last real samples are flushed
        # through the filter (its half-length is well under 64 input samples at default settings).
        self._tail = 64 + -(-self.sr_in // self.sr_out) * 64

    def _frames(self, block: np.ndarray | None) -> np.ndarray:
        if block is None:
            frames = self._resampler.resample(None)
        else:
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block, dtype=np.float32), format="fltp",
                                               layout=self.layout)
            frame.sample_rate = self.sr_in
            frame.pts = self._pts
            frame.time_base = Fraction(1, self.sr_in)
            self._pts += block.shape[1]
            frames = self._resampler.resample(frame)
        pieces = [f.to_ndarray() for f in frames]
        return np.concatenate(pieces, axis=1) if pieces else np.zeros((self.channels, 0), dtype=np.float32)

    def push(self, block: np.ndarray) -> np.ndarray:
        """Resampled output available so far for the next input ``block``."""
        if block.shape[1] == 0:
            return np.zeros((self.channels, 0), dtype=np.float32)
        if self.sr_in == self.sr_out:
            return np.ascontiguousarray(block, dtype=np.float32)
        return self._frames(block)

    def finish(self) -> np.ndarray:
        """The rest of the output, flushed through a zero tail."""
        if self.sr_in == self.sr_out:
            return np.zeros((self.channels, 0), dtype=np.float32)
        out = self._frames(np.zeros((self.channels, self._tail), dtype=np.float32))
        return np.concatenate([out, self._frames(None)], axis=1)


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Mix ``(channels, n)`` audio down to ``(1, n)`` by averaging the channels.

    A plain mean (no -3 dB pan law) keeps mono input unchanged and never clips. ``(n,)`` input is
    returned as ``(1, n)`` float32.
    """
    arr = np.asarray(samples, dtype=np.float32)
    if arr.ndim == 1:
        return arr[None, :].copy()
    if arr.ndim != 2 or arr.shape[0] < 1:
        raise UsageError(f"to_mono expects (channels, n) audio, got shape {arr.shape}")
    return arr.mean(axis=0, keepdims=True, dtype=np.float64).astype(np.float32)


__all__ = [
    "AUDIO_WRITE_FORMATS",
    "MAX_AUDIO_SECONDS",
    "MAX_CHANNELS",
    "MAX_SAMPLE_RATE",
    "MIN_SAMPLE_RATE",
    "AudioData",
    "channel_layout",
    "read_audio",
    "resample",
    "to_mono",
    "write_audio",
]
