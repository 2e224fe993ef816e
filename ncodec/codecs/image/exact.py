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

# Unfold-buffer values per tile (315 MB): 64 input rows of 192 at 128 channels and a 5x5 kernel.
# On that layer, 4 % slower than the whole layer in one buffer (32 rows: 11 %, 16 rows: 15 %).
TILE_BUFFER = 128 * 25 * 64 * 192


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
        """The layer tile by tile, written into one output tensor.

        float64 transposed convolutions go through an unfold buffer of ``out * kh * kw`` values
        per input pixel: 629 MB for the 128x192-pixel input of a 768x512 image's third layer,
        13 GB for a 4K image's. Tiles of at most :data:`TILE_BUFFER` of those values bound the
        memory whatever the image's size; every sum is exact, so the tiles give the very same
        bits as the whole layer (tests/test_image_exact.py).
        """
        x = _grid_(x)
        n, _, h, w = x.shape
        (sh, sw), (ph, pw), (oph, opw) = self.stride, self.padding, self.output_padding
        c_out, kh, kw = self.weight.shape[1:]
        out_h = (h - 1) * sh - 2 * ph + kh + oph
        out_w = (w - 1) * sw - 2 * pw + kw + opw
        out = torch.zeros(n, c_out, out_h, out_w, dtype=x.dtype)
        pixels = max(1, TILE_BUFFER // (c_out * kh * kw))
        cols = min(w, pixels)
        rows = max(1, pixels // cols)
        for top in range(0, h, rows):
            o0h, o1h, loh, hih, r0h = _reach(top, min(h, top + rows), h, out_h, sh, ph, kh)
            for left in range(0, w, cols):
                o0w, o1w, low, hiw, r0w = _reach(left, min(w, left + cols), w, out_w, sw, pw, kw)
                y = F.conv_transpose2d(x[:, :, loh:hih, low:hiw], self.weight, None, stride=self.stride)
                r1h, r1w = min(y.shape[2], r0h + o1h - o0h), min(y.shape[3], r0w + o1w - o0w)
                # rows and columns past r1 are reached only by the output padding: they stay zero
                out[:, :, o0h:o0h + r1h - r0h, o0w:o0w + r1w - r0w] = y[:, :, r0h:r1h, r0w:r1w]
        return out.add_(self.bias)


def _reach(first: int, last: int, size: int, out_size: int, stride: int, pad: int, kernel: int
           ) -> tuple[int, int, int, int, int]:
    """Along one axis of a transposed convolution: the input positions ``[first, last)`` own the
    output positions ``[o0, o1)``; those take sums from inputs ``[lo, hi)``, and an unpadded
    transposed convolution of that input range holds output ``o0`` at index ``r0``."""
    o0 = 0 if first == 0 else stride * first
    o1 = out_size if last == size else stride * last
    lo = max(0, -(-(o0 + pad - kernel + 1) // stride))  # output o = stride * i - pad + tap
    hi = min(size, (o1 - 1 + pad) // stride + 1)
    return o0, o1, lo, hi, o0 - stride * lo + pad


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
