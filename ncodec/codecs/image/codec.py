"""The image codec: media in, payload chunks out, through the mean-scale hyperprior.

What reaches the entropy coder is integers only: the hyper-latent z is coded under integer
frequency tables fixed at export, and each element of y is coded as round(y - mu) under the scale
table entry chosen by an integer index. The hyper-synthesis that yields mu and the scales runs in
float64, so the indices that encoder and decoder derive agree on every machine unless a scale lies
within about 1e-15 of a table boundary: a file decodes wherever it was made.

The decoder's synthesis transform runs in exact float64 arithmetic (:mod:`.exact`): weights and
activations are binary fractions whose sums never round, so the decoded pixels are the same on
every CPU, thread count and BLAS. Its input, ``symbol + mu``, takes ``mu`` from the float64
hyper-synthesis above and puts it on the activation grid; the two agree everywhere unless a value
lies within one float64 rounding of a grid boundary. The encoder keeps the float32 network (its
output is the file, which every machine then decodes alike).

Policies (documented in the README):
- any size: each tile is padded to a multiple of 64 by edge replication and cropped back;
- large images are cut into independent tiles of at most ``TILE`` x ``TILE`` pixels, so memory stays
  bounded whatever the size; images above ``MAX_PIXELS`` are refused;
- greyscale is coded as RGB (the networks are RGB) and restored as one channel;
- RGBA: colour through the network, alpha losslessly (deflate) in its own ``ALPH`` chunk;
- 16-bit input is coded at 8-bit precision and restored to 16 bits (value x 257).
"""

from __future__ import annotations

import copy
import math
import sys
import zlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from ncodec.codecs.base import Payload
from ncodec.codecs.framing import pack_streams, unpack_streams
from ncodec.codecs.threads import codec_threads
from ncodec.entropy import FrequencyTable, gaussian, table
from ncodec.errors import FormatError, InputError, UsageError
from ncodec.heap import retained_heap
from ncodec.media.image import MAX_PIXELS, ImageData

from .exact import ExactSynthesis, inverse_gain
from .model import ImageModelConfig, MeanScaleHyperprior
from .refine import EFFORT_STEPS, effort_level, interpolated_lambda, refine_latent
from .weights import load_tensors, split_state

TILE = 1024
Quality = int | float  # a trained level (int) or a value between two levels, to hundredths (float)
PAD = MeanScaleHyperprior.STRIDE
CHUNK_Z, CHUNK_Y, CHUNK_ALPHA = "ZLAT", "YLAT", "ALPH"


@dataclass(frozen=True)
class TileGrid:
    """How an image is cut into tiles: rows and columns of at most ``TILE`` pixels."""

    height: int
    width: int
    tile: int = TILE

    def boxes(self) -> list[tuple[int, int, int, int]]:
        """(top, left, height, width) of every tile, row-major."""
        out = []
        for top in range(0, self.height, self.tile):
            for left in range(0, self.width, self.tile):
                out.append((top, left, min(self.tile, self.height - top), min(self.tile, self.width - left)))
        return out


def _padded(n: int) -> int:
    return max(PAD, math.ceil(n / PAD) * PAD)


class ImageCodec:
    """Codes RGB(A)/grey images with one variable-rate mean-scale hyperprior."""

    modality: ClassVar[str] = "image"
    known_chunks: ClassVar[set[str]] = {CHUNK_Z, CHUNK_Y, CHUNK_ALPHA}

    def __init__(self, model: MeanScaleHyperprior, z_offsets: np.ndarray, z_freqs: np.ndarray,
                 scale_factors: np.ndarray | None = None) -> None:
        # channels_last: the fastest CPU layout for these convolutions, and the one whose results we
        # measured identical across thread counts (the default layout's transposed convolutions
        # are not).
        self.model = model.eval().to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.config: ImageModelConfig = model.config
        # A float64 copy of the hyper-synthesis: it decides the coding indices, so it must not
        # depend on float32 rounding that differs between machines or thread counts.
        self.h_s64 = copy.deepcopy(model.h_s).double().eval()
        self.z_tables = [FrequencyTable(int(o), f) for o, f in zip(z_offsets, z_freqs, strict=True)]
        # Per-quality calibration of the predicted scales, fitted on held-out images at export
        # (see calibrate.py): networks trained with additive noise overestimate the spread of
        # rounded latents, and coding with calibrated scales costs measurably fewer bits.
        factors = np.ones(self.config.num_qualities) if scale_factors is None else np.asarray(scale_factors)
        if factors.shape != (self.config.num_qualities,) or not np.all(factors > 0):
            raise ValueError("scale_factors must hold one positive factor per quality")
        self.scale_factors = torch.from_numpy(factors.astype(np.float64))

    @classmethod
    def from_file(cls, path: str | Path) -> ImageCodec:
        state, tables = split_state(load_tensors(path))
        config = ImageModelConfig(N=int(state["g_a.0.weight"].shape[0]), M=int(state["g_a.6.weight"].shape[0]),
                                  lambdas=tuple(float(v) for v in tables["lambdas"].tolist()))
        model = MeanScaleHyperprior(config)
        model.load_state_dict(state, strict=True)
        factors = tables["scale_factors"].numpy() if "scale_factors" in tables else None
        return cls(model, tables["z_offsets"].numpy(), tables["z_freqs"].numpy(), factors)

    @property
    def qualities(self) -> list[int]:
        return list(range(1, self.config.num_qualities + 1))

    # ----------------------------------------------------------------------------------- encode
    def encode(self, media: ImageData, quality: Quality, effort: int | str = 0) -> Payload:
        """Code ``media`` at ``quality`` (a trained level, or a value between two of them).

        ``effort`` above 0 refines the latent of this image before coding it (see refine.py).
        """
        return self.analyse(media, keep_latents=False).encode(quality, effort)

    def analyse(self, media: ImageData, keep_latents: bool = True) -> AnalysedImage:
        """The image ready to code at any quality.

        The gain vectors act after the analysis transform, so a rate-control search that tries many
        qualities keeps each tile's latent (``keep_latents``) and pays for the expensive
        convolutions once. A single encode does not keep them: each tile's latent is computed when
        that tile is coded, so memory stays that of one tile however large the image.
        """
        pixels = media.pixels
        height, width, _ = pixels.shape
        if height * width > MAX_PIXELS:
            raise InputError(f"image is {width}x{height}: above the limit of {MAX_PIXELS} pixels")
        analysed = AnalysedImage(self, media, _to_rgb8(pixels, media.bit_depth))
        if keep_latents:
            analysed.latents = [analysed.latent(i) for i in range(len(analysed.boxes))]
        return analysed

    def check_quality(self, quality: Quality) -> Quality:
        """``quality`` as it will be recorded: a trained level (int) or a value between two (float).

        Fractional values are kept to hundredths, so the file records exactly what was used.
        """
        if isinstance(quality, bool) or not isinstance(quality, int | float) or not math.isfinite(quality):
            raise UsageError(f"quality must be a number, not {quality!r}")
        top = self.config.num_qualities
        if not 1 <= quality <= top:
            raise UsageError(f"quality {quality:g} is not offered (choose 1..{top}, fractions allowed)")
        hundredths = round(float(quality) * 100)
        return hundredths // 100 if hundredths % 100 == 0 else hundredths / 100

    def gains(self, quality: Quality) -> tuple[Tensor, Tensor, float]:
        """(gain, inverse gain, scale calibration factor) of a quality, trained or in between.

        Between two trained levels the log-gains are interpolated linearly (Cui et al. 2021's
        exponential interpolation of the gain vectors), which moves the rate continuously and
        monotonically. The calibration factor, which decides the coding indices, is interpolated
        with float64 arithmetic only, so encoder and decoder derive it identically everywhere.
        """
        model = self.model
        lower = min(math.floor(quality), self.config.num_qualities) - 1
        frac = float(quality) - (lower + 1)
        if frac == 0.0:
            q = torch.tensor([lower])
            return model.gain_for(q), model.inv_gain_for(q), float(self.scale_factors[lower])
        log_gain = (1 - frac) * model.gain[lower] + frac * model.gain[lower + 1]
        log_inv = (1 - frac) * model.inv_gain[lower] + frac * model.inv_gain[lower + 1]
        factors = self.scale_factors.tolist()
        factor = (1.0 - frac) * factors[lower] + frac * factors[lower + 1]
        return torch.exp(log_gain)[None, :, None, None], torch.exp(log_inv)[None, :, None, None], factor

    @cached_property
    def synthesis(self) -> ExactSynthesis:
        """The decoder's synthesis in exact float64 (built on first use: encoding never needs it)."""
        return ExactSynthesis(self.model.g_s)

    def exact_inverse_gain(self, quality: Quality) -> Tensor:
        """The inverse gain vector (M,) of a quality, trained or in between, from exact operations
        only (the log-gains interpolated in float64, then :func:`ncodec.exactmath.exp`)."""
        log_inv = self.model.inv_gain.detach().double()
        lower = min(math.floor(quality), self.config.num_qualities) - 1
        frac = float(quality) - (lower + 1)
        if frac == 0.0:
            return inverse_gain(log_inv[lower])
        return inverse_gain((1 - frac) * log_inv[lower] + frac * log_inv[lower + 1])

    def _encode_tile(self, y_unscaled: Tensor, quality: Quality, refine_steps: int = 0,
                     pixels: np.ndarray | None = None) -> tuple[bytes, bytes, float]:
        model = self.model
        gain, inv_gain, factor = self.gains(quality)
        y = y_unscaled * gain
        z_int = torch.round(model.h_a(y)).to(torch.int32)
        scales, means = self._hyper(z_int, factor)
        if refine_steps:
            assert pixels is not None
            x = torch.from_numpy(pixels).permute(2, 0, 1)[None].float().div(255.0)
            lam = interpolated_lambda(self.config.lambdas, float(quality))
            y = refine_latent(model, y, means.float(), scales.float(), inv_gain, x, lam, refine_steps)
        residual = torch.round(y.double() - means)
        symbols = residual.to(torch.int32).numpy()
        indices = gaussian.scale_to_index(scales.numpy())
        z_np = z_int.numpy()
        z_bytes = table.encode_tables(z_np.reshape(-1), self._z_ids(z_np.shape), self.z_tables)
        y_bytes = gaussian.encode_gaussian(symbols, indices)
        # The network's own estimate of the size (float likelihoods), reported next to the real size.
        bits = -torch.log2(model.gaussian_conditional.likelihood(residual.float(), scales.float())).sum()
        bits = bits - torch.log2(model.entropy_bottleneck.likelihood(z_int.float())).sum()
        return z_bytes, y_bytes, float(bits)

    def _hyper(self, z_int: Tensor, factor: float) -> tuple[Tensor, Tensor]:
        """(calibrated scales, means) of y in float64: the integer coding indices derive from these."""
        scales, means = self.h_s64(z_int.double()).chunk(2, dim=1)
        return scales * factor, means

    def _z_ids(self, shape: tuple[int, ...]) -> np.ndarray:
        _, c, h, w = shape
        return np.repeat(np.arange(c, dtype=np.int32), h * w)

    # ----------------------------------------------------------------------------------- decode
    def decode(self, payload: Payload) -> ImageData:
        meta = payload.metadata
        width, height = _meta_int(meta, "width", 1, 1 << 20), _meta_int(meta, "height", 1, 1 << 20)
        channels = _meta_int(meta, "channels", 1, 4)
        bit_depth = _meta_int(meta, "bit_depth", 8, 16)
        quality = _meta_quality(meta, self.config.num_qualities)
        if "effort" in meta:
            _meta_int(meta, "effort", 1, 1 << 16)
        tile = _meta_int(meta, "tile", PAD, 1 << 16)
        if channels == 2 or bit_depth not in (8, 16) or tile % PAD:
            raise FormatError("image metadata is inconsistent (channels, bit depth or tile size)")
        if width * height > MAX_PIXELS:
            raise FormatError(f"image is {width}x{height}: above the limit of {MAX_PIXELS} pixels")
        for tag in (CHUNK_Z, CHUNK_Y):
            if tag not in payload.chunks:
                raise FormatError(f"missing chunk '{tag}'")
        boxes = TileGrid(height, width, tile).boxes()
        z_streams = unpack_streams(payload.chunks[CHUNK_Z], len(boxes), f"chunk '{CHUNK_Z}'")
        y_streams = unpack_streams(payload.chunks[CHUNK_Y], len(boxes), f"chunk '{CHUNK_Y}'")
        rgb = np.empty((height, width, 3), dtype=np.uint8)
        with torch.inference_mode(), codec_threads(), retained_heap():
            for (top, left, h, w), zb, yb in tqdm(list(zip(boxes, z_streams, y_streams, strict=False)), desc="decode",
                                                  disable=not sys.stderr.isatty(), delay=1.0):
                rgb[top:top + h, left:left + w] = self._decode_tile(zb, yb, h, w, quality)
        return ImageData(pixels=_restore(rgb, channels, bit_depth, payload.chunks.get(CHUNK_ALPHA), height, width),
                         bit_depth=bit_depth, source_format=None)

    def _decode_tile(self, z_bytes: bytes, y_bytes: bytes, h: int, w: int, quality: Quality) -> np.ndarray:
        _, _, factor = self.gains(quality)
        ph, pw = _padded(h), _padded(w)
        z_shape = (1, self.config.N, ph // PAD, pw // PAD)
        z_np = table.decode_tables(z_bytes, self._z_ids(z_shape), self.z_tables).reshape(z_shape)
        z_int = torch.from_numpy(z_np.astype(np.int32))
        scales, means = self._hyper(z_int, factor)
        indices = gaussian.scale_to_index(scales.numpy())
        symbols = gaussian.decode_gaussian(y_bytes, indices)
        y_hat = (torch.from_numpy(symbols).double() + means) * self.exact_inverse_gain(quality)[None, :, None, None]
        x_hat = self.synthesis(y_hat)
        out = torch.round(x_hat[0, :, :h, :w].clamp(0, 1) * 255).to(torch.uint8)
        return out.permute(1, 2, 0).numpy()


class AnalysedImage:
    """An image after the analysis transform: codes it at any quality without re-running it."""

    def __init__(self, codec: ImageCodec, media: ImageData, rgb8: np.ndarray) -> None:
        self.codec, self.media, self.rgb8 = codec, media, rgb8
        self.boxes = TileGrid(rgb8.shape[0], rgb8.shape[1]).boxes()
        self.latents: list[Tensor] | None = None  # kept per tile when the image is coded many times

    def latent(self, index: int) -> Tensor:
        """Tile ``index``'s latent before the gain: kept, or computed now."""
        if self.latents is not None:
            return self.latents[index]
        top, left, h, w = self.boxes[index]
        with torch.inference_mode(), codec_threads():
            return self.codec.model.g_a(_to_tensor(self.rgb8[top:top + h, left:left + w]))

    @property
    def pixels(self) -> int:
        return int(self.rgb8.shape[0] * self.rgb8.shape[1])

    def encode(self, quality: Quality, effort: int | str = 0) -> Payload:
        codec = self.codec
        quality = codec.check_quality(quality)
        level = effort_level(effort)
        pixels = self.media.pixels
        height, width, channels = pixels.shape
        z_streams, y_streams = [], []
        est_bits = 0.0
        with torch.inference_mode(), codec_threads():
            for index, (top, left, h, w) in enumerate(tqdm(self.boxes, desc="encode", delay=1.0,
                                                           disable=not sys.stderr.isatty() or len(self.boxes) == 1)):
                z_bytes, y_bytes, bits = codec._encode_tile(self.latent(index), quality, EFFORT_STEPS[level],
                                                            self.rgb8[top:top + h, left:left + w])
                z_streams.append(z_bytes)
                y_streams.append(y_bytes)
                est_bits += bits
        chunks = {CHUNK_Z: pack_streams(z_streams), CHUNK_Y: pack_streams(y_streams)}
        if channels == 4:
            alpha = pixels[:, :, 3]
            chunks[CHUNK_ALPHA] = zlib.compress(np.ascontiguousarray(alpha).astype("<u2" if alpha.dtype == np.uint16
                                                                                   else np.uint8).tobytes(), 9)
        metadata: dict[str, Any] = {"width": width, "height": height, "channels": channels,
                                    "bit_depth": self.media.bit_depth, "quality": quality, "tile": TILE,
                                    "source_format": self.media.source_format}
        if level:
            metadata["effort"] = level  # recorded for the user; decoding does not need it
        return Payload(chunks=chunks, metadata=metadata, estimated_bits=est_bits)

    def psnr(self, decoded: ImageData) -> float:
        """RGB PSNR (8-bit) of a decoding of this image, the measure ``--target-psnr`` uses."""
        diff = self.rgb8.astype(np.float64) - _to_rgb8(decoded.pixels, decoded.bit_depth).astype(np.float64)
        mse = float(np.mean(diff * diff))
        return math.inf if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


def _meta_quality(meta: dict[str, Any], top: int) -> Quality:
    """The recorded quality: a trained level, or a value between two kept to hundredths."""
    v = meta.get("quality")
    if isinstance(v, bool) or not isinstance(v, int | float) or not (isinstance(v, int) or math.isfinite(v)) \
            or not 1 <= v <= top or (isinstance(v, float) and round(v * 100) / 100 != v):
        raise FormatError("image metadata 'quality' is missing or out of range")
    return v


def _meta_int(meta: dict[str, Any], key: str, lo: int, hi: int) -> int:
    v = meta.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise FormatError(f"image metadata '{key}' is missing or out of range")
    return v


def _to_rgb8(pixels: np.ndarray, bit_depth: int) -> np.ndarray:
    """RGB uint8 view of any supported image (grey replicated, alpha dropped, 16-bit rounded)."""
    colour = pixels[:, :, :3] if pixels.shape[2] >= 3 else np.repeat(pixels[:, :, :1], 3, axis=2)
    if bit_depth == 16 or colour.dtype == np.uint16:
        colour = np.round(colour.astype(np.float64) / 257.0).astype(np.uint8)
    return np.ascontiguousarray(colour, dtype=np.uint8)


def _to_tensor(rgb8: np.ndarray) -> Tensor:
    """(1, 3, H', W') float32 in [0, 1], edge-padded to a multiple of the model's stride."""
    h, w = rgb8.shape[:2]
    padded = np.pad(rgb8, ((0, _padded(h) - h), (0, _padded(w) - w), (0, 0)), mode="edge")
    x = torch.from_numpy(padded).permute(2, 0, 1)[None].float().div(255.0)
    return x.contiguous(memory_format=torch.channels_last)


def _restore(rgb: np.ndarray, channels: int, bit_depth: int, alpha_chunk: bytes | None,
             height: int, width: int) -> np.ndarray:
    """Back to the input's channel count and bit depth."""
    out: np.ndarray
    if channels == 1:
        grey = np.round(rgb.astype(np.float64).mean(axis=2))
        out = grey.astype(np.uint8)[:, :, None]
    else:
        out = rgb
    if bit_depth == 16:
        out = out.astype(np.uint16) * 257
    if channels == 4:
        if alpha_chunk is None:
            raise FormatError(f"missing chunk '{CHUNK_ALPHA}' for an RGBA image")
        dtype = np.dtype("<u2") if bit_depth == 16 else np.dtype(np.uint8)
        expected = height * width * dtype.itemsize
        try:
            raw = zlib.decompressobj().decompress(alpha_chunk, expected + 1)
        except zlib.error as exc:
            raise FormatError(f"chunk '{CHUNK_ALPHA}' is corrupt: {exc}") from exc
        if len(raw) != expected:
            raise FormatError(f"chunk '{CHUNK_ALPHA}' holds {len(raw)} bytes, expected {expected}")
        alpha = np.frombuffer(raw, dtype=dtype).reshape(height, width).astype(out.dtype)
        out = np.concatenate([out, alpha[:, :, None]], axis=2)
    return np.ascontiguousarray(out)
