"""The image codec with the shipped weights: quality, sizes, channel policies, determinism."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from ncodec import api
from ncodec.codecs.base import Payload
from ncodec.codecs.image.codec import CHUNK_Y, ImageCodec
from ncodec.codecs.image.model import ImageModelConfig, MeanScaleHyperprior
from ncodec.errors import FormatError, UsageError
from ncodec.eval.metrics import psnr
from ncodec.media.image import ImageData
from ncodec.registry import by_name, load_codec

MODEL = "image-hyperprior"

# Floors and ceilings on the 256x256 crop of the sample photo (tests/conftest.py), set just below
# what the shipped weights measure (q1: 0.120 bpp at 30.48 dB, q8: 0.769 bpp at 36.03 dB) and far
# above what untrained weights reach (about 10-14 dB), so a regression in the weights or the coding
# path fails here.
PSNR_FLOOR = {1: 29.8, 8: 35.4}
BPP_CEILING = {1: 0.135, 8: 0.85}


def _codec() -> ImageCodec:
    codec, _ = load_codec(by_name(MODEL))
    assert isinstance(codec, ImageCodec)
    return codec


def _round_trip(pixels: np.ndarray, quality: int = 4, bit_depth: int = 8) -> tuple[bytes, np.ndarray]:
    data = api.encode(ImageData(pixels, bit_depth, None), model=MODEL, quality=quality)
    return data, api.decode(data).pixels


def test_every_quality_meets_its_floor_and_rates_increase(photo: np.ndarray) -> None:
    qualities = by_name(MODEL).qualities
    assert len(qualities) >= 6
    bpps, psnrs = [], []
    for q in qualities:
        data, out = _round_trip(photo, q)
        bpps.append(8 * len(data) / (photo.shape[0] * photo.shape[1]))
        psnrs.append(psnr(photo, out))
    assert psnrs[0] >= PSNR_FLOOR[1] and bpps[0] <= BPP_CEILING[1]
    assert psnrs[-1] >= PSNR_FLOOR[8] and bpps[-1] <= BPP_CEILING[8]
    assert all(b2 > b1 for b1, b2 in itertools.pairwise(bpps)), bpps
    assert all(p2 > p1 for p1, p2 in itertools.pairwise(psnrs)), psnrs


def test_random_weights_miss_the_floor(photo: np.ndarray) -> None:
    """The floor is a real bar: an untrained network of the same shape does not reach it."""
    trained = _codec()
    torch.manual_seed(0)
    random_codec = ImageCodec(MeanScaleHyperprior(trained.config), trained_offsets(trained),
                              trained_freqs(trained))
    out = random_codec.decode(random_codec.encode(ImageData(photo, 8, None), 8)).pixels
    assert psnr(photo, out) < PSNR_FLOOR[8]


def trained_offsets(codec: ImageCodec) -> np.ndarray:
    return np.array([t.offset for t in codec.z_tables])


def trained_freqs(codec: ImageCodec) -> np.ndarray:
    return np.stack([t.freqs for t in codec.z_tables])


@pytest.mark.parametrize("shape", [(1, 1), (17, 33), (64, 64), (65, 1), (3, 200)])
def test_any_size_round_trips_to_the_same_shape(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    _, out = _round_trip(pixels)
    assert out.shape == pixels.shape and out.dtype == np.uint8


def test_tiled_image_round_trips(photo: np.ndarray) -> None:
    wide = np.ascontiguousarray(np.tile(photo, (1, 5, 1))[:70, :1100])  # two tiles side by side
    data, out = _round_trip(wide, 6)
    assert out.shape == wide.shape
    assert psnr(wide, out) > 20
    from ncodec.codecs.framing import unpack_streams
    from ncodec.container.format import read_container

    assert len(unpack_streams(read_container(data).chunks[CHUNK_Y], 2, "y")) == 2


def test_greyscale_is_restored_as_one_channel(photo: np.ndarray) -> None:
    grey = np.ascontiguousarray(photo.mean(axis=2, keepdims=True).astype(np.uint8))
    _, out = _round_trip(grey, 6)
    assert out.shape == grey.shape
    assert psnr(grey, out) > 24


def test_rgba_alpha_is_lossless(photo: np.ndarray) -> None:
    alpha = np.random.default_rng(2).integers(0, 256, photo.shape[:2], dtype=np.uint8)
    rgba = np.concatenate([photo, alpha[:, :, None]], axis=2)
    _, out = _round_trip(rgba)
    assert out.shape == rgba.shape
    assert np.array_equal(out[:, :, 3], alpha)


def test_16_bit_is_coded_at_8_bit_precision_and_restored_to_16(photo: np.ndarray) -> None:
    deep = photo.astype(np.uint16) * 257
    deep[deep < 65000] += 100  # off the 8-bit grid, without wrapping
    _, out = _round_trip(deep, 6, bit_depth=16)
    assert out.dtype == np.uint16 and out.shape == deep.shape
    assert np.all(out % 257 == 0)
    assert psnr(deep, out, peak=65535) > 24


def test_estimated_bits_are_close_to_the_real_size(photo: np.ndarray) -> None:
    result = api.encode_with_stats(ImageData(photo, 8, None), model=MODEL, quality=4)
    payload_bits = 8 * api.info(result.data)["payload_bytes"]
    assert result.estimated_bits is not None
    assert abs(payload_bits - result.estimated_bits) / result.estimated_bits < 0.015


def test_unknown_quality_is_refused(photo: np.ndarray) -> None:
    with pytest.raises(UsageError):
        api.encode(ImageData(photo, 8, None), model=MODEL, quality=99)


def test_damaged_latent_stream_is_a_format_error(photo: np.ndarray) -> None:
    codec = _codec()
    payload = codec.encode(ImageData(photo[:64, :64], 8, None), 4)
    for cut in (0, 3, len(payload.chunks[CHUNK_Y]) - 4):
        chunks = dict(payload.chunks)
        chunks[CHUNK_Y] = chunks[CHUNK_Y][:cut]
        with pytest.raises(FormatError):
            codec.decode(Payload(chunks, payload.metadata))


def test_parameter_names_follow_compressai() -> None:
    names = set(MeanScaleHyperprior(ImageModelConfig(N=8, M=12)).state_dict())
    expected = {"g_a.0.weight", "g_a.1.beta", "g_a.1.gamma", "g_a.1.beta_reparam.pedestal",
                "g_a.1.gamma_reparam.lower_bound.bound", "g_s.6.bias", "h_a.4.weight", "h_s.4.weight",
                "entropy_bottleneck._matrix0", "entropy_bottleneck._bias3", "entropy_bottleneck._factor2",
                "entropy_bottleneck.quantiles", "gaussian_conditional.scale_table"}
    assert expected <= names


def test_a_compressai_state_dict_loads() -> None:
    """A state dict shaped like CompressAI's mbt2018-mean (coder buffers included, no gains)."""
    from ncodec.codecs.image.weights import from_compressai_state_dict

    config = ImageModelConfig(N=8, M=12, lambdas=(0.01, 0.02))
    source = MeanScaleHyperprior(config).state_dict()
    foreign = {k: v for k, v in source.items() if k not in ("gain", "inv_gain", "gaussian_conditional.scale_table")}
    foreign.update({"entropy_bottleneck._offset": torch.zeros(8), "entropy_bottleneck._quantized_cdf": torch.zeros(8, 9),
                    "entropy_bottleneck._cdf_length": torch.zeros(8), "gaussian_conditional.scale_table": torch.ones(64),
                    "gaussian_conditional._offset": torch.zeros(64)})
    model = MeanScaleHyperprior(config)
    model.load_state_dict(from_compressai_state_dict(foreign, 2), strict=True)
    weight = model.g_s[0].weight
    assert isinstance(weight, torch.Tensor) and torch.equal(weight, source["g_s.0.weight"])
    assert torch.equal(model.gain, torch.zeros(2, 12))


DETERMINISM = textwrap.dedent("""
    import hashlib, sys, torch
    torch.set_num_threads(int(sys.argv[1]))
    from ncodec import api
    from ncodec.media.image import read_image
    from ncodec.registry import shipped_asset
    img = read_image(shipped_asset("rocket.jpg"))
    data = api.encode(img, quality=3)
    out = api.decode(data).pixels
    print(hashlib.sha256(data).hexdigest(), hashlib.sha256(out.tobytes()).hexdigest())
""")


def test_bit_exact_across_processes_and_thread_counts() -> None:
    runs = [subprocess.run([sys.executable, "-c", DETERMINISM, str(n)], capture_output=True, text=True,
                           timeout=300) for n in (1, 2)]
    for r in runs:
        assert r.returncode == 0, r.stderr[-2000:]
    assert runs[0].stdout == runs[1].stdout
