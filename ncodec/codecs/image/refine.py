"""Encode effort: gradient refinement of one image's latent before it is coded.

The analysis transform predicts a latent in one pass, and an under-trained one leaves a gap
between its prediction and the latent that minimises this image's own rate-distortion cost
(the amortisation gap of Yang et al. 2020, "Improving Inference for Neural Image Compression").
Higher efforts close part of it with Adam steps on ``y``, the decoder and the hyper-latent held
fixed, so every file still decodes with the same decoder and weights.

What was measured to work on this project's weights (``docs/IMAGE.md`` has the numbers):
straight-through rounding of ``y - mu`` in both the rate and the synthesis, the hyper-latent
kept at the encoder's choice (moving it with straight-through rounding changes the predicted
scales in jumps the gradient cannot see, and made the cost worse), Adam at a small rate
(0.003 latent units per step) decayed linearly. The rounded cost is checked every few steps
and the best latent so far is kept, so an effort never codes a worse latent than the one pass
by the objective it optimises. Sums that decide which latent is kept are taken in float64 by
numpy, whose pairwise order does not depend on the thread count.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from .model import MeanScaleHyperprior

#: Adam steps per effort level; the last level is what ``--effort max`` names.
EFFORT_STEPS: dict[int, int] = {0: 0, 1: 8, 2: 16, 3: 32}
MAX_EFFORT = max(EFFORT_STEPS)
LEARNING_RATE = 0.003
CHECK_EVERY = 8  # steps between checks of the rounded cost


def rounded_cost(model: MeanScaleHyperprior, y: Tensor, means: Tensor, scales: Tensor, inv_gain: Tensor,
                 x: Tensor, lam: float, npx: int) -> float:
    """lambda * 255^2 * MSE + bits per pixel of ``y`` as it would be coded (the y part only).

    The hyper-latent's bits are the same for every candidate (it is fixed), so they are left out.
    """
    with torch.no_grad():
        residual = torch.round(y - means)
        bits = -torch.log2(model.gaussian_conditional.likelihood(residual, scales))
        x_hat = model.g_s((residual + means) * inv_gain)[:, :, :x.shape[2], :x.shape[3]].clamp(0, 1)
        err = (x_hat - x).pow(2)
    total_bits = float(np.sum(bits.numpy().astype(np.float64)))
    mse = float(np.mean(err.numpy().astype(np.float64)))
    return lam * 255.0**2 * mse + total_bits / npx


def refine_latent(model: MeanScaleHyperprior, y: Tensor, means: Tensor, scales: Tensor, inv_gain: Tensor,
                  x: Tensor, lam: float, steps: int, progress: bool | None = None) -> Tensor:
    """The latent (scaled by the quality's gain) after ``steps`` of refinement; ``y`` if none helped.

    ``x`` is the tile's unpadded pixels in [0, 1], (1, 3, h, w); ``means`` and ``scales`` are the
    hyper-synthesis' predictions from the coded hyper-latent (float32 copies of what the coder uses).
    """
    if steps <= 0:
        return y
    with torch.inference_mode(False), torch.enable_grad():
        # The codec encodes under inference mode, whose tensors autograd may not save: work on
        # ordinary copies, and differentiate with respect to the latent only.
        y, means, scales, inv_gain, x = (t.clone() for t in (y, means, scales, inv_gain, x))
        return _refine(model, y, means, scales, inv_gain, x, lam, steps, progress)


def _refine(model: MeanScaleHyperprior, y: Tensor, means: Tensor, scales: Tensor, inv_gain: Tensor,
            x: Tensor, lam: float, steps: int, progress: bool | None) -> Tensor:
    npx = x.shape[2] * x.shape[3]
    best_y, best_cost = y, rounded_cost(model, y, means, scales, inv_gain, x, lam, npx)
    latent = y.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([latent], lr=LEARNING_RATE)
    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(range(steps), desc="refine", disable=not show, delay=1.0, leave=False)
    for step in bar:
        for group in optimizer.param_groups:
            group["lr"] = LEARNING_RATE * (1.0 - step / steps)
        residual = latent - means
        rounded = residual + (torch.round(residual) - residual).detach()
        bits = -torch.log2(model.gaussian_conditional.likelihood(rounded, scales)).sum()
        x_hat = model.g_s((rounded + means) * inv_gain)[:, :, :x.shape[2], :x.shape[3]]
        loss = lam * 255.0**2 * (x_hat - x).pow(2).mean() + bits / npx
        (latent.grad,) = torch.autograd.grad(loss, [latent])
        optimizer.step()
        if (step + 1) % CHECK_EVERY == 0 or step + 1 == steps:
            candidate = latent.detach().clone()
            cost = rounded_cost(model, candidate, means, scales, inv_gain, x, lam, npx)
            if cost < best_cost:
                best_y, best_cost = candidate, cost
            bar.set_postfix(cost=f"{best_cost:.4f}")
    bar.close()
    return best_y


def effort_level(effort: int | str) -> int:
    """An effort as an int level; 'max' names the highest."""
    from ncodec.errors import UsageError

    if effort == "max":
        return MAX_EFFORT
    if isinstance(effort, bool) or not isinstance(effort, int) or effort not in EFFORT_STEPS:
        raise UsageError(f"effort {effort!r} is not offered (choose 0..{MAX_EFFORT} or 'max')")
    return effort


def interpolated_lambda(lambdas: tuple[float, ...], quality: float) -> float:
    """The rate-distortion trade-off of a quality between two trained levels (geometric)."""
    lower = min(math.floor(quality), len(lambdas)) - 1
    frac = quality - (lower + 1)
    if frac == 0:
        return lambdas[lower]
    return math.exp((1 - frac) * math.log(lambdas[lower]) + frac * math.log(lambdas[lower + 1]))
