"""Per-quality calibration of the hyperprior's predicted scales, fitted on held-out images.

A hyperprior trained with additive uniform noise learns the spread of *noisy* latents, which is
wider than that of the rounded latents it codes at test time, so it overestimates every scale.
Multiplying the scales of quality q by one factor k_q, chosen to minimise the ideal code length of
the rounded latents on held-out images, is a pure rate gain: the coded values (and so the decoded
image) do not change, only the probabilities they are coded with.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ncodec.entropy import gaussian_information_bits, scale_to_index

from .model import MeanScaleHyperprior

CANDIDATES = np.round(np.arange(0.5, 1.2001, 0.025), 3)


@torch.no_grad()
def calibrate_scale_factors(model: MeanScaleHyperprior, images: Sequence[np.ndarray]) -> np.ndarray:
    """One factor per quality (float64), the candidate with the fewest ideal bits over ``images``.

    ``images`` are uint8 (H, W, 3) arrays with sides that are multiples of 64 (held-out photos,
    never training data). Returns ones when no image is given.
    """
    import copy

    q_count = model.config.num_qualities
    if not images:
        return np.ones(q_count)
    model = model.eval()
    h_s64 = copy.deepcopy(model.h_s).double()
    factors = np.ones(q_count)
    for qi in range(q_count):
        q = torch.tensor([qi])
        per_image = []
        for pixels in images:
            x = torch.from_numpy(np.array(pixels, dtype=np.uint8)).permute(2, 0, 1)[None].float().div(255.0)
            y = model.g_a(x) * model.gain_for(q)
            z = torch.round(model.h_a(y))
            scales, means = h_s64(z.double()).chunk(2, dim=1)
            symbols = torch.round(y.double() - means).to(torch.int32).numpy()
            per_image.append((symbols, scales.numpy()))
        bits = [sum(gaussian_information_bits(sym, scale_to_index(sc * k)) for sym, sc in per_image)
                for k in CANDIDATES]
        factors[qi] = float(CANDIDATES[int(np.argmin(bits))])
    return factors
