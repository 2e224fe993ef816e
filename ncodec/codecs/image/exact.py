"""The image synthesis transform in exact arithmetic: the same decoded pixels on every CPU.

The float32 synthesis (``g_s``: four transposed convolutions with inverse GDN between them) ran
with whatever kernels a CPU's torch chose; another vector width rounds the last bits of a float32
convolution differently, and a pixel lying at a rounding boundary then decodes one level apart.
Here the same network runs in float64 under the rules of :mod:`ncodec.exactmath`:

* every convolution input is on the activation grid (multiples of ``2**-ACT_BITS``, at most
  ``ACT_LIMIT``) and every weight row is integers times a power of two with ``sum |q| <=
  ROW_BUDGET``, so no partial sum of any convolution reaches ``2**53`` units and none rounds,
  whatever the order BLAS or the thread split adds them in;
* inverse GDN, ``x * sqrt(beta + gamma @ x**2)``: the squares are put on a grid of ``2**-SQUARE_BITS``
  (at most ``SQUARE_LIMIT``), gamma's rows obey ``GAMMA_BUDGET`` so their sums are exact too, and
  the rest (adding beta, the square root, the product) are single IEEE operations, each correctly
  rounded, in a fixed order;
* the inverse gain comes from :func:`ncodec.exactmath.exp`, not from a vectorised ``exp``.

The weights are rounded once, when the codec loads them. The synthesis's input, the latent
``symbol + mu``, takes ``mu`` from the float64 hyper-synthesis that also decides the coding
indices; it is put on the activation grid before use.
"""

from __future__ import annotations

import math
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ncodec import exactmath

from .layers import GDN, NonNegativeParametrizer

ACT_BITS = 16
ACT_LIMIT = 2.0**11  # the synthesis input measured at most 45.5, inner activations 4.5 (Kodak, q1 and q8)
ROW_BUDGET = exactmath.ROW_BUDGET  # 2**25 * 2**(11 + 16) units = 2**52
SQUARE_BITS = 20
SQUARE_LIMIT = 2.0**12  # squares of activations up to 64 in magnitude (measured: at most 4.5)
GAMMA_BUDGET = 2**20  # 2**20 * 2**(12 + 20) units = 2**52
GAMMA_GRID_BITS = 40  # gamma is put on this grid (entries at most GAMMA_LIMIT) before its rows are
GAMMA_LIMIT = 64.0  # quantized: 128 entries of at most 2**46 units sum exactly (measured max 0.93)


def _grid_(x: Tensor) -> Tensor:
    """Activations onto the grid, in place: every layer owns its input (see ExactSynthesis)."""
    return exactmath.to_grid_(x, ACT_BITS, ACT_LIMIT)


def _nonnegative(param: Tensor, reparam: NonNegativeParametrizer) -> Tensor:
    """GDN's reparametrised value ``max(p, bound)**2 - pedestal`` in float64, squared by one product."""
    p = param.detach().half().double()
    p = torch.clamp(p, min=float(reparam.lower_bound.bound))
    return p * p - float(reparam.pedestal)


class _InverseGDN:
    def __init__(self, gdn: GDN) -> None:
        if not gdn.inverse:
            raise ValueError("the synthesis uses inverse GDN only")
        self.beta = _nonnegative(gdn.beta, gdn.beta_reparam)[None, :, None, None]
        gamma = exactmath.to_grid(_nonnegative(gdn.gamma, gdn.gamma_reparam), GAMMA_GRID_BITS, GAMMA_LIMIT)
        self.gamma = exactmath.quantize_rows(gamma, budget=GAMMA_BUDGET, from_fp16=False)  # (C, C)

    def __call__(self, x: Tensor) -> Tensor:
        x = _grid_(x)
        n, c, h, w = x.shape
        squares = exactmath.to_grid_(x * x, SQUARE_BITS, SQUARE_LIMIT)
        # The 1x1 convolution as one matrix product per image (float64 convolutions take a slow path).
        norm = torch.matmul(self.gamma, squares.reshape(n, c, h * w)).reshape(n, c, h, w)
        norm += self.beta
        return x.mul_(norm.sqrt_())


class _TransposedConv:
    def __init__(self, layer: nn.ConvTranspose2d) -> None:
        if layer.bias is None:
            raise ValueError("the synthesis's layers all have biases")
        self.weight = exactmath.quantize_rows(layer.weight, row_dim=1)  # (in, out, kh, kw): rows are outputs
        self.bias = layer.bias.detach().half().double()[None, :, None, None]
        self.stride = cast(tuple[int, int], layer.stride)
        self.padding = cast(tuple[int, int], layer.padding)
        self.output_padding = cast(tuple[int, int], layer.output_padding)

    def __call__(self, x: Tensor) -> Tensor:
        out = F.conv_transpose2d(_grid_(x), self.weight, None, stride=self.stride, padding=self.padding,
                                 output_padding=self.output_padding)
        return out.add_(self.bias)


class ExactSynthesis:
    """``g_s`` of a trained image model, evaluated exactly: latents (1, M, h, w) -> RGB (1, 3, 16h, 16w)."""

    def __init__(self, g_s: nn.Sequential) -> None:
        self.layers: list[_TransposedConv | _InverseGDN] = []
        for module in g_s:
            if isinstance(module, nn.ConvTranspose2d):
                self.layers.append(_TransposedConv(module))
            elif isinstance(module, GDN):
                self.layers.append(_InverseGDN(module))
            else:
                raise ValueError(f"no exact form for {type(module).__name__} in the synthesis")

    @torch.no_grad()
    def __call__(self, latents: Tensor) -> Tensor:
        x = latents.to(torch.float64, copy=True)  # the layers work in place on their inputs
        for layer in self.layers:
            x = layer(x)
        return x


def inverse_gain(log_inverse_gain: Tensor) -> Tensor:
    """``exp`` of the stored log inverse gains (M,), computed the same way on every machine."""
    return exactmath.exp(log_inverse_gain.detach().double())


def exactness_margin_bits(synthesis: ExactSynthesis) -> float:
    """log2 of how far below ``2**53`` units the largest possible partial sum of any layer stays.

    Read back from the stored weights (their row exponents and integer sums), so a test of this
    bound fails if any layer could ever round.
    """
    worst = 0.0
    for layer in synthesis.layers:
        if isinstance(layer, _TransposedConv):
            rows, units = layer.weight.movedim(1, 0).reshape(layer.weight.shape[1], -1), ACT_LIMIT * 2.0**ACT_BITS
        else:
            rows, units = layer.gamma, SQUARE_LIMIT * 2.0**SQUARE_BITS
        q_l1 = rows.abs().sum(dim=1) * exactmath.power_of_two(exactmath.row_exponents(rows).to(torch.int64))
        worst = max(worst, float(q_l1.max()) * units)
    return 53.0 - math.log2(worst)
