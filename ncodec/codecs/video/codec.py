"""The video codec: media in, one container chunk per group of frames out, and back.

Encoding fits latent grids and a synthesis network to each group of frames (:mod:`.fit`). Each
group warm-starts from the previous one (network, scales, last latents), and by default its first
plane of every level is coded as the difference from the previous group's last plane (metadata
``chained``): a still scene then pays for its first picture once per file, not once per group.
Decoding a chained group needs the previous group's latents, which cost only entropy decoding
(no synthesis), so seeking stays cheap; ``EncodeOptions(independent_groups=True)`` writes groups
that decode on their own. Decoding runs the exact synthesis (:mod:`.synthesis`) frame by frame:
memory is one group's latents plus a few frames.

A group's chunk is a stream table (:mod:`ncodec.codecs.framing`) of ``2 + levels`` streams:

1. header: u16 frame count, u8 layer count, then (weight, bias) step exponents per layer, then
   the scale-table index of every (level, context), ``levels * BUCKETS`` bytes;
2. the network's integer parameters, layer by layer (weight then bias, C order), in one
   :func:`ncodec.entropy.encode_weights` stream;
3. one stream per level, finest first, of its symbols (see :mod:`.prior`); a level of temporal
   stride ``s`` (metadata ``strides``, finest level first; absent in files written before strides
   existed, meaning 1 everywhere) holds ``ceil((frames - 1) / s) + 1`` planes; in a chained
   file (metadata ``chained: true``; absent means false) every group after the first codes its
   first plane as the difference from the previous group's last plane of the same level.

Policies: frames of any size (odd ones too: latent grids use ceil sizes and the output is
cropped); the frame rate is stored as an exact fraction; the audio track of an input file is not
coded (the CLI says so in one line).
"""

from __future__ import annotations

import math
import struct
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, ClassVar

import numpy as np
import torch
from tqdm import tqdm

from ncodec.codecs.base import Payload
from ncodec.codecs.framing import pack_streams, unpack_streams
from ncodec.entropy import decode_weights
from ncodec.errors import FormatError, InputError, UsageError
from ncodec.heap import retained_heap
from ncodec.media.video import MAX_FRAME_PIXELS, MAX_FRAMES, VideoData

from . import motion, prior
from .fit import FitSettings, FitState, FittedGroup, GroupFitter
from .grids import check_strides, default_levels, default_strides, in_time, level_shapes
from .synthesis import (
    EXPONENTS,
    MAX_LATENT,
    MAX_WEIGHT_Q,
    Synthesis,
    SynthesisShape,
    load_quantized,
    parameter_shapes,
)

MAX_GROUPS = 1000
DEFAULT_GROUP = 32
DECODE_BATCH = 2  # frames synthesised at once when decoding


def group_tag(index: int) -> str:
    return f"G{index:03d}"


@dataclass(frozen=True)
class QualityLevel:
    """One rung of the quality ladder: the rate-distortion trade-off and the fitting effort."""

    lam: float
    steps: int


# 600 Adam steps per group: on foreman (64 frames, quality 3, 2 CPU cores) 300 steps gave
# 0.0456 bpp / 26.33 dB in 259 s and 600 steps 0.0294 bpp / 26.39 dB in 449 s, inside the
# 10-minute budget for a 64-frame 352x288 clip; 1,200 steps 0.0280 / 26.60 in 889 s, 2,400 no
# better. With the expected-cost rate, 600 steps gave 0.0384 / 27.32 in 627 s on a slower
# machine (one where the earlier fit's steps also took about 1.5x as long), 1,200 steps 0.0342 /
# 27.20, 2,400 steps 0.0327 / 26.81 (the same loss as 600), and 0.0388 / 27.34 in 516 s in the
# dev-set evaluation (docs/VIDEO.md).
FIT_STEPS = 600
QUALITIES: dict[int, QualityLevel] = {
    1: QualityLevel(lam=0.16, steps=FIT_STEPS),
    2: QualityLevel(lam=0.08, steps=FIT_STEPS),
    3: QualityLevel(lam=0.04, steps=FIT_STEPS),
    4: QualityLevel(lam=0.02, steps=FIT_STEPS),
    5: QualityLevel(lam=0.01, steps=FIT_STEPS),
    6: QualityLevel(lam=0.005, steps=FIT_STEPS),
}
DEFAULT_QUALITY = 3

ProgressFactory = Callable[[int, str], Any]


@dataclass(frozen=True)
class EncodeOptions:
    """What a user may set besides the quality."""

    time_limit: float | None = None  # seconds for the whole encode; fitting stops early to meet it
    device: str | None = None  # "cpu", "cuda", ...; default: CUDA when present
    group_frames: int = DEFAULT_GROUP
    steps_scale: float = 1.0  # multiplies the quality's fitting steps
    progress: bool | None = None  # None: a bar when stderr is a terminal
    seed: int = 0
    strides: tuple[int, ...] | None = None  # temporal stride per level, finest first; None: the default
    # Groups that decode on their own (each codes its first planes as values): for random access
    # or parallel decoding, at the price of one first picture per group.
    independent_groups: bool = False
    global_motion: bool = True  # follow camera pans with one translation per frame (docs/VIDEO.md)
    spatial_contexts: bool = True  # checkerboard contexts for the latents (prior.spatial_class)


def _device(name: str | None) -> torch.device:
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise UsageError(f"unknown device '{name}' ({exc})") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda asked for, but no CUDA GPU is available")
    return device


class VideoCodec:
    """Codes RGB video by fitting latent grids per group of frames."""

    modality: ClassVar[str] = "video"
    known_chunks: ClassVar[set[str]] = {group_tag(i) for i in range(MAX_GROUPS)}

    # ---------------------------------------------------------------------------------------------
    # encoding

    def encode(self, media: Any, quality: int, options: EncodeOptions | None = None) -> Payload:
        """Fit and code ``media`` (:class:`VideoData`) at ``quality`` (1..6)."""
        opts = options or EncodeOptions()
        video = _check_video(media)
        if quality not in QUALITIES:
            raise UsageError(f"video quality {quality} is not offered (choose 1..{len(QUALITIES)})")
        if not 1 <= opts.group_frames <= 256:
            raise UsageError(f"group size must be 1..256 frames, got {opts.group_frames}")
        if opts.time_limit is not None and not opts.time_limit > 0:
            raise UsageError(f"time limit must be positive, got {opts.time_limit}")
        level = QUALITIES[quality]
        device = _device(opts.device)
        frames = video.frames
        t, h, w = (int(s) for s in frames.shape[:3])
        shape = SynthesisShape(levels=default_levels(h, w))
        strides = tuple(opts.strides) if opts.strides is not None else default_strides(shape.levels)
        try:
            check_strides(strides, shape.levels)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        starts = list(range(0, t, opts.group_frames))
        if len(starts) > MAX_GROUPS:
            raise InputError(f"{t} frames make {len(starts)} groups, more than {MAX_GROUPS}")
        steps = max(1, round(level.steps * opts.steps_scale))
        began = time.monotonic()
        chunks: dict[str, bytes] = {}
        estimated = 0.0
        state: FitState | None = None
        steps_done: list[int] = []
        show = sys.stderr.isatty() if opts.progress is None else opts.progress
        position = np.zeros(2, dtype=np.int64)  # the last frame's, clip coordinates, quarter pixels
        origin: tuple[int, int] | None = None  # the previous group's world origin
        for g, start in enumerate(starts):
            group = frames[start:start + opts.group_frames]
            world, steps_moved = _world_of(group, frames[start - 1] if start else None, position, h, w,
                                           opts.global_motion)
            position = position + steps_moved.sum(axis=0)
            if state is not None and origin is not None:  # the previous group's last planes, on this group's grids
                shift = (world.origin[0] - origin[0], world.origin[1] - origin[1])
                keys = motion.align([k.numpy() for k in state.last_keys], shift,
                                    level_shapes(world.height, world.width, shape.levels))
                state = FitState(state.net_state, state.log_scales, [torch.from_numpy(k) for k in keys])
            origin = world.origin
            deadline = None
            if opts.time_limit is not None:
                share = (start + len(group)) / t
                deadline = began + opts.time_limit * share - _finish_reserve(group)
            settings = FitSettings(lam=level.lam, steps=steps, seed=opts.seed + g, deadline=deadline)
            fitter = GroupFitter(group, shape, settings, device, start=state, strides=strides,
                                 chained=not opts.independent_groups, world=world,
                                 spatial=opts.spatial_contexts)
            bar = tqdm(total=steps, desc=f"group {g + 1}/{len(starts)}", unit="step", leave=False,
                       disable=not show, file=sys.stderr)

            def report(step: int, total: int, psnr: float, bpp: float, bar: Any = bar) -> None:
                bar.total = total  # a time limit may shorten the schedule
                bar.update(step - bar.n)
                bar.set_postfix_str(f"PSNR {psnr:.2f} dB, ~{bpp:.4f} bpp", refresh=False)

            with retained_heap():
                done = fitter.fit(report)
            bar.close()
            fitted, state = fitter.finish(done)
            chunks[group_tag(g)] = _pack_group(fitted, len(group), strides, fitter.first_is_delta, opts.spatial_contexts,
                                               motion.encode_steps(steps_moved) if opts.global_motion else None)
            estimated += fitted.estimated_bits
            steps_done.append(done)
        metadata: dict[str, Any] = {
            "width": w, "height": h, "frames": t, "fps": f"{video.fps.numerator}/{video.fps.denominator}",
            "group_frames": opts.group_frames, "levels": shape.levels, "hidden": shape.hidden,
            "refine": shape.refine, "strides": list(strides), "chained": not opts.independent_groups,
            "motion": opts.global_motion,
            **({"contexts": "checkerboard"} if opts.spatial_contexts else {}),
            "quality": quality, "steps": steps, "steps_done": steps_done,
            "source_format": video.source_format,
        }
        return Payload(chunks=chunks, metadata=metadata, estimated_bits=estimated)

    # ---------------------------------------------------------------------------------------------
    # decoding

    def decode(self, payload: Payload) -> VideoData:
        meta = self.check_metadata(payload.metadata)
        frames = np.empty((meta["frames"], meta["height"], meta["width"], 3), dtype=np.uint8)
        pos = 0
        for block in self.decode_frames(payload.chunks, meta):
            frames[pos:pos + len(block)] = block
            pos += len(block)
        return VideoData(frames, meta["fps_fraction"], meta.get("source_format"))

    def check_metadata(self, meta: dict[str, Any]) -> dict[str, Any]:
        """The metadata a decoder relies on, validated; FormatError naming the first problem."""
        out = dict(meta)
        for key, lo, hi in (("width", 1, 1 << 16), ("height", 1, 1 << 16), ("frames", 1, MAX_FRAMES),
                            ("group_frames", 1, 256), ("levels", 1, 8), ("hidden", 4, 48), ("refine", 0, 16)):
            value = meta.get(key)
            if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
                raise FormatError(f"video metadata '{key}' missing or out of range")
        if out["width"] * out["height"] > MAX_FRAME_PIXELS:
            raise FormatError("video metadata declares frames larger than the limit")
        if math.ceil(out["frames"] / out["group_frames"]) > MAX_GROUPS:
            raise FormatError("video metadata declares more groups than the limit")
        fps = meta.get("fps")
        try:
            num, den = (int(x) for x in str(fps).split("/"))
            rate = Fraction(num, den)
        except (ValueError, ZeroDivisionError):
            raise FormatError("video metadata 'fps' missing or malformed") from None
        if not 0 < rate <= 1000:
            raise FormatError("video metadata 'fps' out of range")
        out["fps_fraction"] = rate
        SynthesisShape(out["levels"], out["hidden"], out["refine"]).check()
        strides = meta.get("strides", [1] * out["levels"])  # files written before strides existed
        if not isinstance(strides, list) or not all(isinstance(s, int) and not isinstance(s, bool) for s in strides):
            raise FormatError("video metadata 'strides' malformed")
        try:
            check_strides(tuple(strides), out["levels"])
        except ValueError as exc:
            raise FormatError(f"video metadata 'strides': {exc}") from None
        out["strides"] = tuple(strides)
        chained = meta.get("chained", False)  # files written before chaining: independent groups
        if not isinstance(chained, bool):
            raise FormatError("video metadata 'chained' must be true or false")
        out["chained"] = chained
        contexts = meta.get("contexts", "coarser")  # files written before spatial contexts: coarser only
        if contexts not in ("coarser", "checkerboard"):
            raise FormatError("video metadata 'contexts' must be 'coarser' or 'checkerboard'")
        out["spatial"] = contexts == "checkerboard"
        moving = meta.get("motion", False)  # files written before global motion: none
        if not isinstance(moving, bool):
            raise FormatError("video metadata 'motion' must be true or false")
        out["motion"] = moving
        return out

    def decode_frames(self, chunks: dict[str, bytes], meta: dict[str, Any]) -> Iterator[np.ndarray]:
        """Frames ``(n, H, W, 3)`` uint8, a few at a time, group after group."""
        h, w, t, gf = meta["height"], meta["width"], meta["frames"], meta["group_frames"]
        shape = SynthesisShape(meta["levels"], meta["hidden"], meta["refine"])
        groups = math.ceil(t / gf)
        extra = set(chunks) - {group_tag(g) for g in range(groups)}
        if extra:
            raise FormatError(f"video file has chunks beyond its {groups} groups: {', '.join(sorted(extra))}")
        net = Synthesis(shape).double()
        reference: list[np.ndarray] | None = None
        position = np.zeros(2, dtype=np.int64)
        origin = (0, 0)
        with torch.inference_mode():
            for g in range(groups):
                data = chunks.get(group_tag(g))
                if data is None:
                    raise FormatError(f"video file lacks chunk {group_tag(g)}")
                count = min(gf, t - g * gf)
                streams = unpack_streams(data, 2 + shape.levels * (2 if meta["spatial"] else 1) + int(meta["motion"]),
                                         "video group")
                world = motion.World.still(count, h, w)
                if meta["motion"]:
                    steps = motion.decode_steps(streams.pop(2), count)
                    world = motion.World.of(position + np.cumsum(steps, axis=0), h, w)
                    if not world.fits(h, w):
                        raise FormatError("video group's motion spans more than twice the frame")
                    position = position + steps.sum(axis=0)
                shapes = level_shapes(world.height, world.width, shape.levels)
                if reference is not None:
                    reference = motion.align(reference, (world.origin[0] - origin[0], world.origin[1] - origin[1]),
                                             shapes)
                origin = world.origin
                planes, last = _unpack_group(streams, count, shapes, shape, net, meta["strides"], reference,
                                             meta["spatial"])
                if meta["chained"]:
                    reference = last
                for i in range(0, count, DECODE_BATCH):
                    batch = list(range(i, min(count, i + DECODE_BATCH)))
                    x = motion.pixel_input([p[batch[0]:batch[-1] + 1] for p in planes], world, batch, h, w)
                    yield net.decode_pixels(x).numpy()


def _finish_reserve(group: np.ndarray) -> float:
    """Seconds kept back from fitting for quantization and coding (measured: a few seconds per
    CIF group on 2 cores), scaled by the group's pixels."""
    return 2.0 + 6.0 * group.shape[1] * group.shape[2] / (352 * 288)


_HEADER = struct.Struct("<HB")


def _world_of(group: np.ndarray, before: np.ndarray | None, position: np.ndarray, height: int, width: int,
              enabled: bool) -> tuple[motion.World, np.ndarray]:
    """The group's world and its per-frame motion steps (zeros when motion is off or would
    make the world too large); ``position``: the previous frame's, clip coordinates."""
    steps = motion.estimate(group, before) if enabled else np.zeros((len(group), 2), dtype=np.int64)
    world = motion.World.of(position + np.cumsum(steps, axis=0), height, width)
    if not world.fits(height, width):
        steps = np.zeros_like(steps)
        world = motion.World.of(np.repeat(position[None], len(group), axis=0), height, width)
    return world, steps


def _pack_group(fitted: FittedGroup, count: int, strides: tuple[int, ...], first_is_delta: bool,
                spatial: bool, motion_stream: bytes | None) -> bytes:
    from ncodec.entropy import encode_weights

    exps = bytes(e for pair in fitted.exponents for e in pair)
    header = _HEADER.pack(count, len(fitted.exponents)) + exps + _table_bytes(fitted.table, spatial)
    weights = encode_weights(np.concatenate([q.reshape(-1) for q in fitted.weights]).astype(np.int32))
    levels = prior.encode_levels(fitted.symbols, fitted.table, strides, first_is_delta, spatial)
    return pack_streams([header, weights, *([motion_stream] if motion_stream is not None else []), *levels])


def _unpack_group(streams: list[bytes], count: int, shapes: list[tuple[int, int]], shape: SynthesisShape,
                  net: Synthesis, strides: tuple[int, ...],
                  reference: list[np.ndarray] | None,
                  spatial: bool = False) -> tuple[list[torch.Tensor], list[np.ndarray]]:
    """Decode one group: load its parameters into ``net``; return its latent planes at every
    frame (float64; exact: integers, or dyadic interpolations of integers) and each level's last
    integer plane (the next chained group's reference). With a ``reference`` (the previous
    group's last planes), the first planes are differences from it."""
    levels = len(shapes)
    header = streams[0]
    layers = len(net.layers())
    if len(header) < _HEADER.size + 2 * layers or (
            not spatial and len(header) != _HEADER.size + 2 * layers + levels * prior.BUCKETS):
        raise FormatError("video group header has the wrong size")
    frames, n_layers = _HEADER.unpack_from(header)
    if frames != count or n_layers != layers:
        raise FormatError("video group header disagrees with the file's metadata")
    raw = header[_HEADER.size:_HEADER.size + 2 * layers]
    exponents = [(raw[2 * i], raw[2 * i + 1]) for i in range(layers)]
    if any(e not in EXPONENTS for pair in exponents for e in pair):
        raise FormatError("video group has a weight step outside the allowed range")
    table = _table_of(header[_HEADER.size + 2 * layers:], levels, spatial)
    if int(table.max()) >= 64:
        raise FormatError("video group names a scale outside the coder's table")
    sizes = [math.prod(s) for s in parameter_shapes(shape)]
    flat = decode_weights(streams[1], sum(sizes))
    if np.abs(flat.astype(np.int64)).max(initial=0) > MAX_WEIGHT_Q:
        raise FormatError("video group has a network parameter outside the allowed range")
    q, pos = [], 0
    for dims, n in zip(parameter_shapes(shape), sizes, strict=True):
        q.append(torch.from_numpy(flat[pos:pos + n].reshape(dims).copy()))
        pos += n
    load_quantized(net, q, exponents)
    try:
        symbols = prior.decode_levels(streams[2:], table, count, shapes, strides, reference is not None, spatial)
    except ValueError as exc:
        raise FormatError(f"video group: {exc}") from None
    planes, last = [], []
    refs: list[np.ndarray | None] = list(reference) if reference is not None else [None] * levels
    for s, stride, ref in zip(symbols, strides, refs, strict=True):
        y = prior.latents_of(s, ref)
        if np.abs(y).max(initial=0) > MAX_LATENT:
            raise FormatError("video group has a latent outside the allowed range")
        planes.append(in_time(torch.from_numpy(y).double(), stride, count))
        last.append(y[-1])
    return planes, last


def _table_bytes(table: np.ndarray, spatial: bool) -> bytes:
    """The scale-table index of every (level, context): raw bytes for the six coarser-level
    contexts; entropy-coded with the checkerboard's 30, most of which a level leaves empty
    (raw, they would cost 3-5 % of a low-rate file)."""
    if not spatial:
        return table.astype(np.uint8).tobytes()
    from ncodec.entropy import encode_weights

    return encode_weights(table.reshape(-1).astype(np.int32))


def _table_of(data: bytes, levels: int, spatial: bool) -> np.ndarray:
    """Inverse of :func:`_table_bytes`; FormatError on a malformed table."""
    count = prior.context_count(spatial)
    if spatial:
        try:
            flat = decode_weights(data, levels * count)
        except ValueError:
            raise FormatError("video group's scale table is malformed") from None
    else:
        flat = np.frombuffer(data, dtype=np.uint8)
    if flat.size != levels * count or flat.min(initial=0) < 0:
        raise FormatError("video group's scale table is malformed")
    return flat.reshape(levels, count).astype(np.int64)


def _check_video(media: Any) -> VideoData:
    if not isinstance(media, VideoData):
        raise InputError(f"the video codec takes ncodec.media.VideoData or a path, not {type(media).__name__}")
    frames = np.asarray(media.frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or 0 in frames.shape:
        raise InputError(f"video frames must be non-empty uint8 (T, H, W, 3), got {frames.shape} {frames.dtype}")
    if frames.shape[0] > MAX_FRAMES:
        raise InputError(f"video has {frames.shape[0]} frames, more than the limit of {MAX_FRAMES}")
    return media
