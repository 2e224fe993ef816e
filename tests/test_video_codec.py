"""The video codec: fitting, the real file, exact decoding, groups, odd sizes, limits and edge cases."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from ncodec import api
from ncodec.cli.main import main as cli
from ncodec.codecs.base import Payload
from ncodec.codecs.framing import unpack_streams
from ncodec.codecs.video import motion, prior, synthesis
from ncodec.codecs.video.codec import QUALITIES, EncodeOptions, VideoCodec
from ncodec.codecs.video.fit import FitSettings, GroupFitter
from ncodec.codecs.video.grids import (
    check_strides,
    in_time,
    key_count,
    level_shapes,
    time_matrix,
    to_full_resolution,
    to_full_resolution_mm,
)
from ncodec.codecs.video.synthesis import Synthesis, SynthesisShape, load_quantized, quantize_parameters
from ncodec.container.format import read_container
from ncodec.errors import FormatError, InputError, UsageError
from ncodec.media.image import read_image
from ncodec.media.samples import sample_clip, sample_photo_path
from ncodec.media.video import VideoData, read_video, write_video

MODEL = "video-latent-grid"
# The 8-frame 64x64 pan across the sample photo measures 24.3 dB at quality 3 (0.21 bpp); a flat
# grey picture scores 12.1 dB on it.
PSNR_FLOOR_Q3 = 22.5


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / max(mse, 1e-12))


@pytest.fixture(scope="module")
def clip() -> VideoData:
    frames, fps = sample_clip(frames=8, size=(64, 64))
    return VideoData(frames, fps)


@pytest.fixture(scope="module")
def coded(clip: VideoData) -> bytes:
    return api.encode(clip, model=MODEL, quality=3)


def _codec_encode(video: VideoData, quality: int = 3, **options: object) -> Payload:
    return VideoCodec().encode(video, quality, EncodeOptions(progress=False, **options))  # type: ignore[arg-type]


def test_round_trip_meets_floor_and_every_byte_is_counted(clip: VideoData, coded: bytes) -> None:
    out = api.decode(coded)
    assert isinstance(out, VideoData)
    assert out.frames.shape == clip.frames.shape and out.fps == clip.fps
    assert _psnr(clip.frames, out.frames) >= PSNR_FLOOR_Q3
    container = read_container(coded)
    assert container.overhead_bytes + container.payload_bytes == len(coded)
    assert list(container.chunks) == ["G000"]
    info = api.info(coded)
    assert info["frames"] == 8 and info["fps"] == "24/1"
    assert info["bpp"] == pytest.approx(8 * len(coded) / (64 * 64 * 8), abs=1e-4)


def test_higher_quality_spends_more_bits_for_more_psnr(clip: VideoData, coded: bytes) -> None:
    low = api.encode(clip, model=MODEL, quality=1)
    high = api.encode(clip, model=MODEL, quality=6)
    psnrs = [_psnr(clip.frames, api.decode(d).frames) for d in (low, coded, high)]
    assert len(low) < len(coded) < len(high)
    assert psnrs[0] < psnrs[1] < psnrs[2]


def test_time_limit_stops_early_and_still_writes_a_valid_file() -> None:
    frames, fps = sample_clip(frames=24, size=(96, 80))
    payload = _codec_encode(VideoData(frames, fps), time_limit=0.5)
    meta = payload.metadata
    assert sum(meta["steps_done"]) < meta["steps"]
    out = VideoCodec().decode(payload)
    assert out.frames.shape == frames.shape


def test_a_deadline_shortens_the_schedule_so_the_fit_still_reaches_its_rounding_phase() -> None:
    """A fit that cannot finish its steps in time runs a shorter schedule, rounding phase included,
    instead of stopping in the middle of its noise phase."""
    frames, _ = sample_clip(frames=4, size=(24, 16))
    settings = FitSettings(lam=0.04, steps=1_000_000, deadline=time.monotonic() + 3.0)
    fitter = GroupFitter(frames, SynthesisShape(levels=2), settings, torch.device("cpu"))
    done = fitter.fit()
    assert done < settings.steps
    assert fitter.rounded_from is not None and fitter.rounded_from < done


def test_odd_sizes_and_groups_round_trip() -> None:
    frames, _ = sample_clip(frames=10, size=(35, 23))
    payload = _codec_encode(VideoData(frames, Fraction(30000, 1001)), group_frames=4, steps_scale=0.2)
    assert list(payload.chunks) == ["G000", "G001", "G002"]
    out = VideoCodec().decode(payload)
    assert out.frames.shape == (10, 23, 35, 3) and out.fps == Fraction(30000, 1001)
    assert _psnr(frames, out.frames) > 15.0
    # a truncated group is a clean error
    damaged = dict(payload.chunks)
    damaged["G001"] = damaged["G001"][:-4]
    with pytest.raises(FormatError):
        VideoCodec().decode(Payload(damaged, payload.metadata))


def test_one_frame_video_and_a_still_image_as_video(tmp_path: Path) -> None:
    frames, fps = sample_clip(frames=1, size=(48, 32))
    out = VideoCodec().decode(_codec_encode(VideoData(frames, fps), steps_scale=0.2))
    assert out.frames.shape == (1, 32, 48, 3)
    still = tmp_path / "still.png"
    from PIL import Image

    Image.fromarray(frames[0]).save(still)
    result = api.encode_file(still, tmp_path / "still.nc", model=MODEL, quality=1)
    assert api.info(result.data)["frames"] == 1


def test_decoding_is_identical_across_processes_and_thread_counts(coded: bytes, tmp_path: Path) -> None:
    path = tmp_path / "clip.nc"
    path.write_bytes(coded)
    here = hashlib.sha256(api.decode(coded).frames.tobytes()).hexdigest()
    script = textwrap.dedent(f"""
        import hashlib, sys, torch
        torch.set_num_threads(int(sys.argv[1]))
        from ncodec import api
        print(hashlib.sha256(api.decode(open({str(path)!r}, 'rb').read()).frames.tobytes()).hexdigest())
    """)
    for threads in (1, 3):
        run = subprocess.run([sys.executable, "-c", script, str(threads)], capture_output=True, text=True,
                             check=True)
        assert run.stdout.strip() == here, threads


def _exact_network(levels: int, seed: int) -> Synthesis:
    """A float64 network with stored (quantized) parameters, weights spread wide enough that
    the activations use their range: what a decoder runs."""
    torch.manual_seed(seed)
    shape = SynthesisShape(levels=levels)
    net = Synthesis(shape)
    exps = [(9, 10)] * len(net.layers())
    for layer in net.layers():
        torch.nn.init.normal_(layer.weight, std=0.5)
    exact = Synthesis(shape).double()
    load_quantized(exact, quantize_parameters(net, exps), exps)
    return exact


def test_exact_synthesis_does_not_depend_on_batching() -> None:
    """Integer-valued float64 arithmetic: the same frame decodes to the same bits alone or in a batch."""
    exact = _exact_network(4, seed=0)
    planes = [torch.randint(-20, 21, (5, h, w)).double() for h, w in level_shapes(37, 45, 4)]
    with torch.inference_mode():
        batch = exact(to_full_resolution(planes, 37, 45), exact=True)
        single = exact(to_full_resolution([p[2:3] for p in planes], 37, 45), exact=True)
        strided = exact(to_full_resolution(planes, 37, 45).contiguous(memory_format=torch.channels_last), exact=True)
    assert torch.equal(batch[2:3], single)
    assert torch.equal(batch, strided)
    assert torch.equal(batch * 2.0**16, torch.round(batch * 2.0**16))  # every value on the fixed-point grid


def test_pixel_major_training_forward_matches_the_network() -> None:
    """The fitting's matrix-product forward is the same function as the convolutional one."""
    torch.manual_seed(0)
    net = Synthesis(SynthesisShape(levels=4))
    planes = [torch.randn(3, h, w) for h, w in level_shapes(21, 30, 4)]
    channels = net(to_full_resolution(planes, 21, 30))
    pixels = net.forward_pixels(to_full_resolution(planes, 21, 30, pixel_major=True))
    assert pixels.shape == (3, 21, 30, 3)
    assert torch.allclose(pixels.permute(0, 3, 1, 2), channels, atol=1e-6)


def test_fused_squared_error_matches_the_plain_network_and_its_gradients() -> None:
    """The fitter's chunked squared error (forward, then forward again and back per chunk) is
    the plain network's, in value and in every gradient, across a chunk boundary."""
    torch.manual_seed(0)
    net = Synthesis(SynthesisShape(levels=4))
    pixels = synthesis.CHUNK_PIXELS + 1000
    x = torch.randn(1, 1, pixels, 4, requires_grad=True)
    target = torch.rand(1, 1, pixels, 3)
    fused = net.squared_error(x, target)
    fused.backward()
    assert x.grad is not None
    ours = [x.grad.clone()] + [p.grad.clone() for p in net.parameters() if p.grad is not None]
    x.grad = None
    net.zero_grad(set_to_none=True)
    plain = torch.sum((net.forward_pixels(x) - target) ** 2)
    plain.backward()
    assert x.grad is not None
    theirs = [x.grad] + [p.grad for p in net.parameters() if p.grad is not None]
    assert len(ours) == len(theirs) == 7
    assert torch.allclose(fused, plain, rtol=1e-5)
    for a, b in zip(ours, theirs, strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-4 * float(b.abs().max()))


def test_expected_bits_leaves_its_inputs_alone() -> None:
    """The rate's index arithmetic runs in place on its own copies, never on the caller's contexts."""
    buckets = torch.randint(0, prior.BUCKETS, (2, 5, 7))
    kept = buckets.clone()
    symbols = torch.randn(2, 5, 7) * 2.0
    prior.expected_bits(symbols, buckets, torch.ones(prior.BUCKETS))
    assert torch.equal(buckets, kept)


@pytest.mark.parametrize(("height", "width", "levels"), [(37, 45, 5), (288, 352, 7), (5, 3, 3), (1, 1, 2)])
def test_upsampling_as_matrix_products_is_the_same_function(height: int, width: int, levels: int) -> None:
    """The fitter's matrix form of the upsampling gives the decoder's values: bit for bit on
    integer planes in float64, and within float32 rounding on real-valued ones."""
    torch.manual_seed(0)
    planes = [torch.randint(-1024, 1025, (3, h, w)).double() for h, w in level_shapes(height, width, levels)]
    assert torch.equal(to_full_resolution_mm(planes, height, width),
                       to_full_resolution(planes, height, width, pixel_major=True))
    noisy = [(p / 7).float() for p in planes]
    assert torch.allclose(to_full_resolution_mm(noisy, height, width),
                          to_full_resolution(noisy, height, width, pixel_major=True), atol=1e-4)


def test_expected_bits_interpolates_the_integer_costs_with_their_gradients() -> None:
    """The fitter's rate is the coder's cost at integers, linear between them, and its gradients
    (to the symbols and to the scales) are those of the plain formula under autograd."""
    torch.manual_seed(0)
    log_scales = (torch.randn(prior.BUCKETS) - 1.0).requires_grad_(True)
    buckets = torch.randint(0, prior.BUCKETS, (4, 30, 20))
    symbols = (torch.randn(4, 30, 20) * 3.0).requires_grad_(True)
    prior.expected_bits(symbols, buckets, torch.exp(log_scales)).backward()
    assert symbols.grad is not None and log_scales.grad is not None
    ours = (symbols.grad.clone(), log_scales.grad.clone())
    symbols.grad, log_scales.grad = None, None
    scale = torch.exp(log_scales)[buckets]
    n = torch.floor(symbols.detach())
    f = symbols - n
    low, high = prior.gaussian_bits(n, scale), prior.gaussian_bits(n + 1, scale)
    plain = (low + f * (high - low)).sum()
    plain.backward()
    assert torch.allclose(ours[0], symbols.grad, atol=1e-4)
    assert torch.allclose(ours[1], log_scales.grad, rtol=1e-4, atol=1e-2)
    integers = torch.round(symbols.detach())
    at_integers = prior.expected_bits(integers, buckets, torch.exp(log_scales.detach()))
    assert torch.allclose(at_integers, prior.gaussian_bits(integers, scale.detach()).sum(), rtol=1e-5)
    half = prior.expected_bits(integers + 0.5, buckets, torch.exp(log_scales.detach()))
    between = 0.5 * (prior.gaussian_bits(integers, scale.detach()) + prior.gaussian_bits(integers + 1, scale.detach()))
    assert torch.allclose(half, between.sum(), rtol=1e-5)
    # the table is built only as wide as the symbols need: all zeros, and beyond the limit (flat)
    one = torch.exp(log_scales.detach()[:1])
    zeros = torch.zeros(3, 4, 4)
    assert torch.allclose(prior.expected_bits(zeros, torch.zeros(3, 4, 4, dtype=torch.long), one),
                          48 * prior.gaussian_bits(torch.zeros(()), one[0]), rtol=1e-6)
    far = torch.full((1, 1, 2), float(prior.SYMBOL_LIMIT + 50))
    at_limit = prior.gaussian_bits(torch.tensor(float(prior.SYMBOL_LIMIT)), one[0])
    assert torch.allclose(prior.expected_bits(far, torch.zeros(1, 1, 2, dtype=torch.long), one), 2 * at_limit)


def test_latent_streams_round_trip() -> None:
    rng = np.random.default_rng(0)
    shapes = level_shapes(40, 56, 4)
    latents = [rng.integers(-3, 4, (6, h, w)) * (rng.random((6, h, w)) < 0.3) for h, w in shapes]
    symbols = [prior.symbols_of(y) for y in latents]
    table, bits = prior.choose_tables(symbols)
    streams = prior.encode_levels(symbols, table)
    assert 8 * sum(len(s) for s in streams) <= bits + 64 * len(streams) + 64
    back = prior.decode_levels(streams, table, 6, shapes)
    for y, s in zip(latents, back, strict=True):
        assert np.array_equal(prior.latents_of(s), y)


@pytest.mark.parametrize("frames", [1, 2, 5, 8, 9, 32])
@pytest.mark.parametrize("stride", [1, 2, 4, 8])
def test_a_level_with_a_temporal_stride_interpolates_between_its_planes(frames: int, stride: int) -> None:
    keys = key_count(frames, stride)
    assert ((keys - 1) * stride >= frames - 1 and (keys - 2) * stride < frames - 1) or keys == 1
    m = time_matrix(frames, stride)
    assert torch.equal(m.sum(dim=1), torch.ones(frames, dtype=torch.float64))
    assert torch.equal(m[::stride], torch.eye(keys, dtype=torch.float64)[: len(range(0, frames, stride))])
    planes = torch.randint(-1024, 1025, (keys, 5, 3)).double()
    out = in_time(planes, stride, frames)
    some = torch.tensor([frames - 1, 0])
    assert torch.equal(in_time(planes, stride, frames, at=some), out[some])
    # dyadic weights on integers: exact, so interpolating a frame on its own gives the same bits
    for t in range(frames):
        a, r = divmod(t, stride)
        alone = planes[a] * ((stride - r) / stride) + (planes[a + 1] * (r / stride) if r else 0.0)
        assert torch.equal(out[t], alone)


def test_latent_streams_with_temporal_strides_round_trip() -> None:
    rng = np.random.default_rng(1)
    frames, strides = 11, (1, 2, 2, 8)
    shapes = level_shapes(40, 56, 4)
    latents = [rng.integers(-3, 4, (key_count(frames, st), h, w)) * (rng.random((key_count(frames, st), h, w)) < 0.3)
               for st, (h, w) in zip(strides, shapes, strict=True)]
    symbols = [prior.symbols_of(y) for y in latents]
    table, _ = prior.choose_tables(symbols, strides)
    back = prior.decode_levels(prior.encode_levels(symbols, table, strides), table, frames, shapes, strides)
    for y, s in zip(latents, back, strict=True):
        assert np.array_equal(prior.latents_of(s), y)


def test_latent_streams_of_a_chained_group_round_trip_against_the_reference() -> None:
    rng = np.random.default_rng(2)
    frames, strides = 6, (1, 1, 2)
    shapes = level_shapes(24, 40, 3)
    refs = [rng.integers(-50, 51, (h, w)) for h, w in shapes]
    latents = [ref + rng.integers(-1, 2, (key_count(frames, st), h, w))
               for ref, st, (h, w) in zip(refs, strides, shapes, strict=True)]
    symbols = [prior.symbols_of(y, ref) for y, ref in zip(latents, refs, strict=True)]
    assert all(int(np.abs(s).max()) <= 2 for s in symbols)  # the first plane too: a difference
    table, _ = prior.choose_tables(symbols, strides, first_is_delta=True)
    streams = prior.encode_levels(symbols, table, strides, first_is_delta=True)
    back = prior.decode_levels(streams, table, frames, shapes, strides, first_is_delta=True)
    for y, s, ref in zip(latents, back, refs, strict=True):
        assert np.array_equal(prior.latents_of(s, ref), y)


def test_chunked_pixel_decoding_gives_the_whole_frame_decoders_bits() -> None:
    """The decoder's chunked, pixel-major synthesis is the channel-major whole-frame one to the
    last bit (exact arithmetic per pixel), across chunk boundaries and with a frame window."""
    exact = _exact_network(5, seed=1)
    height, width = 97, 91  # 2 frames of 8,827 pixels: chunks end inside a frame
    world = motion.World.of(np.array([[0, 0], [5, -3]]), height, width)
    planes = [torch.randint(-40, 41, (2, h, w)).double() for h, w in level_shapes(world.height, world.width, 5)]
    with torch.inference_mode():
        whole = exact.decode_forward(motion.synthesis_input(planes, world, [0, 1], height, width))
        expected = torch.clamp(torch.round(whole * 255.0), 0, 255).to(torch.uint8).permute(0, 2, 3, 1)
        chunked = exact.decode_pixels(motion.pixel_input(planes, world, [0, 1], height, width))
    assert 2 * height * width > synthesis.DECODE_CHUNK_PIXELS
    assert chunked.dtype == torch.uint8 and chunked.shape == (2, height, width, 3)
    assert len(torch.unique(chunked)) > 50  # a picture, not a clamped constant
    assert torch.equal(chunked, expected)


def test_chained_groups_code_a_still_scene_once_and_decode_exactly() -> None:
    still = np.repeat(sample_clip(frames=1, size=(96, 80))[0], 8, axis=0)
    video = VideoData(still, Fraction(25))
    chained = _codec_encode(video, 5, group_frames=4, steps_scale=0.3)
    independent = _codec_encode(video, 5, group_frames=4, steps_scale=0.3, independent_groups=True)
    assert chained.metadata["chained"] is True and independent.metadata["chained"] is False

    def latent_bytes(payload: Payload, group: str) -> int:
        head = 2 + int(payload.metadata["motion"])  # header, weights, the motion steps
        per_level = 2 if payload.metadata.get("contexts") == "checkerboard" else 1
        streams = unpack_streams(payload.chunks[group], head + per_level * payload.metadata["levels"], "group")
        return sum(len(s) for s in streams[head:])

    # the second group's first picture is a difference from the first group's last: nearly free
    # (measured: 164 latent bytes chained, 648 independent)
    assert latent_bytes(chained, "G001") < 0.5 * latent_bytes(independent, "G001")
    out = VideoCodec().decode(chained)
    assert _psnr(still, out.frames) > 18.0
    assert _psnr(still, out.frames) > _psnr(still, VideoCodec().decode(independent).frames) - 1.0
    # files written before chaining existed have no field and independent groups
    legacy = dict(independent.metadata)
    del legacy["chained"]
    assert np.array_equal(VideoCodec().decode(Payload(independent.chunks, legacy)).frames,
                          VideoCodec().decode(independent).frames)
    # the second group really reads the first: decoded as independent groups, it is not the same
    try:
        unchained = VideoCodec().decode(Payload(chained.chunks, {**chained.metadata, "chained": False})).frames
    except FormatError:  # the contexts of its first planes differ, so the stream may not even decode
        unchained = None
    assert unchained is None or not np.array_equal(unchained[4:], out.frames[4:])
    for bad in ("yes", 1, None):
        with pytest.raises(FormatError):
            VideoCodec().decode(Payload(chained.chunks, {**chained.metadata, "chained": bad}))


def _pan(frames: int, width: int, height: int, step: int = 2) -> np.ndarray:
    """A pure pan: windows of the sample photo sliding ``step`` pixels to the right per frame."""
    src = read_image(sample_photo_path()).pixels
    return np.stack([src[100:100 + height, 150 + step * t:150 + width + step * t] for t in range(frames)])


def test_global_motion_is_estimated_in_quarter_pixels_and_still_frames_stay_still() -> None:
    pan = _pan(6, 80, 48)
    assert motion.estimate(pan).tolist() == [[0, 0]] + [[0, 8]] * 5  # new(r, c) = old(r, c + 2)
    assert motion.estimate(pan[1:], previous=pan[0]).tolist() == [[0, 8]] * 5
    still = np.repeat(pan[:1], 4, axis=0)
    assert not motion.estimate(still).any()
    steps = np.array([[0, 0], [1, -8], [1, -8], [-256, 256]])
    assert np.array_equal(motion.decode_steps(motion.encode_steps(steps), 4), steps)
    with pytest.raises(FormatError):
        motion.decode_steps(motion.encode_steps(np.array([[0, 0], [0, 257]])), 2)


def test_frame_windows_of_the_world_are_exact_and_the_fitters_layout_gives_the_same_values() -> None:
    rng = np.random.default_rng(3)
    height, width, levels = 21, 30, 4
    absolute = np.array([[0, 0], [3, -5], [-6, 9], [7, 2]])  # quarter pixels
    world = motion.World.of(absolute, height, width)
    assert world.origin == (-2, -2) and world.positions.min() >= 0 and (world.positions.min(axis=0) < 4).all()
    assert (world.height, world.width) == (height + 4, width + 5)
    shapes = level_shapes(world.height, world.width, levels)
    planes = [torch.from_numpy(rng.integers(-300, 301, (4, h, w))).double() for h, w in shapes]
    exact = motion.synthesis_input(planes, world, [0, 1, 2, 3], height, width)
    assert exact.shape == (4, levels, height, width)
    fitting = motion.pixel_input(planes, world, [0, 1, 2, 3], height, width)
    assert torch.equal(fitting.permute(0, 3, 1, 2), exact)  # exact arithmetic both ways
    # and each window is the frame's own: the world shifted by its position, whole or fractional
    full = to_full_resolution(planes, world.height, world.width)
    ry, fy = divmod(int(world.positions[1][0]), 4)
    rx, fx = divmod(int(world.positions[1][1]), 4)
    rows = full[1][:, ry:ry + height] * (1 - fy / 4) + full[1][:, ry + 1:ry + 1 + height] * (fy / 4)
    expected = rows[:, :, rx:rx + width] * (1 - fx / 4) + rows[:, :, rx + 1:rx + 1 + width] * (fx / 4)
    assert torch.equal(exact[1], expected)
    # a frame at a whole-pixel position reads the world's samples themselves
    assert torch.equal(exact[0, 0], planes[0][0, 2:2 + height, 2:2 + width])
    # the previous group's planes move with the world's origin, whole latents per level
    prev = [np.arange(12).reshape(3, 4), np.arange(6).reshape(2, 3)]
    moved = motion.align(prev, (1, -1), [(3, 4), (2, 3)])
    assert moved[0].tolist() == [[4, 4, 5, 6], [8, 8, 9, 10], [8, 8, 9, 10]]
    assert moved[1].tolist() == [[0, 0, 1], [3, 3, 4]]


def test_a_panning_clip_is_coded_better_with_global_motion_and_decodes_exactly() -> None:
    pan = _pan(8, 96, 64)
    video = VideoData(pan, Fraction(25))
    moving = _codec_encode(video, 5, steps_scale=0.3)
    still = _codec_encode(video, 5, steps_scale=0.3, global_motion=False)
    assert moving.metadata["motion"] is True and still.metadata["motion"] is False

    def loss(payload: Payload) -> float:
        out = VideoCodec().decode(payload).frames
        mse = float(np.mean((out.astype(np.float64) / 255 - pan.astype(np.float64) / 255) ** 2))
        bpp = 8 * sum(len(c) for c in payload.chunks.values()) / pan[..., 0].size
        return mse + QUALITIES[5].lam * bpp

    # measured: 36.13 dB at 483 bytes with motion, 34.06 dB at 463 without (loss 0.00103 / 0.00115)
    assert loss(moving) < loss(still)
    # files written before global motion have no field and no motion stream
    legacy = dict(still.metadata)
    del legacy["motion"]
    assert np.array_equal(VideoCodec().decode(Payload(still.chunks, legacy)).frames, VideoCodec().decode(still).frames)
    for bad in ("yes", 0):
        with pytest.raises(FormatError):
            VideoCodec().decode(Payload(moving.chunks, {**moving.metadata, "motion": bad}))


def test_strides_must_be_powers_of_two_not_finer_than_the_level_below() -> None:
    check_strides((1, 1, 2, 4), 4)
    for bad in ((1, 3, 4, 4), (2, 1, 1, 1), (1, 1, 1), (1, 1, 1, 32)):
        with pytest.raises(ValueError):
            check_strides(bad, 4)


def test_a_clip_coded_with_temporal_strides_decodes_exactly_and_rejects_bad_strides() -> None:
    frames, fps = sample_clip(frames=7, size=(40, 33))
    video = VideoData(frames, fps)
    payload = _codec_encode(video, group_frames=5, steps_scale=0.2, strides=(1, 2, 2, 4))
    assert payload.metadata["strides"] == [1, 2, 2, 4]
    out = VideoCodec().decode(payload)
    assert out.frames.shape == frames.shape and _psnr(frames, out.frames) > 15.0
    # files without the field are files of stride 1 everywhere
    plain = _codec_encode(video, group_frames=5, steps_scale=0.2, strides=(1, 1, 1, 1))
    legacy = dict(plain.metadata)
    del legacy["strides"]
    assert np.array_equal(VideoCodec().decode(Payload(plain.chunks, legacy)).frames, VideoCodec().decode(plain).frames)
    for bad in ([1, 2, 3, 4], [1, 2], "1,2,2,4", [4, 2, 1, 1]):
        with pytest.raises(FormatError):
            VideoCodec().decode(Payload(payload.chunks, {**payload.metadata, "strides": bad}))
    with pytest.raises(UsageError):
        _codec_encode(video, strides=(1, 3, 4, 4))


def test_cli_round_trip_to_every_output_format(clip: VideoData, coded: bytes, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    nc = tmp_path / "clip.nc"
    nc.write_bytes(coded)
    assert cli(["info", str(nc), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["frames"] == 8 and shown["bpp"] > 0
    reference = api.decode(coded).frames
    assert cli(["decode", str(nc), str(tmp_path / "back.mkv")]) == 0
    assert np.array_equal(read_video(tmp_path / "back.mkv").frames, reference)  # FFV1 is lossless
    assert cli(["decode", str(nc), str(tmp_path / "back.y4m")]) == 0
    assert read_video(tmp_path / "back.y4m").frames.shape == reference.shape
    assert cli(["decode", str(nc), str(tmp_path / "frame_%03d.png")]) == 0
    from PIL import Image

    assert np.array_equal(np.asarray(Image.open(tmp_path / "frame_008.png")), reference[7])
    assert not (tmp_path / "frame_009.png").exists()


def test_bad_inputs_get_one_clear_error_and_no_output(coded: bytes, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    wav = Path(__file__).resolve().parent.parent / "assets" / "arctic_a0007.wav"
    with pytest.raises(InputError, match="no video stream"):
        api.encode_file(wav, tmp_path / "x.nc", model=MODEL)
    bad = tmp_path / "bad.nc"
    bad.write_bytes(coded[:-10])
    assert cli(["decode", str(bad), str(tmp_path / "out.mkv")]) == 1
    assert not (tmp_path / "out.mkv").exists()
    assert "error" in capsys.readouterr().err.lower()
    good = tmp_path / "good.nc"
    good.write_bytes(coded)
    with pytest.raises(UsageError, match="cannot write video"):
        api.decode_file(good, tmp_path / "out.wav")
    with pytest.raises(UsageError):
        api.encode(VideoData(np.zeros((2, 8, 8, 3), np.uint8), Fraction(25)), model=MODEL, quality=9)


def test_models_lists_the_video_codec(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["models", "--json"]) == 0
    models = {m["name"]: m for m in json.loads(capsys.readouterr().out)}
    assert models[MODEL]["qualities"] == sorted(QUALITIES)


def test_variable_frame_rate_input_keeps_every_frame(tmp_path: Path) -> None:
    """A VFR file: every decoded frame is coded, in order, at the stream's average rate."""
    import av

    frames, _ = sample_clip(frames=6, size=(32, 32))
    path = tmp_path / "vfr.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=30)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "bgr0"
        stream.codec_context.time_base = Fraction(1, 1000)
        for pts, rgb in zip((0, 33, 50, 120, 130, 200), frames, strict=True):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="bgr0")
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    video = read_video(path)
    assert video.num_frames == 6
    out = VideoCodec().decode(_codec_encode(video, steps_scale=0.2))
    assert out.frames.shape == video.frames.shape and out.fps == video.fps
    write_video(tmp_path / "back.mkv", out)


def test_a_sound_track_is_dropped_with_one_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import av

    frames, _ = sample_clip(frames=4, size=(32, 32))
    path = tmp_path / "with_sound.mkv"
    with av.open(str(path), "w") as container:
        video = container.add_stream("ffv1", rate=25)
        video.width, video.height, video.pix_fmt = 32, 32, "bgr0"
        audio = container.add_stream("pcm_s16le", rate=16000)
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="bgr0")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            container.mux(video.encode(frame))
        samples = (np.sin(np.arange(2560) / 5.0) * 8000).astype(np.int16).reshape(1, -1)
        sound = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        sound.sample_rate, sound.pts, sound.time_base = 16000, 0, Fraction(1, 16000)
        container.mux(audio.encode(sound))
        container.mux(video.encode(None))
        container.mux(audio.encode(None))
    assert cli(["encode", str(path), str(tmp_path / "out.nc"), "-q", "1"]) == 0
    err = capsys.readouterr().err
    assert err.count("warning") == 1 and "sound track" in err
    assert api.info((tmp_path / "out.nc").read_bytes())["frames"] == 4


def test_checkerboard_contexts_round_trip_and_read_only_decoded_anchors() -> None:
    rng = np.random.default_rng(3)
    shapes, strides, frames = [(9, 11), (5, 6), (3, 3)], (1, 2, 4), 7
    symbols = [rng.integers(-3, 4, size=(key_count(frames, s), *hw)) * (rng.random((key_count(frames, s), *hw)) < 0.4)
               for s, hw in zip(strides, shapes, strict=True)]
    table = rng.integers(0, 20, size=(3, prior.context_count(True))).astype(np.uint8)
    streams = prior.encode_levels(symbols, table, strides, False, spatial=True)
    assert len(streams) == 2 * len(shapes)  # the anchors, then the other half, per level
    back = prior.decode_levels(streams, table, frames, shapes, strides, False, spatial=True)
    assert all(np.array_equal(a, b) for a, b in zip(symbols, back, strict=True))
    # a non-anchor's class depends on its neighbours (all anchors), never on other non-anchors
    plane = symbols[0]
    mask = np.broadcast_to(prior.anchors(shapes[0]), plane.shape)
    anchors_only = np.where(mask, plane, 0)
    assert np.array_equal(prior.spatial_class(plane)[~mask], prior.spatial_class(anchors_only)[~mask])
    assert np.array_equal(prior.spatial_class(plane), prior.spatial_class_torch(torch.from_numpy(plane).float()).numpy())


def test_contexts_field_selects_the_coder_and_a_bad_one_is_refused() -> None:
    video = VideoData(sample_clip(frames=3, size=(48, 40))[0], Fraction(25))
    spatial = _codec_encode(video, 5, steps_scale=0.05)
    plain = _codec_encode(video, 5, steps_scale=0.05, spatial_contexts=False)
    assert spatial.metadata["contexts"] == "checkerboard" and "contexts" not in plain.metadata  # files before it
    for payload in (spatial, plain):
        assert VideoCodec().decode(payload).frames.shape == video.frames.shape
    bad = Payload(chunks=spatial.chunks, metadata={**spatial.metadata, "contexts": "raster"})
    with pytest.raises(FormatError, match="contexts"):
        VideoCodec().decode(bad)
    mislabelled = Payload(chunks=spatial.chunks, metadata={k: v for k, v in spatial.metadata.items() if k != "contexts"})
    with pytest.raises(FormatError):
        VideoCodec().decode(mislabelled)
