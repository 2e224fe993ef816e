"""Image reading and writing: numpy arrays in and out, Pillow for almost everything.

Policies (the rest of ncodec relies on them):

* **Channels.** Pixels are always ``(H, W, C)`` with ``C`` in {1, 3, 4}: grey, RGB, RGBA. Grey with
  alpha ("LA") and palette images with transparency become RGBA; other palette images, CMYK and
  YCbCr become RGB; bilevel ("1") becomes grey. Colour profiles are not applied: values are taken
  as stored.
* **Bit depth.** 8-bit images are ``uint8``. 16-bit images are ``uint16`` with ``bit_depth`` 16:
  16-bit grey via Pillow ("I;16"), and 16-bit RGB/RGBA/grey-alpha PNGs via FFmpeg's PNG decoder,
  because Pillow silently reduces those to 8 bits. 16-bit colour is exact for PNG only.
* **Orientation.** The EXIF orientation tag is applied, so pixels come out the way viewers show them.
* **Limits.** Images with a zero side or more than :data:`MAX_PIXELS` pixels are refused from the
  header, before any pixel is decoded (Pillow's ``Image.open`` reads only the header).
* **Animation.** Animated or multi-page images (GIF, APNG, WebP, multi-page TIFF) are refused: an
  image codec has no honest answer for them, and :func:`ncodec.media.probe.detect_modality` calls
  them video. Multi-picture JPEGs (MPO, from cameras) are the exception: their first picture *is*
  the photo, so it is read.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
from dataclasses import dataclass
from typing import Any

import av
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ncodec.errors import UsageError
from ncodec.media._util import (
    SourceLike,
    atomic_output,
    av_target,
    check_path,
    input_error,
    output_extension,
    reraise_as_input,
    source_name,
)

#: Largest image accepted, in pixels (8192 x 8192). A 16-bit RGBA image this size is 512 MiB;
#: a codec's working tensors are several times that, so larger inputs are refused up front.
MAX_PIXELS = 64 * 1024 * 1024

#: Output extension -> Pillow format name.
IMAGE_WRITE_FORMATS: dict[str, str] = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
}

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Modes Pillow decodes exactly to 16-bit grey; numpy gives the right dtype for each.
_GREY16_MODES = {"I;16", "I;16L", "I;16B", "I;16N"}
# EXIF orientation value -> numpy transform producing what ImageOps.exif_transpose produces.
_ORIENTATION_TAG = 0x0112

ImageSource = str | os.PathLike[str] | bytes | Image.Image | np.ndarray


@dataclass
class ImageData:
    """A decoded image.

    ``pixels`` is ``(H, W, C)``, ``C`` in {1, 3, 4} (grey, RGB, RGBA), ``uint8`` when ``bit_depth``
    is 8 and ``uint16`` when it is 16. ``source_format`` is Pillow's format name ("PNG", "JPEG",
    "WEBP", ...) or None for in-memory inputs.
    """

    pixels: np.ndarray
    bit_depth: int
    source_format: str | None = None

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def channels(self) -> int:
        return int(self.pixels.shape[2])


# --------------------------------------------------------------------------------------------------
# reading


def read_image(source: ImageSource) -> ImageData:
    """Decode an image file, image bytes, a Pillow image or a numpy array into :class:`ImageData`.

    numpy inputs may be ``(H, W)`` or ``(H, W, C)`` with ``C`` in {1, 3, 4}, of dtype ``uint8``
    (8-bit), ``uint16`` (16-bit) or floating point with every value in [0, 1], which is rounded to
    8 bits (``round(x * 255)``): float input is what a model produces, and 8 bits is what it is
    compared against. The array is copied. Raises :class:`InputError` for anything unreadable or
    unsupported; see the module docstring for the conversions applied.
    """
    if isinstance(source, np.ndarray):
        return _from_array(source)
    if isinstance(source, Image.Image):
        name = source_name(source)
        try:
            _check_size(name, source.size)
            _check_not_animated(name, source)
            return _from_pil(name, source)
        except Exception as exc:
            raise reraise_as_input(name, exc) from None
    name = check_path(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _read_file(name, source)
    except Exception as exc:
        raise reraise_as_input(name, exc) from None


def is_image(path: SourceLike) -> bool:
    """Cheap probe: True if Pillow recognises ``path`` as a still image (reads only the header).

    Animated and multi-page images answer False (they are not readable by :func:`read_image`);
    size limits are not checked here.
    """
    try:
        check_path(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(av_target(path)) as im:
                return not _is_animated(im) and im.format != "MPEG"
    except Exception:
        return False


def _read_file(name: str, source: SourceLike) -> ImageData:
    target = av_target(source)
    try:
        im = Image.open(target)
    except UnidentifiedImageError:
        raise input_error(name, "not an image format Pillow recognises") from None
    except Image.DecompressionBombError:
        raise input_error(name, f"image is larger than the limit of {MAX_PIXELS} pixels") from None
    with im:
        _check_size(name, im.size)
        _check_not_animated(name, im)
        if im.format == "PNG":
            head = _read_head(source, 26)
            if _png_is_16bit_colour(head):
                orientation = _png_orientation(im)
                data = _decode_png16(source)
                return ImageData(_apply_orientation(data, orientation), 16, "PNG")
        return _from_pil(name, im)


def _check_size(name: str, size: tuple[int, int]) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise input_error(name, f"image has a zero dimension ({width}x{height})")
    if width * height > MAX_PIXELS:
        raise input_error(name, f"image is {width}x{height}, more than the limit of {MAX_PIXELS} pixels")


def _is_animated(im: Image.Image) -> bool:
    if im.format == "MPO":
        return False  # camera multi-picture JPEG: the first picture is the photo
    return bool(getattr(im, "is_animated", False)) or int(getattr(im, "n_frames", 1)) > 1


def _check_not_animated(name: str, im: Image.Image) -> None:
    if _is_animated(im):
        frames = getattr(im, "n_frames", "several")
        raise input_error(
            name, f"animated or multi-page image ({frames} frames) is not supported; extract one frame"
        )


def _from_pil(name: str, im: Image.Image) -> ImageData:
    """Convert a Pillow image to ImageData following the channel and depth policy."""
    fmt = im.format
    if im.format == "MPEG":
        raise input_error(name, "MPEG video is not an image")
    im.load()  # decode now so damage surfaces here, as one InputError
    transposed = ImageOps.exif_transpose(im)
    if transposed is not None:
        im = transposed
    mode = im.mode
    has_transparency = "transparency" in im.info
    if mode in _GREY16_MODES:
        return ImageData(np.asarray(im).astype(np.uint16)[..., None], 16, fmt)
    if mode == "I":
        arr = np.asarray(im)
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise input_error(name, "32-bit integer image with values outside 0..65535 is not supported")
        return ImageData(arr.astype(np.uint16)[..., None], 16, fmt)
    if mode in ("F", "I;32", "I;32B", "I;32L"):
        raise input_error(name, f"image mode {mode} (32-bit samples) is not supported")
    if mode == "1":
        im, mode = im.convert("L"), "L"
    if mode == "P":
        palette_mode = im.palette.mode if im.palette is not None else "RGB"
        target = "RGBA" if has_transparency or palette_mode == "RGBA" else "RGB"
    elif mode in ("L", "RGB"):
        target = "RGBA" if has_transparency else mode
    elif mode in ("RGBA", "LA", "La", "PA", "RGBa"):
        target = "RGBA"
    else:  # RGBX, CMYK, YCbCr, LAB, HSV, ...
        target = "RGB"
    if mode != target:
        try:
            im = im.convert(target)
        except (ValueError, OSError):
            raise input_error(name, f"image mode {mode} cannot be converted to {target}") from None
    arr = np.array(im, dtype=np.uint8)
    if arr.ndim == 2:
        arr = arr[..., None]
    return ImageData(np.ascontiguousarray(arr), 8, fmt)


def _from_array(arr: np.ndarray) -> ImageData:
    name = "<array>"
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise input_error(name, f"expected an (H, W) or (H, W, 1|3|4) array, got shape {tuple(arr.shape)}")
    _check_size(name, (int(arr.shape[1]), int(arr.shape[0])))
    if arr.dtype == np.uint8:
        return ImageData(np.array(arr, dtype=np.uint8, order="C"), 8, None)
    if arr.dtype == np.uint16:
        return ImageData(np.array(arr, dtype=np.uint16, order="C"), 16, None)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise input_error(name, "float image contains NaN or infinity")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0.0 or hi > 1.0:
            raise input_error(name, f"float image values must lie in [0, 1], got [{lo:.4g}, {hi:.4g}]")
        return ImageData(np.rint(arr.astype(np.float64) * 255.0).astype(np.uint8), 8, None)
    raise input_error(name, f"unsupported array dtype {arr.dtype}; use uint8, uint16 or float in [0, 1]")


def _read_head(source: SourceLike, n: int) -> bytes:
    """The first ``n`` bytes of ``source`` (all of it when ``n`` is negative)."""
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source) if n < 0 else bytes(source[:n])
    with open(os.fspath(source), "rb") as fh:
        return fh.read(n)


def _png_is_16bit_colour(head: bytes) -> bool:
    """True for 16-bit PNGs of colour type 2, 4 or 6 (RGB, grey+alpha, RGBA).

    These are the ones Pillow reduces to 8 bits; 16-bit grey (type 0) Pillow reads exactly.
    """
    if len(head) < 26 or head[:8] != _PNG_SIGNATURE or head[12:16] != b"IHDR":
        return False
    bit_depth, colour_type = head[24], head[25]
    return bit_depth == 16 and colour_type in (2, 4, 6)


def _png_orientation(im: Image.Image) -> int:
    """EXIF orientation of a PNG from its eXIf chunk if Pillow saw one before the pixel data."""
    raw = im.info.get("exif")
    if not raw:
        return 1
    exif = Image.Exif()
    exif.load(raw)
    value = exif.get(_ORIENTATION_TAG, 1)
    return int(value) if isinstance(value, int) and 1 <= value <= 8 else 1


def _apply_orientation(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation to an (H, W, C) array, matching ``ImageOps.exif_transpose``."""
    if orientation == 2:
        arr = arr[:, ::-1]
    elif orientation == 3:
        arr = arr[::-1, ::-1]
    elif orientation == 4:
        arr = arr[::-1]
    elif orientation == 5:
        arr = arr.transpose(1, 0, 2)
    elif orientation == 6:
        arr = np.rot90(arr, k=-1)
    elif orientation == 7:
        arr = arr[::-1, ::-1].transpose(1, 0, 2)
    elif orientation == 8:
        arr = np.rot90(arr, k=1)
    return np.ascontiguousarray(arr)


def _png_pixel_chunks(data: bytes) -> bytes:
    """Rebuild a PNG from the chunks that define its pixels (IHDR, tRNS, IDAT, IEND).

    FFmpeg's PNG decoder rejects files whose metadata chunks it dislikes (an eXIf block with a
    stray header, an odd iCCP) where Pillow would not; pixels must not fail on metadata. The
    orientation is taken from Pillow's parse of the original file.
    """
    keep = {b"IHDR", b"tRNS", b"IDAT", b"IEND"}
    out = [data[:8]]
    pos = 8
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            break  # truncated: hand over what there is and let the decoder complain
        if kind in keep:
            out.append(data[pos:end])
        pos = end
        if kind == b"IEND":
            break
    return b"".join(out)


def _plane_array(frame: av.VideoFrame, channels: int) -> np.ndarray:
    """The first plane of a packed big-endian 16-bit frame as native (H, W, channels) uint16."""
    plane = frame.planes[0]
    row = np.frombuffer(memoryview(plane), dtype=">u2").reshape(frame.height, plane.line_size // 2)
    data = row[:, : frame.width * channels].reshape(frame.height, frame.width, channels)
    return data.astype(np.uint16)


def _decode_png16(source: SourceLike) -> np.ndarray:
    """Decode a 16-bit RGB / RGBA / grey+alpha PNG exactly with FFmpeg's PNG decoder.

    Samples are copied straight from the decoder's big-endian buffer (no swscale step), so the
    result is bit-exact. Grey+alpha becomes RGBA, following the channel policy.
    """
    pixel_png = io.BytesIO(_png_pixel_chunks(_read_head(source, -1)))
    with av.open(pixel_png, mode="r", format="png_pipe") as container:
        frame = next(iter(container.decode(video=0)))
        fmt = frame.format.name
        if fmt == "rgb48be":
            return _plane_array(frame, 3)
        if fmt == "rgba64be":
            return _plane_array(frame, 4)
        if fmt == "ya16be":
            ya = _plane_array(frame, 2)
            return np.ascontiguousarray(ya[..., [0, 0, 0, 1]])
        raise ValueError(f"unexpected 16-bit PNG decoder output format {fmt}")


# --------------------------------------------------------------------------------------------------
# writing


def write_image(path: str | os.PathLike[str], pixels: np.ndarray, overwrite: bool = True) -> None:
    """Write ``pixels`` ((H, W) or (H, W, C), C in {1, 3, 4}, uint8 or uint16) to ``path``.

    The format follows the extension (see :data:`IMAGE_WRITE_FORMATS`). Choices, all so that
    writing a decoded image adds as little as possible:

    * PNG is exact at either depth; 16-bit RGB/RGBA goes through FFmpeg's PNG encoder because
      Pillow cannot write it.
    * Other formats are 8-bit: 16-bit input is rounded to 8 bits (``round(v / 257)``).
    * WebP is written lossless; JPEG at quality 95 without chroma subsampling.
    * JPEG and BMP cannot hold alpha: it is dropped. WebP has no grey mode: grey is stored as RGB.

    The file is written to a temporary name and moved into place, so a failure leaves no partial
    file; an existing file is replaced unless ``overwrite`` is False. Raises :class:`UsageError`
    for an unsupported extension or pixel array.
    """
    ext = output_extension(path, IMAGE_WRITE_FORMATS, "image")
    fmt = IMAGE_WRITE_FORMATS[ext]
    arr = _validate_pixels(path, pixels)
    if arr.dtype == np.uint16 and fmt != "PNG":
        arr = ((arr.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    channels = arr.shape[2]
    if fmt in ("JPEG", "BMP") and channels == 4:
        arr = arr[..., :3]
        channels = 3
    with atomic_output(path, overwrite) as tmp:
        if arr.dtype == np.uint16 and channels in (3, 4):
            _write_png16(tmp, arr)
            return
        im = Image.fromarray(np.ascontiguousarray(arr[..., 0] if channels == 1 else arr))
        options: dict[str, Any] = {}
        if fmt == "JPEG":
            options = {"quality": 95, "subsampling": 0}
        elif fmt == "WEBP":
            options = {"lossless": True, "exact": True}
        elif fmt == "TIFF":
            options = {"compression": "tiff_deflate"}
        im.save(tmp, format=fmt, **options)


def _validate_pixels(path: str | os.PathLike[str], pixels: np.ndarray) -> np.ndarray:
    where = f"cannot write '{os.fspath(path)}'"
    if not isinstance(pixels, np.ndarray):
        raise UsageError(f"{where}: pixels must be a numpy array, got {type(pixels).__name__}")
    arr = pixels[..., None] if pixels.ndim == 2 else pixels
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise UsageError(f"{where}: expected (H, W) or (H, W, 1|3|4) pixels, got shape {tuple(pixels.shape)}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise UsageError(f"{where}: image has a zero dimension {tuple(pixels.shape)}")
    if arr.dtype not in (np.uint8, np.uint16):
        raise UsageError(f"{where}: pixels must be uint8 or uint16, got {arr.dtype}")
    return arr


def _write_png16(path: str, arr: np.ndarray) -> None:
    """Write 16-bit RGB/RGBA exactly: FFmpeg's PNG encoder fed big-endian samples directly."""
    height, width, channels = arr.shape
    pix_fmt = "rgb48be" if channels == 3 else "rgba64be"
    frame = av.VideoFrame(width, height, pix_fmt)
    plane = frame.planes[0]
    rows = np.zeros((height, plane.line_size // 2), dtype=">u2")
    rows[:, : width * channels] = arr.reshape(height, width * channels)
    plane.update(rows.tobytes())
    codec = av.CodecContext.create("png", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, pix_fmt
    packets = list(codec.encode(frame)) + list(codec.encode(None))
    with open(path, "wb") as fh:
        for packet in packets:
            fh.write(bytes(packet))


__all__ = ["IMAGE_WRITE_FORMATS", "MAX_PIXELS", "ImageData", "is_image", "read_image", "write_image"]
