"""Encoding is fitting: latent grids and a synthesis network fitted to one group of frames.

The loss is ``MSE(RGB) + lambda * bits per pixel``. Latents are parametrised by their temporal
deltas (``y_t = sum_{s<=t} d_s``), which are exactly the coded symbols: a pixel that stays still
is learned once, by every frame that shows it, and costs nothing after the first frame.

Schedule (C3 / Cool-chic practice): Adam with cosine decay; for the first ``noise_fraction`` of the
steps the synthesis sees the latents plus uniform noise (a smooth stand-in for rounding), then the
rest of the steps round them with straight-through gradients, so the network adapts to the
integers it will actually receive. The rate is priced on the deltas themselves throughout, the
coder's integer costs interpolated linearly between integers (:func:`prior.expected_bits`): it
charges a small drift what its rounded flips will cost, which the usual noisy-symbol relaxation
did not. The rate model's scales learn at their own, faster rate. Each step fits a random subset
of the group's frames (at most ``pixels_per_step`` pixels), which bounds memory and time per
step whatever the frame size; the rate term always covers the whole group.

After fitting, the network's parameters are quantized with a power-of-two step per layer, chosen
by search on the real objective, and the latents' scale tables by exhaustive search.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from ncodec.entropy import encode_weights

from . import prior
from .grids import (
    check_strides,
    in_time,
    key_count,
    level_shapes,
)
from .motion import World, pixel_input
from .synthesis import EXPONENTS, MAX_LATENT, Synthesis, SynthesisShape, load_quantized, quantize_parameters

Progress = Callable[[int, int, float, float], None]  # step, steps, PSNR (dB), estimated bpp
PLAN_AFTER_STEPS = 4  # steps timed (after the first) before a deadline may shorten the schedule


@dataclass(frozen=True)
class FitSettings:
    """How hard and how to fit one group."""

    lam: float
    steps: int
    noise_fraction: float = 0.8
    lr_latent: float = 0.2  # measured on foreman, 16 frames, 300 steps: 0.02 -> 0.08 -> 0.2 each a clear RD gain
    # The synthesis network's rate, measured on one group of 32 frames (real files, loss MSE +
    # lambda * bpp): foreman at quality 3, 0.005 / 0.01 / 0.02 / 0.04 / 0.08 gave 0.00463 / 0.00420 /
    # 0.00412 / 0.00395 / 0.00411; on the six dev clips 0.01 -> 0.04 moved the BD-rate against x264
    # from +189 % to +177 % (docs/VIDEO.md).
    lr_net: float = 0.04
    # The rate model's scales need their own, faster rate: at the network's 0.01 they were still
    # far from the symbols' spread when rounding began (foreman, 16 frames, quality 3's lambda:
    # loss MSE + lambda * real bpp 0.00553 at 0.01, 0.00503 at 0.1, 0.00486 at 0.3).
    lr_scale: float = 0.3
    pixels_per_step: int = 1 << 20
    seed: int = 0
    deadline: float | None = None  # time.monotonic() value after which fitting stops early


@dataclass
class FitState:
    """What the next group starts from: the network, the scales, and each level's last plane
    (integer-valued: the plane a chained group's first one is coded against)."""

    net_state: dict[str, Tensor]
    log_scales: Tensor
    last_keys: list[Tensor]


@dataclass
class FittedGroup:
    """A fitted group in coded form: integer symbols, integer weights and their steps, tables."""

    symbols: list[np.ndarray]
    weights: list[np.ndarray]
    exponents: list[tuple[int, int]]
    table: np.ndarray
    estimated_bits: float
    steps_done: int
    stopped_early: bool = False
    log: list[dict[str, float]] = field(default_factory=list)


def _psnr(mse: float) -> float:
    return 10.0 * math.log10(1.0 / max(mse, 1e-12))


class GroupFitter:
    """Fits one group of frames ``(T, H, W, 3)`` uint8."""

    def __init__(self, frames: np.ndarray, shape: SynthesisShape, settings: FitSettings,
                 device: torch.device, start: FitState | None = None,
                 strides: tuple[int, ...] | None = None, chained: bool = False,
                 world: World | None = None, spatial: bool = False) -> None:
        """``start``: warm-start from the previous group (its last planes already on this group's
        grids); with ``chained`` too, the first plane of every level is coded as its difference
        from the previous group's last plane. ``world``: where each frame sits on the latent
        grids (global motion); None: every frame on the frame's own grid."""
        self.t, self.h, self.w = (int(s) for s in frames.shape[:3])
        self.shape = shape
        self.strides = tuple(strides) if strides is not None else (1,) * shape.levels
        check_strides(self.strides, shape.levels)
        self.keys = [key_count(self.t, s) for s in self.strides]
        self.settings = settings
        self.device = device
        self.frames = torch.from_numpy(np.ascontiguousarray(frames)).to(device)  # (T, H, W, 3) uint8
        self.world = world if world is not None else World.still(self.t, self.h, self.w)
        self.shapes = level_shapes(self.world.height, self.world.width, shape.levels)
        gen = torch.Generator().manual_seed(settings.seed)
        torch.manual_seed(settings.seed)
        self.net = Synthesis(shape).to(device)
        self.spatial = spatial  # checkerboard contexts (prior.spatial_class)
        self.log_scales = torch.zeros(shape.levels, prior.context_count(spatial), device=device)
        self.deltas = [torch.zeros(n, h, w, device=device) for n, (h, w) in zip(self.keys, self.shapes, strict=True)]
        self.reference: list[Tensor] | None = None
        if start is not None:
            self.net.load_state_dict(start.net_state)
            self.log_scales = start.log_scales.clone().to(device)
            for d, last in zip(self.deltas, start.last_keys, strict=True):
                d[0] = last.to(device)
            if chained:
                self.reference = [last.to(device) for last in start.last_keys]
        self.first_is_delta = self.reference is not None
        self.log_scales.requires_grad_(True)
        for d in self.deltas:
            d.requires_grad_(True)
        self.gen = gen
        self.opt = torch.optim.Adam([
            {"params": self.deltas, "lr": settings.lr_latent},
            {"params": list(self.net.parameters()), "lr": settings.lr_net},
            {"params": [self.log_scales], "lr": settings.lr_scale},
        ])
        self.base_lrs = [settings.lr_latent, settings.lr_net, settings.lr_scale]
        self.pixels = self.t * self.h * self.w
        self.frames_per_step = max(1, min(self.t, settings.pixels_per_step // max(1, self.h * self.w)))
        self.rounded_from: int | None = None  # the step at which the rounding phase began

    # ---------------------------------------------------------------------------------------------

    def _latents(self, hard: bool) -> tuple[list[Tensor], list[Tensor]]:
        """(latent planes per level, coded symbols per level) under noise or rounding."""
        planes: list[Tensor] = []
        symbols: list[Tensor] = []
        for d in self.deltas:
            if hard:
                # The synthesis sees the rounded latents (straight-through).
                y = torch.cumsum(d + (torch.round(d) - d).detach(), dim=0)
            else:
                # The synthesis sees noisy latents: uniform noise, the smooth stand-in for rounding.
                y = torch.cumsum(d, dim=0)
                y = y + (torch.rand(y.shape, generator=self.gen).to(self.device) - 0.5)
            # The rate sees the deltas themselves, priced by interpolating the integer costs
            # (prior.expected_bits), in both phases.
            s = d if self.reference is None else torch.cat([d[:1] - self.reference[len(symbols)], d[1:]])
            planes.append(y)
            symbols.append(s)
        return planes, symbols

    def _start_rounding(self) -> None:
        """Re-express the deltas as differences of the rounded latents before rounding starts.

        Rounding each delta on its own would let the rounding errors add up along the group;
        rounding the latents and re-deriving the deltas keeps every frame within half a step.
        """
        with torch.no_grad():
            for d in self.deltas:
                y = torch.round(torch.cumsum(d, dim=0))
                d.copy_(torch.cat([y[:1], y[1:] - y[:-1]], dim=0))

    def _rate_bits(self, symbols: list[Tensor]) -> Tensor:
        total = torch.zeros((), device=self.device)
        for k, s in enumerate(symbols):
            coarser = prior.coarser_of(symbols, k, self.keys[k], self.strides)
            ctx = prior.torch_buckets(coarser, self.keys[k], self.shapes[k], self.device, self.first_is_delta)
            if self.spatial:
                ctx = ctx * prior.SPATIAL_CLASSES + prior.spatial_class_torch(s)
            total = total + prior.expected_bits(s, ctx, torch.exp(self.log_scales[k]))
        return total

    def _input(self, planes: list[Tensor], idx: Tensor) -> Tensor:
        """Pixel-major synthesis input ``(N, H, W, levels)`` of the frames ``idx``."""
        at = [in_time(p, st, self.t, at=idx) for p, st in zip(planes, self.strides, strict=True)]
        return pixel_input(at, self.world, idx.tolist(), self.h, self.w)

    def _sample_frames(self) -> Tensor:
        if self.frames_per_step >= self.t:
            return torch.arange(self.t)
        return torch.sort(torch.randperm(self.t, generator=self.gen)[: self.frames_per_step]).values

    def fit(self, progress: Progress | None = None) -> int:
        """Run the schedule; returns the number of steps done.

        With a deadline, the first steps are timed and, when the whole schedule would not fit,
        the schedule is shortened to what fits (warm-up, noise phase, rounding phase and cosine
        decay all scaled to the new length): a fit stopped by the clock in the middle of its noise
        phase would never adapt the network to rounded latents. The plan is revised at every
        power-of-two step until rounding begins, and a last check stops the loop outright should
        steps slow down later.
        """
        s = self.settings
        total = s.steps
        hard_from = round(total * s.noise_fraction)
        rounding = False
        step_time, timed_from = 0.0, 0.0
        step = 0
        while step < total:
            started = time.monotonic()
            if s.deadline is not None:
                if step == 1:
                    timed_from = started  # the first step pays for first-time allocations: not timed
                elif step >= PLAN_AFTER_STEPS and step & (step - 1) == 0 and not rounding:
                    # planned at step 4, then again at 8, 16, 32, ... while the noise phase lasts:
                    # steps that slow down later (a busy machine) still leave time for rounding
                    per_step = (started - timed_from) / (step - 1)
                    affordable = step + int(0.95 * (s.deadline - started) / max(per_step, 1e-9))
                    total = max(step + 1, min(s.steps, affordable))
                    hard_from = max(step, round(total * s.noise_fraction))
                if step > 0 and started + 2 * step_time > s.deadline:
                    return step
            if not rounding and step >= hard_from:
                self._start_rounding()
                rounding = True
                self.rounded_from = step
            cosine = 0.5 * (1.0 + math.cos(math.pi * step / max(1, total)))
            warm = min(1.0, (step + 1) / max(1.0, 0.02 * total))
            for group, base in zip(self.opt.param_groups, self.base_lrs, strict=True):
                group["lr"] = base * warm * (0.02 + 0.98 * cosine)
            planes, symbols = self._latents(hard=rounding)
            idx = self._sample_frames().to(self.device)
            target = self.frames.index_select(0, idx).float() / 255.0
            mse = self.net.squared_error(self._input(planes, idx), target) / target.numel()
            bits = self._rate_bits(symbols)
            loss = mse + s.lam * bits / self.pixels
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            step_time = time.monotonic() - started
            step += 1
            if progress is not None:
                progress(step, total, _psnr(float(mse.detach())), float(bits.detach()) / self.pixels)
        return total

    # ---------------------------------------------------------------------------------------------

    def coded_latents(self) -> list[np.ndarray]:
        """The integer key planes the fit ended on (deltas rounded), kept within range."""
        return [torch.cumsum(torch.round(d.detach()), dim=0).clamp(-MAX_LATENT, MAX_LATENT).cpu().numpy()
                .astype(np.int64) for d in self.deltas]

    def coded_symbols(self) -> list[np.ndarray]:
        """What is coded: :meth:`coded_latents` as temporal differences (from the reference plane
        for a chained group's first)."""
        latents = self.coded_latents()
        if self.reference is None:
            return [prior.symbols_of(y) for y in latents]
        return [prior.symbols_of(y, r.cpu().numpy()) for y, r in zip(latents, self.reference, strict=True)]

    def finish(self, steps_done: int) -> tuple[FittedGroup, FitState]:
        """Quantize everything and pick the network's steps on the real objective."""
        latents = self.coded_latents()
        symbols = self.coded_symbols()
        table, latent_bits = prior.choose_tables(symbols, self.strides, self.first_is_delta, self.spatial)
        planes = [in_time(torch.from_numpy(y).double(), st, self.t) for y, st in zip(latents, self.strides, strict=True)]
        probe = np.unique(np.linspace(0, self.t - 1, min(self.t, 2)).round().astype(int))
        x = pixel_input([p[probe] for p in planes], self.world, probe.tolist(), self.h, self.w)
        target = self.frames[torch.from_numpy(probe).to(self.device)].cpu().double() / 255.0
        exponents, weights, weight_bits = self._choose_exponents(x, target)
        fitted = FittedGroup(symbols=symbols, weights=weights, exponents=exponents, table=table,
                             estimated_bits=latent_bits + weight_bits, steps_done=steps_done,
                             stopped_early=steps_done < self.settings.steps)
        last = [torch.from_numpy(y[-1]).float() for y in latents]
        state = FitState({k: v.detach().clone() for k, v in self.net.state_dict().items()},
                         self.log_scales.detach().clone(), last)
        return fitted, state

    def _choose_exponents(self, x: Tensor, target: Tensor) -> tuple[list[tuple[int, int]], list[np.ndarray], float]:
        """Greedy per-layer search of weight and bias steps minimising MSE + lambda * bpp."""
        exact = Synthesis(self.shape).double()
        layers = len(self.net.layers())
        exponents = [(8, 10)] * layers
        lam, pixels = self.settings.lam, self.pixels

        def cost(exps: list[tuple[int, int]]) -> tuple[float, list[np.ndarray], float]:
            q = quantize_parameters(self.net, exps)
            load_quantized(exact, q, exps)
            with torch.no_grad():
                out = exact.decode_pixels(x).double() / 255.0  # the decoder's own path
            mse = float(torch.mean((out - target) ** 2))
            arrays = [t.numpy() for t in q]
            bits = 8.0 * len(encode_weights(np.concatenate([a.reshape(-1) for a in arrays])))
            return mse + lam * bits / pixels, arrays, bits

        best_cost, best_q, best_bits = cost(exponents)
        for i in range(layers):
            for which in (0, 1):
                worse = 0
                for e in sorted(EXPONENTS, reverse=True):  # fine to coarse; stop once it only gets worse
                    trial = list(exponents)
                    trial[i] = (e, trial[i][1]) if which == 0 else (trial[i][0], e)
                    if trial[i] == exponents[i]:
                        continue
                    c, q, b = cost(trial)
                    if c < best_cost:
                        best_cost, best_q, best_bits, exponents, worse = c, q, b, trial, 0
                    else:
                        worse += 1
                        if worse >= 2 and e < exponents[i][which]:
                            break
        return exponents, best_q, best_bits
