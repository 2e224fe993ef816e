"""Differentiable entropy models of the image codec: the factorized prior and the Gaussian conditional.

During training they give likelihoods of noisy latents (the rate term of the loss). For coding, the
factorized prior is tabulated once into integer frequency tables (see :meth:`EntropyBottleneck.
integer_tables`) and the Gaussian conditional becomes an integer index into the entropy layer's
fixed scale table, so that nothing the coder sees depends on float arithmetic at decode time.
Parameter names follow CompressAI so its checkpoints load.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .layers import LowerBound

LIKELIHOOD_FLOOR = 1e-9


class EntropyBottleneck(nn.Module):
    """Per-channel learned density for the hyper-latent z (Ballé et al. 2018, appendix 6.1).

    The density is the derivative of a small monotonic network (``_matrix*``, ``_bias*``,
    ``_factor*``), convolved with a unit uniform so it models quantized values. ``quantiles`` is kept
    for CompressAI compatibility only: the coding range is found by tabulating the density instead
    of learning its quantiles with an auxiliary loss, which saves training steps.
    """

    def __init__(self, channels: int, init_scale: float = 10.0,
                 filters: tuple[int, ...] = (3, 3, 3, 3)) -> None:
        super().__init__()
        self.channels = int(channels)
        self.filters = tuple(int(f) for f in filters)
        dims = (1, *self.filters, 1)
        scale = init_scale ** (1 / (len(self.filters) + 1))
        for i in range(len(self.filters) + 1):
            init = math.log(math.expm1(1 / scale / dims[i + 1]))
            self.register_parameter(f"_matrix{i:d}", nn.Parameter(
                torch.full((channels, dims[i + 1], dims[i]), init)))
            self.register_parameter(f"_bias{i:d}", nn.Parameter(
                torch.empty(channels, dims[i + 1], 1).uniform_(-0.5, 0.5)))
            if i < len(self.filters):
                self.register_parameter(f"_factor{i:d}", nn.Parameter(torch.zeros(channels, dims[i + 1], 1)))
        # A buffer, not a parameter: nothing trains it here (see the class docstring), and DDP
        # refuses parameters that receive no gradient.
        self.register_buffer("quantiles", torch.tensor([-init_scale, 0.0, init_scale]).repeat(channels, 1, 1))

    def _logits_cumulative(self, inputs: Tensor) -> Tensor:
        """Logit of the cumulative density at ``inputs`` of shape (C, 1, n)."""
        logits = inputs
        for i in range(len(self.filters) + 1):
            matrix: Tensor = getattr(self, f"_matrix{i:d}")
            logits = torch.matmul(F.softplus(matrix), logits) + getattr(self, f"_bias{i:d}")
            if i < len(self.filters):
                logits = logits + torch.tanh(getattr(self, f"_factor{i:d}")) * torch.tanh(logits)
        return logits

    def likelihood(self, values: Tensor) -> Tensor:
        """P(value) of integer-or-noisy ``values`` (B, C, H, W) under the convolved density."""
        b, c, h, w = values.shape
        flat = values.permute(1, 0, 2, 3).reshape(c, 1, -1)
        lower = self._logits_cumulative(flat - 0.5)
        upper = self._logits_cumulative(flat + 0.5)
        # Evaluate on the side of the median where the sigmoids are small, for precision.
        sign = -torch.sign(lower + upper).detach()
        lik = torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower))
        lik = lik.reshape(c, b, h, w).permute(1, 0, 2, 3)
        return torch.clamp(lik, min=LIKELIHOOD_FLOOR)

    @torch.no_grad()
    def integer_tables(self, max_range: int = 2048, tail_mass: float = 1e-9) -> tuple[np.ndarray, np.ndarray]:
        """Tabulate the density of each channel over integers: (offsets (C,), pmfs (C, L) float64).

        The range of each channel is where the cumulative density lies within ``tail_mass`` of 0 and
        1, found by evaluating the network on a wide integer grid in float64; symbols outside it are
        escaped by the entropy layer.
        """
        grid = torch.arange(-max_range, max_range + 1, dtype=torch.float64)
        module = self.double()
        try:
            flat = grid.repeat(self.channels, 1, 1)
            cdf = torch.sigmoid(module._logits_cumulative(flat + 0.5)).squeeze(1)  # P(Z <= v + 0.5)
        finally:
            self.float()
        lows, highs = [], []
        for ch in range(self.channels):
            inside = torch.nonzero((cdf[ch] > tail_mass) & (cdf[ch] < 1 - tail_mass)).flatten()
            lo = int(grid[int(inside[0])]) if len(inside) else 0
            hi = int(grid[min(int(inside[-1]) + 1, len(grid) - 1)]) if len(inside) else 0
            lows.append(lo)
            highs.append(hi)
        length = max(h - lo + 1 for lo, h in zip(lows, highs, strict=False))
        pmfs = np.zeros((self.channels, length), dtype=np.float64)
        cdf_np = cdf.numpy()
        for ch, lo in enumerate(lows):
            idx = np.arange(lo, lo + length) + max_range  # grid index of value v
            upper = cdf_np[ch, np.clip(idx, 0, len(grid) - 1)]
            lower = np.where(idx - 1 >= 0, cdf_np[ch, np.clip(idx - 1, 0, len(grid) - 1)], 0.0)
            pmfs[ch] = np.clip(upper - lower, 0.0, 1.0)
        return np.asarray(lows, dtype=np.int64), pmfs


class GaussianConditional(nn.Module):
    """Likelihood of y given a mean and a scale per element (Minnen et al. 2018).

    Scales are bounded below by the smallest entry of the scale table, as the coder does.
    ``scale_table`` is a buffer so CompressAI checkpoints (which carry it) load unchanged.
    """

    scale_table: Tensor

    def __init__(self, scale_table: np.ndarray | None = None, scale_bound: float = 0.11) -> None:
        super().__init__()
        table = torch.as_tensor(scale_table if scale_table is not None else np.zeros(0), dtype=torch.float32)
        self.register_buffer("scale_table", table)
        self.lower_bound_scale = LowerBound(scale_bound)

    def likelihood(self, values: Tensor, scales: Tensor) -> Tensor:
        """P(values) for values already centred on their means (values = y - mu)."""
        scales = self.lower_bound_scale(scales)
        values = torch.abs(values)
        upper = 0.5 * torch.erfc(-(0.5 - values) / (scales * math.sqrt(2.0)))
        lower = 0.5 * torch.erfc(-(-0.5 - values) / (scales * math.sqrt(2.0)))
        return torch.clamp(upper - lower, min=LIKELIHOOD_FLOOR)
