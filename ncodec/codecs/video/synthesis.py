"""The synthesis network: upsampled latents in, RGB out; float for fitting, exact for decoding.

A per-pixel MLP (1x1 convolutions, ReLU) maps the latent levels to RGB, then a small residual
stage of two 3x3 convolutions sharpens edges the per-pixel MLP cannot see. About 800 parameters
and 700 multiply-adds per pixel (Cool-chic and C3 use networks of this size).

Exact decoding. The stored weights are integers ``q`` with a power-of-two step per layer
(``w = q * 2**-e``), so every weight is a binary fraction. The decoder evaluates the network in
float64 and rounds every activation to a multiple of ``2**-ACT_BITS`` (and clamps it to
``+-ACT_LIMIT``) after each layer. With the limits on the stored integers, every product
and partial sum is an exact binary fraction below ``2**53``, so float64 arithmetic is exact in
any summation order: the decoded frames are the same bits on every machine, thread count and BLAS.
The fitter runs the same network in float32 without the rounding; the difference is far below one
8-bit level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import torch
from torch import Tensor, nn
from torch.nn import functional as F

ACT_BITS = 16
ACT_LIMIT = 2.0**10
MAX_WEIGHT_Q = 2**11
MAX_LATENT = 2**10
EXPONENTS = range(4, 14)  # allowed step exponents e (step 2**-e)
# Why these bounds make float64 exact: with exponent e, every product of an activation (a multiple
# of 2**-16, at most 2**10) and a weight (q * 2**-e, |q| <= 2**11) is an integer multiple of
# u = 2**-(16 + e) of at most 2**37 units; a bias adds at most 2**36 units. A layer sums at most
# a few hundred such terms, far below 2**53 units, so no addition ever rounds.


@dataclass(frozen=True)
class SynthesisShape:
    """Sizes of the network: recorded in the file, bounded so that decoding stays exact and cheap."""

    levels: int
    hidden: int = 16
    refine: int = 0  # a 3x3 residual stage (3 -> 6 -> 3) measured no RD gain on foreman and doubled decode time

    def check(self) -> None:
        if not (1 <= self.levels <= 8 and 4 <= self.hidden <= 48 and 0 <= self.refine <= 16):
            raise ValueError(f"synthesis shape out of range: {self}")


class Synthesis(nn.Module):
    """Latent levels ``(N, levels, H, W)`` -> RGB in [0, 1] (before clamping), ``(N, 3, H, W)``."""

    def __init__(self, shape: SynthesisShape) -> None:
        super().__init__()
        shape.check()
        self.shape = shape
        h = shape.hidden
        self.mlp = nn.ModuleList([nn.Conv2d(shape.levels, h, 1), nn.Conv2d(h, h, 1), nn.Conv2d(h, 3, 1)])
        self.refine = nn.ModuleList(
            [nn.Conv2d(3, shape.refine, 3, padding=1), nn.Conv2d(shape.refine, 3, 3, padding=1)]
            if shape.refine else [])
        convs = self.layers()
        with torch.no_grad():
            _bias(convs[len(self.mlp) - 1]).fill_(0.5)
            for layer in convs[len(self.mlp):]:
                layer.weight.mul_(0.1)
                _bias(layer).zero_()

    def layers(self) -> list[nn.Conv2d]:
        """Every convolution, in the order their parameters are stored."""
        return [cast(nn.Conv2d, m) for m in (*self.mlp, *self.refine)]

    def forward(self, x: Tensor, exact: bool = False) -> Tensor:
        fix = _fixed if exact else _identity
        x = fix(x)
        convs = self.layers()
        mlp, refine = convs[:len(self.mlp)], convs[len(self.mlp):]
        for i, layer in enumerate(mlp):
            x = fix(layer(x))
            if i < len(mlp) - 1:
                x = F.relu(x)
        if refine:
            r = fix(F.relu(fix(refine[0](x))))
            x = fix(x + refine[1](r))
        return x

    def forward_pixels(self, p: Tensor) -> Tensor:
        """Training forward on pixel-major input ``(..., levels)`` -> RGB ``(..., 3)`` (no refinement).

        The same network as :meth:`forward` without rounding, written as matrix products over
        pixels. Measured on 2 CPU cores (40 fitting steps on 16 frames of foreman, twice each):
        20.2-22.5 s against 21.4-23.9 s through channels-last 1x1 convolutions, about 5 % faster.
        """
        if self.refine:
            raise ValueError("forward_pixels does not run the refinement stage")
        mlp = self.layers()
        for i, layer in enumerate(mlp):
            p = F.linear(p, layer.weight.flatten(1), layer.bias)
            if i < len(mlp) - 1:
                p = F.relu(p)
        return p

    def decode_forward(self, x: Tensor) -> Tensor:
        """The exact forward of a float64 network with stored parameters, written for speed.

        Same arithmetic as ``forward(x, exact=True)`` (so the same bits: every operation is
        exact), but pixel-major matrix products and in-place rounding, about 3x faster.
        """
        n, _, h, w = x.shape
        convs = self.layers()
        mlp, refine = convs[:len(self.mlp)], convs[len(self.mlp):]
        p = _fix_(x.permute(0, 2, 3, 1).reshape(n * h * w, -1))
        for i, layer in enumerate(mlp):
            p = _fix_(torch.addmm(_bias(layer), p, layer.weight.flatten(1).t()))
            if i < len(mlp) - 1:
                p.clamp_(min=0.0)
        img = p.view(n, h, w, 3).permute(0, 3, 1, 2)
        if refine:
            r = _fix_(F.conv2d(img, refine[0].weight, _bias(refine[0]), padding=1)).clamp_(min=0.0)
            img = _fix_(img + F.conv2d(r, refine[1].weight, _bias(refine[1]), padding=1))
        return img


def _fix_(x: Tensor) -> Tensor:
    """In-place :func:`_fixed` on a tensor the caller owns."""
    return x.mul_(2.0**ACT_BITS).add_(0.5).floor_().mul_(2.0**-ACT_BITS).clamp_(-ACT_LIMIT, ACT_LIMIT)


def _bias(layer: nn.Conv2d) -> Tensor:
    assert layer.bias is not None
    return layer.bias


def _identity(x: Tensor) -> Tensor:
    return x


def _fixed(x: Tensor) -> Tensor:
    """Round to a multiple of 2**-ACT_BITS and clamp: exact float64 operations only."""
    return torch.clamp(torch.floor(x * 2.0**ACT_BITS + 0.5) * 2.0**-ACT_BITS, -ACT_LIMIT, ACT_LIMIT)


def quantize_parameters(net: Synthesis, exponents: list[tuple[int, int]]) -> list[Tensor]:
    """Integer weights and biases, layer by layer: ``round(w * 2**e)`` clamped to the q limit."""
    out = []
    for layer, (we, be) in zip(net.layers(), exponents, strict=True):
        for param, e in ((layer.weight, we), (_bias(layer), be)):
            q = torch.round(param.detach().double().cpu() * 2.0**e).clamp(-MAX_WEIGHT_Q, MAX_WEIGHT_Q)
            out.append(q.to(torch.int32))
    return out


def load_quantized(net: Synthesis, q: list[Tensor], exponents: list[tuple[int, int]]) -> None:
    """Set the network's parameters to ``q * 2**-e`` exactly (the net's dtype must be float64)."""
    tensors = iter(q)
    with torch.no_grad():
        for layer, (we, be) in zip(net.layers(), exponents, strict=True):
            layer.weight.copy_(next(tensors).double() * 2.0**-we)
            _bias(layer).copy_(next(tensors).double() * 2.0**-be)


def parameter_shapes(shape: SynthesisShape) -> list[tuple[int, ...]]:
    """Shapes of the stored tensors (weight, bias per layer) without building a network."""
    net = Synthesis(shape)
    return [tuple(p.shape) for layer in net.layers() for p in (layer.weight, _bias(layer))]
