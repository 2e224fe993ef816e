"""The Python API: media in, ``.nc`` bytes out, and back. The CLI is a thin layer over this.

Accepted media:
- audio: a path to anything FFmpeg decodes (read block by block), or :class:`ncodec.media.AudioData`;
  ``bitrate_kbps`` picks the nominal rate (or ``quality`` the n-th offered rate);
- image: a path, ``PIL.Image.Image``, ``numpy`` array (H, W) or (H, W, C) with C in {1, 3, 4},
  uint8, uint16 or float in [0, 1], a ``torch.Tensor`` (C, H, W) or (1, C, H, W) (uint8, or
  float in [0, 1]), or :class:`ncodec.media.ImageData`;
- ``bytes`` / ``np.uint8`` arrays with ``model="test-raw"`` (the container's test codec only).

Decoding returns :class:`ncodec.media.ImageData` (pixels as a numpy array, the input's channel
count and bit depth) or :class:`ncodec.media.AudioData` (float samples at the input's rate and
channel count). A file is decoded only with the exact weights that made it: the container
records their SHA-256 and :class:`~ncodec.errors.ModelMismatchError` says so otherwise.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ncodec.container import atomic
from ncodec.container.format import Container, ContainerHeader, Modality, read_container, write_container
from ncodec.errors import FormatError, InputError, ModelMismatchError, UsageError
from ncodec.limits import Limits
from ncodec.registry import ModelInfo, by_id, by_name, default_model, load_codec

CODER_ID = 1  # ncodec.entropy's ANS coder; its format version goes in coder_version
MAX_FILE_BYTES = 1 << 31
StrPath = str | os.PathLike[str]


@dataclass(frozen=True)
class EncodeResult:
    """Bytes of a ``.nc`` file and what the model expected them to cost."""

    data: bytes
    model: str
    quality: int | float | None  # a trained level, or (image) a value between two, to hundredths
    estimated_bits: float | None
    bitrate_kbps: float | None = None  # nominal rate asked for (audio)
    warnings: tuple[str, ...] = ()  # what the file leaves out (e.g. a video's sound track), one line each
    chosen: str | None = None  # what a size or PSNR target chose, in one line


def _coder_version() -> int:
    from ncodec.entropy import CODER_VERSION

    return CODER_VERSION


def _image_from(media: Any) -> Any:
    from ncodec.media.image import ImageData, read_image

    if isinstance(media, ImageData):
        return media
    if type(media).__module__.startswith("torch"):
        import torch

        t = media.detach().cpu()
        if t.ndim == 4:
            if t.shape[0] != 1:
                raise InputError(f"a tensor batch of {t.shape[0]} images: encode one image at a time")
            t = t[0]
        if t.ndim != 3:
            raise InputError(f"an image tensor must be (C, H, W) or (1, C, H, W), got {tuple(media.shape)}")
        media = t.permute(1, 2, 0).numpy() if t.dtype != torch.bfloat16 else t.float().permute(1, 2, 0).numpy()
    return read_image(media)


def _resolve_model(media: Any, model: str | None) -> ModelInfo:
    if model is not None:
        return by_name(model)
    from ncodec.media.audio import AudioBlocks, AudioData
    from ncodec.media.video import VideoData

    if isinstance(media, AudioData | AudioBlocks):
        return default_model("audio")
    if isinstance(media, VideoData):
        return default_model("video")
    if isinstance(media, str | os.PathLike) and Path(media).is_file():
        from ncodec.media.probe import detect_modality

        modality = detect_modality(media)
        if modality in ("audio", "video"):
            return default_model(modality)
    return default_model("image")


def _audio_kbps(info: ModelInfo, quality: int | float | None, bitrate_kbps: float | None) -> float:
    """The nominal bitrate asked for: ``--bitrate``, or the ``quality``-th offered rate, or the default."""
    rates = info.bitrates
    if not rates:
        raise UsageError(f"model '{info.name}' has no bitrates installed")
    if bitrate_kbps is not None:
        if not rates[0] <= bitrate_kbps <= rates[-1]:
            raise UsageError(f"bitrate {bitrate_kbps:g} kbps is outside what '{info.name}' offers "
                             f"({rates[0]:g}..{rates[-1]:g} kbps)")
        return float(bitrate_kbps)
    if quality is None:
        quality = info.default_quality
    if not isinstance(quality, int) or not 1 <= quality <= len(rates):
        raise UsageError(f"quality {quality} is not offered by '{info.name}' (choose 1..{len(rates)}: "
                         f"{', '.join(f'{r:g}' for r in rates)} kbps)")
    return float(rates[quality - 1])


def _encode_audio(info: ModelInfo, media: Any, quality: int | float | None, bitrate_kbps: float | None) -> EncodeResult:
    from ncodec.media.audio import AudioBlocks, AudioData

    kbps = _audio_kbps(info, quality, bitrate_kbps)
    codec, digest = load_codec(info)
    if isinstance(media, AudioBlocks):
        payload = codec.encode_blocks(media, media.sample_rate, media.channels, kbps, expected=media,
                                      extra_metadata={"source_format": media.source_format})
    elif isinstance(media, AudioData):
        samples = np.asarray(media.samples)
        if samples.ndim != 2:
            raise InputError(f"AudioData samples must be (channels, n), got shape {samples.shape}")
        payload = codec.encode_blocks(iter([samples]), int(media.sample_rate), samples.shape[0], kbps,
                                      extra_metadata={"source_format": media.source_format})
    else:
        raise InputError(f"the audio codec takes a path or ncodec.media.AudioData, not {type(media).__name__}")
    header = ContainerHeader(modality=Modality.AUDIO, model_id=info.model_id, weights_sha256=digest,
                             coder_id=CODER_ID, coder_version=_coder_version())
    data = write_container(header, payload.metadata, payload.chunks)
    return EncodeResult(data=data, model=info.name, quality=None, estimated_bits=payload.estimated_bits,
                        bitrate_kbps=kbps)


def _encode_video(info: ModelInfo, media: Any, quality: int, time_limit: float | None,
                  device: str | None, progress: bool | None, limits: Limits) -> EncodeResult:
    from ncodec.codecs.video.codec import EncodeOptions
    from ncodec.media.video import VideoData, read_video

    if isinstance(media, str | os.PathLike):
        media = read_video(media)
    limits.check_media(media)
    if not isinstance(media, VideoData):
        raise InputError(f"the video codec takes a path or ncodec.media.VideoData, not {type(media).__name__}")
    codec, digest = load_codec(info)
    payload = codec.encode(media, quality, EncodeOptions(time_limit=time_limit, device=device, progress=progress))
    header = ContainerHeader(modality=Modality.VIDEO, model_id=info.model_id, weights_sha256=digest,
                             coder_id=CODER_ID, coder_version=_coder_version())
    data = write_container(header, payload.metadata, payload.chunks)
    return EncodeResult(data=data, model=info.name, quality=quality, estimated_bits=payload.estimated_bits)


def encode_with_stats(media: Any, *, model: str | None = None, quality: int | float | None = None,
                      bitrate_kbps: float | None = None, time_limit: float | None = None,
                      device: str | None = None, progress: bool | None = None, max_bytes: int | None = None,
                      target_bpp: float | None = None, target_psnr: float | None = None,
                      effort: int | str = 0, limits: Limits | None = None) -> EncodeResult:
    """Encode ``media`` into ``.nc`` bytes, reporting the model's own size estimate too.

    ``quality`` is a trained level or, for the image codec, any value between two levels (kept to
    hundredths). ``max_bytes``, ``target_bpp`` and ``target_psnr`` (image codec, one at a time,
    instead of ``quality``) search for the quality that meets the target on this image: the highest
    whose whole file fits, or the lowest whose decoding reaches the PSNR (see
    :mod:`ncodec.ratecontrol`); ``EncodeResult.chosen`` says what was chosen. ``effort`` (image
    codec: 0 to 3, or ``"max"``) refines the image's latent before coding it: smaller files at the
    same quality for more encoding time, decoded by the same decoder; with a target, the search
    runs at effort 0 and the chosen quality is then refined, kept only if it still meets the target.
    ``time_limit`` (seconds) and ``device`` apply to the video codec, whose encoding is fitting:
    it stops early to meet the limit and still writes a valid file. ``progress`` shows a bar
    (default: when stderr is a terminal).
    """
    from ncodec.ratecontrol import Target

    target = Target(max_bytes=max_bytes, bpp=target_bpp, psnr=target_psnr)
    limits = limits or Limits()
    info = _resolve_model(media, model)
    if isinstance(media, str | os.PathLike) and info.modality in ("image", "audio", "video"):
        limits.check_input_file(media, info.modality)
    if info.modality != "video" and (time_limit is not None or device is not None):
        raise UsageError(f"time limit and device apply to the video codec, not to '{info.name}'")
    if target.given and not info.fractional_quality:
        raise UsageError(f"size and PSNR targets apply to the image codec, not to '{info.name}'")
    if effort != 0 and info.modality != "image":
        raise UsageError(f"encode effort applies to the image codec, not to '{info.name}'")
    if target.given and (quality is not None or bitrate_kbps is not None):
        raise UsageError("give either a quality or a target, not both")
    if quality is not None and (isinstance(quality, bool) or not isinstance(quality, int | float)):
        raise UsageError(f"quality must be a number, not {quality!r}")
    if isinstance(quality, float) and quality.is_integer():
        quality = int(quality)
    if info.modality == "audio":
        if isinstance(media, str | os.PathLike):
            from ncodec.media.audio import AudioBlocks

            with AudioBlocks(media) as blocks:
                return _encode_audio(info, blocks, quality, bitrate_kbps)
        limits.check_media(media)
        return _encode_audio(info, media, quality, bitrate_kbps)
    if bitrate_kbps is not None:
        raise UsageError(f"model '{info.name}' takes --quality, not a bitrate")
    if info.modality == "image":
        image = _image_from(media)
        limits.check_media(image)
        return _encode_image(info, image, quality, target, effort)
    if quality is None:
        quality = info.default_quality
    if quality not in info.qualities or not isinstance(quality, int):
        qs = info.qualities
        raise UsageError(f"quality {quality:g} is not offered by '{info.name}' "
                         f"(choose {qs[0]}..{qs[-1]})" if qs else f"model '{info.name}' has no qualities installed")
    if info.modality == "video":
        return _encode_video(info, media, quality, time_limit, device, progress, limits)
    codec, digest = load_codec(info)
    payload = codec.encode(media, quality)
    data = _container_bytes(info, digest, payload)
    return EncodeResult(data=data, model=info.name, quality=quality, estimated_bits=payload.estimated_bits)


def _container_bytes(info: ModelInfo, digest: bytes, payload: Any) -> bytes:
    header = ContainerHeader(modality=Modality.parse(info.modality), model_id=info.model_id,
                             weights_sha256=digest, coder_id=CODER_ID, coder_version=_coder_version())
    return write_container(header, payload.metadata, payload.chunks)


def _encode_image(info: ModelInfo, image: Any, quality: int | float | None, target: Any,
                  effort: int | str) -> EncodeResult:
    """One image at a quality, or at the quality a target search chooses."""
    from ncodec.codecs.image.refine import effort_level
    from ncodec.ratecontrol import Trial, search_quality

    codec, digest = load_codec(info)
    quality = codec.check_quality(info.default_quality if quality is None else quality)
    level = effort_level(effort)
    analysed = codec.analyse(image, keep_latents=target.given)
    if not target.given:
        payload = analysed.encode(quality, level)
        return EncodeResult(data=_container_bytes(info, digest, payload), model=info.name,
                            quality=payload.metadata["quality"], estimated_bits=payload.estimated_bits)
    bits: dict[int | float, float | None] = {}

    def trial_at(q: int | float) -> Trial:
        payload = analysed.encode(q)
        bits[q] = payload.estimated_bits
        psnr = analysed.psnr(codec.decode(payload)) if target.needs_psnr else None
        return Trial(quality=q, data=_container_bytes(info, digest, payload), psnr=psnr)

    best = search_quality(trial_at, target, codec.config.num_qualities, analysed.pixels)
    if level:
        payload = analysed.encode(best.quality, level)
        psnr = analysed.psnr(codec.decode(payload)) if target.needs_psnr else None
        refined = Trial(quality=best.quality, data=_container_bytes(info, digest, payload), psnr=psnr)
        limit = target.byte_limit(analysed.pixels)
        if (len(refined.data) <= limit) if limit is not None else (psnr is not None and psnr >= target.psnr):
            best = refined
            bits[best.quality] = payload.estimated_bits
    achieved = f"{best.psnr:.2f} dB" if best.psnr is not None else \
        f"{len(best.data):,} bytes, {8 * len(best.data) / analysed.pixels:.4f} bpp"
    return EncodeResult(data=best.data, model=info.name, quality=best.quality, estimated_bits=bits[best.quality],
                        chosen=f"quality {best.quality:g} for {target.describe()} ({achieved})")


def encode(media: Any, *, model: str | None = None, quality: int | float | None = None,
           bitrate_kbps: float | None = None, time_limit: float | None = None,
           device: str | None = None, max_bytes: int | None = None, target_bpp: float | None = None,
           target_psnr: float | None = None, effort: int | str = 0, limits: Limits | None = None) -> bytes:
    """Encode ``media`` into the bytes of a ``.nc`` file (see :func:`encode_with_stats`)."""
    return encode_with_stats(media, model=model, quality=quality, bitrate_kbps=bitrate_kbps,
                             time_limit=time_limit, device=device, max_bytes=max_bytes,
                             target_bpp=target_bpp, target_psnr=target_psnr, effort=effort, limits=limits).data


def _open(data: bytes) -> tuple[Container, ModelInfo]:
    container = read_container(data)
    info = by_id(container.header.model_id)
    if info.modality != container.header.modality.label:
        raise FormatError(f"model '{info.name}' codes {info.modality}, but the file says "
                          f"{container.header.modality.label}")
    return container, info


def _checked_payload(data: bytes, limits: Limits | None = None) -> tuple[Container, Any, dict[str, bytes]]:
    """(container, the codec that made it, its chunks), after every check that decoding needs."""
    container, info = _open(bytes(data))
    (limits or Limits()).check_metadata(info.modality, container.metadata)
    if container.header.coder_id != CODER_ID or container.header.coder_version != _coder_version():
        raise ModelMismatchError(f"file uses entropy coder {container.header.coder_id} version "
                                 f"{container.header.coder_version}; this ncodec has {CODER_ID} "
                                 f"version {_coder_version()}")
    codec, digest = load_codec(info)
    if digest != container.header.weights_sha256:
        raise ModelMismatchError(
            f"file was made with other weights of model '{info.name}' "
            f"(file {container.header.weights_sha256.hex()[:12]}, installed {digest.hex()[:12]})")
    return container, codec, container.check_known(codec.known_chunks)


def decode(data: bytes, *, limits: Limits | None = None) -> Any:
    """Decode ``.nc`` bytes back to media (see the module docstring for the types).

    ``limits`` refuses files that declare more pixels, samples or frames (:class:`LimitError`).
    """
    from ncodec.codecs.base import Payload

    container, codec, chunks = _checked_payload(data, limits)
    return codec.decode(Payload(chunks=chunks, metadata=container.metadata))


def info(data: bytes) -> dict[str, Any]:
    """What a ``.nc`` file holds, without decoding it (no torch import)."""
    container, model_info = _open(bytes(data))
    meta = container.metadata
    out: dict[str, Any] = {
        "modality": model_info.modality, "model": model_info.name, "model_id": model_info.model_id,
        "version": "{}.{}".format(*container.header.version), "file_bytes": container.total_size,
        "payload_bytes": container.payload_bytes, "overhead_bytes": container.overhead_bytes,
        "weights_sha256": container.header.weights_sha256.hex(), "metadata": meta,
        "chunks": [{"tag": t, "bytes": len(c), "crc32": f"{_crc(c):08x}"} for t, c in container.chunks.items()],
    }
    if "quality" in meta:
        out["quality"] = meta["quality"]
    if model_info.modality == "image" and _positive_ints(meta, "width", "height"):
        pixels = meta["width"] * meta["height"]
        out["media"] = f"{meta['width']}x{meta['height']}x{meta.get('channels', '?')}"
        out["bpp"] = round(8 * container.total_size / pixels, 5)
        out["rate"] = f"{out['bpp']:.4f} bpp"
    elif model_info.modality == "audio" and _positive_ints(meta, "samples", "sample_rate"):
        seconds = meta["samples"] / meta["sample_rate"]
        out["media"] = f"{seconds:.2f} s, {meta['sample_rate']} Hz, {meta.get('channels', '?')} ch"
        out["seconds"] = round(seconds, 4)
        out["kbps"] = round(8 * container.total_size / seconds / 1000, 3)
        out["nominal_kbps"] = meta.get("kbps")
        out["codebooks"] = [meta.get("k"), meta.get("ks")]
        out["rate"] = f"{out['kbps']:.2f} kbps real (nominal {meta.get('kbps')} kbps)"
    elif model_info.modality == "video" and _positive_ints(meta, "width", "height", "frames"):
        pixels = meta["width"] * meta["height"] * meta["frames"]
        out["media"] = f"{meta['width']}x{meta['height']}, {meta['frames']} frames at {meta.get('fps')} fps"
        out["frames"] = meta["frames"]
        out["fps"] = meta.get("fps")
        out["bpp"] = round(8 * container.total_size / pixels, 5)
        out["rate"] = f"{out['bpp']:.4f} bpp"
    elif model_info.modality == "test":
        out["media"] = f"{meta.get('length', '?')} bytes"
    return out


def _positive_ints(meta: dict[str, Any], *keys: str) -> bool:
    """Whether ``meta`` holds each key as a positive int: ``info`` describes only sizes that make
    sense (a hostile file may declare anything; ``decode`` refuses it with the reason)."""
    return all(isinstance(meta.get(k), int) and not isinstance(meta.get(k), bool) and meta[k] > 0 for k in keys)


def _crc(data: bytes) -> int:
    import zlib

    return zlib.crc32(data)


def _read_bytes(path: StrPath) -> bytes:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"'{path}' does not exist or is not a file")
    if p.stat().st_size > MAX_FILE_BYTES:
        raise InputError(f"'{path}' is larger than {MAX_FILE_BYTES} bytes")
    return p.read_bytes()


def encode_file(input_path: StrPath, output_path: StrPath, *, model: str | None = None,
                quality: int | float | None = None, bitrate_kbps: float | None = None,
                overwrite: bool = False, time_limit: float | None = None, device: str | None = None,
                progress: bool | None = None, max_bytes: int | None = None, target_bpp: float | None = None,
                target_psnr: float | None = None, effort: int | str = 0,
                limits: Limits | None = None) -> EncodeResult:
    """Encode a media file into a ``.nc`` file, written atomically (no partial file on failure).

    The keyword arguments are those of :func:`encode_with_stats`.
    """
    from typing import TypedDict

    class Targets(TypedDict):
        max_bytes: int | None
        target_bpp: float | None
        target_psnr: float | None

    targets = Targets(max_bytes=max_bytes, target_bpp=target_bpp, target_psnr=target_psnr)
    _refuse_existing(output_path, overwrite)
    if Path(input_path).resolve() == Path(output_path).resolve():
        raise UsageError("input and output are the same file")
    if not Path(input_path).is_file():
        raise InputError(f"'{input_path}' does not exist or is not a file")
    chosen = by_name(model) if model is not None else None
    if chosen is not None and chosen.modality == "test":
        result = encode_with_stats(_read_bytes(input_path), model=model, quality=quality, bitrate_kbps=bitrate_kbps,
                                   effort=effort, limits=limits, **targets)
    else:
        from ncodec.media.probe import detect_modality

        modality = detect_modality(input_path)
        (limits or Limits()).check_input_file(input_path, modality)
        if chosen is not None and chosen.modality == "audio" and modality == "video":
            modality = "audio"  # the sound track of a video file, asked for by naming the audio model
        if chosen is not None and chosen.modality == "audio" and modality != "audio":
            raise InputError(f"'{input_path}' has no audio stream (it is {modality})")
        if chosen is not None and chosen.modality == "video" and modality == "image":
            modality = "video"  # a still picture, coded as a one-frame video
        if chosen is not None and chosen.modality == "video" and modality != "video":
            raise InputError(f"'{input_path}' has no video stream (it is {modality})")
        if chosen is not None and chosen.modality != modality:
            raise UsageError(f"'{input_path}' is {modality}, but model '{chosen.name}' codes {chosen.modality}")
        if modality == "audio":
            result = encode_with_stats(Path(input_path), model=(chosen or default_model("audio")).name,
                                       quality=quality, bitrate_kbps=bitrate_kbps, effort=effort, limits=limits, **targets)
        elif modality == "image":
            result = encode_with_stats(_image_from(str(input_path)), model=model, quality=quality,
                                       bitrate_kbps=bitrate_kbps, time_limit=time_limit, device=device,
                                       effort=effort, limits=limits, **targets)
        else:
            result = encode_with_stats(Path(input_path), model=(chosen or default_model("video")).name,
                                       quality=quality, bitrate_kbps=bitrate_kbps, time_limit=time_limit,
                                       device=device, progress=progress, effort=effort, limits=limits, **targets)
            if _has_audio_stream(input_path):
                result = replace(result, warnings=(
                    f"the sound track of '{input_path}' is not coded (code it with --model audio-rvq)",))
    atomic.atomic_write_bytes(output_path, result.data, overwrite=overwrite)
    return result


def _has_audio_stream(path: StrPath) -> bool:
    import av

    try:
        with av.open(str(path)) as container:
            return len(container.streams.audio) > 0
    except Exception:  # the video was read already; a failing probe only loses the warning
        return False


def decode_file(input_path: StrPath, output_path: StrPath, *, overwrite: bool = False,
                limits: Limits | None = None) -> Any:
    """Decode a ``.nc`` file into a media file whose format follows ``output_path``'s extension."""
    _refuse_existing(output_path, overwrite)
    data = _read_bytes(input_path)
    _container, model_info = _open(data)
    (limits or Limits()).check_metadata(model_info.modality, _container.metadata)
    suffix = Path(output_path).suffix.lower()
    if model_info.modality == "image":
        from ncodec.media.image import write_image
        from ncodec.media.probe import OUTPUT_EXTENSIONS

        if suffix not in OUTPUT_EXTENSIONS["image"]:
            raise UsageError(f"cannot write an image as '{suffix or output_path}' "
                             f"(use one of {', '.join(sorted(OUTPUT_EXTENSIONS['image']))})")
        media = decode(data, limits=limits)
        write_image(output_path, media.pixels, overwrite=overwrite)
        return media
    if model_info.modality == "audio":
        return _decode_audio_file(data, output_path, suffix, overwrite)
    if model_info.modality == "video":
        return _decode_video_file(data, output_path, overwrite)
    media = decode(data)
    atomic.atomic_write_bytes(output_path, bytes(media), overwrite=overwrite)
    return media


def _decode_audio_file(data: bytes, output_path: StrPath, suffix: str, overwrite: bool) -> dict[str, Any]:
    """Decode window by window straight into the output file: memory stays flat for any length."""
    from ncodec.media.audio import open_audio_writer
    from ncodec.media.probe import OUTPUT_EXTENSIONS

    if suffix not in OUTPUT_EXTENSIONS["audio"]:
        raise UsageError(f"cannot write audio as '{suffix or output_path}' "
                         f"(use one of {', '.join(sorted(OUTPUT_EXTENSIONS['audio']))})")
    container, codec, chunks = _checked_payload(data)
    meta = codec.check_metadata(container.metadata)
    if not overwrite and Path(output_path).exists():
        raise UsageError(f"'{output_path}' exists (use -f to overwrite)")
    blocks = codec.decode_blocks(chunks, meta)
    first = next(blocks)  # a damaged first window fails before any output exists
    with open_audio_writer(output_path, meta["sample_rate"], meta["channels"]) as writer:
        writer.write(first)
        for block in blocks:
            writer.write(block)
    return meta


def _decode_video_file(data: bytes, output_path: StrPath, overwrite: bool) -> dict[str, Any]:
    """Decode group by group straight into the output (mp4, mkv, y4m, or a PNG sequence)."""
    from ncodec.media.video import VIDEO_WRITE_FORMATS, is_png_sequence, open_video_writer

    suffix = Path(output_path).suffix.lower()
    if not is_png_sequence(output_path) and suffix not in VIDEO_WRITE_FORMATS:
        raise UsageError(f"cannot write video as '{suffix or output_path}' (use one of "
                         f"{', '.join(sorted(VIDEO_WRITE_FORMATS))}, or a PNG sequence like frames_%04d.png)")
    container, codec, chunks = _checked_payload(data)
    meta = codec.check_metadata(container.metadata)
    frames = codec.decode_frames(chunks, meta)
    first = next(frames)  # a damaged first group fails before any output exists
    with open_video_writer(output_path, meta["width"], meta["height"], meta["fps_fraction"],
                           overwrite=overwrite) as writer:
        writer.write(first)
        for block in frames:
            writer.write(block)
    return meta


def info_file(path: StrPath) -> dict[str, Any]:
    return info(_read_bytes(path))


def _refuse_existing(path: StrPath, overwrite: bool) -> None:
    if not overwrite and Path(path).exists():
        raise UsageError(f"'{path}' exists (use -f to overwrite)")
