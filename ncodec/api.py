"""The Python API: media in, ``.nc`` bytes out, and back. The CLI is a thin layer over this.

Accepted media:
- image: a path, ``PIL.Image.Image``, ``numpy`` array (H, W) or (H, W, C) with C in {1, 3, 4},
  uint8, uint16 or float in [0, 1], a ``torch.Tensor`` (C, H, W) or (1, C, H, W) (uint8, or
  float in [0, 1]), or :class:`ncodec.media.ImageData`;
- ``bytes`` / ``np.uint8`` arrays with ``model="test-raw"`` (the container's test codec only).

Decoding returns :class:`ncodec.media.ImageData` (pixels as a numpy array, the input's channel
count and bit depth). A file is decoded only with the exact weights that made it: the container
records their SHA-256 and :class:`~ncodec.errors.ModelMismatchError` says so otherwise.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ncodec.container import atomic
from ncodec.container.format import Container, ContainerHeader, Modality, read_container, write_container
from ncodec.errors import FormatError, InputError, ModelMismatchError, UsageError
from ncodec.registry import ModelInfo, by_id, by_name, default_model, load_codec

CODER_ID = 1  # ncodec.entropy's ANS coder; its format version goes in coder_version
MAX_FILE_BYTES = 1 << 31
StrPath = str | os.PathLike[str]


@dataclass(frozen=True)
class EncodeResult:
    """Bytes of a ``.nc`` file and what the model expected them to cost."""

    data: bytes
    model: str
    quality: int
    estimated_bits: float | None


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
    return default_model("image")


def encode_with_stats(media: Any, *, model: str | None = None, quality: int | None = None,
                      bitrate_kbps: float | None = None) -> EncodeResult:
    """Encode ``media`` into ``.nc`` bytes, reporting the model's own size estimate too."""
    info = _resolve_model(media, model)
    if bitrate_kbps is not None:
        raise UsageError(f"model '{info.name}' takes --quality, not a bitrate")
    if quality is None:
        quality = info.default_quality
    if quality not in info.qualities:
        qs = info.qualities
        raise UsageError(f"quality {quality} is not offered by '{info.name}' "
                         f"(choose {qs[0]}..{qs[-1]})" if qs else f"model '{info.name}' has no qualities installed")
    codec, digest = load_codec(info)
    if info.modality == "image":
        media = _image_from(media)
    payload = codec.encode(media, quality)
    header = ContainerHeader(modality=Modality.parse(info.modality), model_id=info.model_id,
                             weights_sha256=digest, coder_id=CODER_ID, coder_version=_coder_version())
    data = write_container(header, payload.metadata, payload.chunks)
    return EncodeResult(data=data, model=info.name, quality=quality, estimated_bits=payload.estimated_bits)


def encode(media: Any, *, model: str | None = None, quality: int | None = None,
           bitrate_kbps: float | None = None) -> bytes:
    """Encode ``media`` into the bytes of a ``.nc`` file."""
    return encode_with_stats(media, model=model, quality=quality, bitrate_kbps=bitrate_kbps).data


def _open(data: bytes) -> tuple[Container, ModelInfo]:
    container = read_container(data)
    info = by_id(container.header.model_id)
    if info.modality != container.header.modality.label:
        raise FormatError(f"model '{info.name}' codes {info.modality}, but the file says "
                          f"{container.header.modality.label}")
    return container, info


def decode(data: bytes) -> Any:
    """Decode ``.nc`` bytes back to media (see the module docstring for the types)."""
    from ncodec.codecs.base import Payload

    container, info = _open(bytes(data))
    if container.header.coder_id != CODER_ID or container.header.coder_version != _coder_version():
        raise ModelMismatchError(f"file uses entropy coder {container.header.coder_id} version "
                                 f"{container.header.coder_version}; this ncodec has {CODER_ID} "
                                 f"version {_coder_version()}")
    codec, digest = load_codec(info)
    if digest != container.header.weights_sha256:
        raise ModelMismatchError(
            f"file was made with other weights of model '{info.name}' "
            f"(file {container.header.weights_sha256.hex()[:12]}, installed {digest.hex()[:12]})")
    chunks = container.check_known(codec.known_chunks)
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
    if model_info.modality == "image" and isinstance(meta.get("width"), int) and isinstance(meta.get("height"), int):
        pixels = meta["width"] * meta["height"]
        out["media"] = f"{meta['width']}x{meta['height']}x{meta.get('channels', '?')}"
        out["bpp"] = round(8 * container.total_size / pixels, 5)
        out["rate"] = f"{out['bpp']:.4f} bpp"
    elif model_info.modality == "test":
        out["media"] = f"{meta.get('length', '?')} bytes"
    return out


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
                quality: int | None = None, bitrate_kbps: float | None = None,
                overwrite: bool = False) -> EncodeResult:
    """Encode a media file into a ``.nc`` file, written atomically (no partial file on failure)."""
    _refuse_existing(output_path, overwrite)
    if Path(input_path).resolve() == Path(output_path).resolve():
        raise UsageError("input and output are the same file")
    if not Path(input_path).is_file():
        raise InputError(f"'{input_path}' does not exist or is not a file")
    media: Any = Path(input_path)
    if model is None or by_name(model).modality != "test":
        from ncodec.media.probe import detect_modality

        modality = detect_modality(input_path)
        if modality != "image":
            raise InputError(f"'{input_path}' is {modality}: only the image codec is available so far")
        media = _image_from(str(input_path))
    else:
        media = _read_bytes(input_path)
    result = encode_with_stats(media, model=model, quality=quality, bitrate_kbps=bitrate_kbps)
    atomic.atomic_write_bytes(output_path, result.data, overwrite=overwrite)
    return result


def decode_file(input_path: StrPath, output_path: StrPath, *, overwrite: bool = False) -> Any:
    """Decode a ``.nc`` file into a media file whose format follows ``output_path``'s extension."""
    _refuse_existing(output_path, overwrite)
    data = _read_bytes(input_path)
    _container, model_info = _open(data)
    suffix = Path(output_path).suffix.lower()
    if model_info.modality == "image":
        from ncodec.media.image import write_image
        from ncodec.media.probe import OUTPUT_EXTENSIONS

        if suffix not in OUTPUT_EXTENSIONS["image"]:
            raise UsageError(f"cannot write an image as '{suffix or output_path}' "
                             f"(use one of {', '.join(sorted(OUTPUT_EXTENSIONS['image']))})")
        media = decode(data)
        with atomic.atomic_output(output_path, overwrite=overwrite) as tmp:
            write_image(tmp, media.pixels)
        return media
    media = decode(data)
    atomic.atomic_write_bytes(output_path, bytes(media), overwrite=overwrite)
    return media


def info_file(path: StrPath) -> dict[str, Any]:
    return info(_read_bytes(path))


def _refuse_existing(path: StrPath, overwrite: bool) -> None:
    if not overwrite and Path(path).exists():
        raise UsageError(f"'{path}' exists (use -f to overwrite)")
