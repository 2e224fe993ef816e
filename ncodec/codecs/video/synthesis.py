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
from typing import Any, cast

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

    def squared_error(self, p: Tensor, target: Tensor) -> Tensor:
        """``sum((forward_pixels(p) - target) ** 2)`` with its gradients, in cache-sized chunks.

        The same values as :meth:`forward_pixels` followed by the squared error, computed without
        materialising the full-frame activations: each chunk of pixels runs forward and, in the
        backward pass, runs forward again and back while its activations are still in cache. The
        per-pixel network is tiny, so the unfused version spends its time moving activations
        through memory. Measured on 2 CPU cores: the network's forward and backward on 2**20
        pixels took 0.15-0.19 s instead of 0.30-0.40 s, and a CIF group's fit peaked at 0.67 GB
        instead of 1.14 GB; with the fit's retained heap the step time moved by less than the
        machine's noise (docs/VIDEO.md).
        """
        if self.refine:
            raise ValueError("squared_error does not run the refinement stage")
        params: list[Tensor] = []
        for layer in self.layers():
            params += [layer.weight.flatten(1), _bias(layer)]
        levels = p.shape[-1]
        result = _PixelSquaredError.apply(p.reshape(-1, levels), target.reshape(-1, target.shape[-1]), *params)
        return cast(Tensor, result)

    def decode_pixels(self, p: Tensor) -> Tensor:
        """Decoded 8-bit RGB ``(..., 3)`` from pixel-major float64 input ``(..., levels)``.

        :meth:`decode_forward` and the rounding to 8 bits, run over cache-sized chunks of pixels
        without leaving the pixel-major layout: every operation is exact and per pixel, so the
        bits are the same as the whole-frame version's (a test checks it), and the activations
        no longer travel through memory between layers.
        """
        if self.refine:  # the 3x3 stage needs whole frames
            img = self.decode_forward(p.permute(0, 3, 1, 2))
            return torch.clamp(torch.round(img * 255.0), 0, 255).to(torch.uint8).permute(0, 2, 3, 1)
        flat = p.reshape(-1, p.shape[-1])
        out = torch.empty(flat.shape[0], 3, dtype=torch.uint8)
        mlp = [(layer.weight.flatten(1).t(), _bias(layer)) for layer in self.layers()]
        for s in range(0, flat.shape[0], DECODE_CHUNK_PIXELS):
            x = _fix_(flat[s:s + DECODE_CHUNK_PIXELS].clone())
            for i, (weight, bias) in enumerate(mlp):
                x = _fix_(torch.addmm(bias, x, weight))
                if i < len(mlp) - 1:
                    x.clamp_(min=0.0)
            out[s:s + DECODE_CHUNK_PIXELS] = x.mul_(255.0).round_().clamp_(0, 255)
        return out.view(*p.shape[:-1], 3)

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


CHUNK_PIXELS = 1 << 14  # 16,384 pixels: a hidden layer's chunk is 1 MiB, cache-resident


def _mlp_chunk(x: Tensor, params: tuple[Tensor, ...]) -> list[Tensor]:
    """Every layer's output on one chunk of pixels (ReLU after all but the last)."""
    outs = [x]
    layers = len(params) // 2
    for i in range(layers):
        y = torch.addmm(params[2 * i + 1], outs[-1], params[2 * i].t())
        outs.append(y.clamp_min_(0.0) if i < layers - 1 else y)
    return outs


class _PixelSquaredError(torch.autograd.Function):
    """Sum of squared errors of the per-pixel MLP, chunked; the backward recomputes each chunk.

    Chunks are summed in a fixed order, so the result and gradients depend only on the inputs
    and the thread count, as the unfused products do."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, target: Tensor, *params: Tensor) -> Tensor:
        ctx.save_for_backward(x, target, *params)
        total = x.new_zeros(())
        with torch.no_grad():
            for s in range(0, x.shape[0], CHUNK_PIXELS):
                err = _mlp_chunk(x[s:s + CHUNK_PIXELS], params)[-1].sub_(target[s:s + CHUNK_PIXELS])
                total += torch.dot(err.view(-1), err.view(-1))
        return total

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        x, target, *params = ctx.saved_tensors
        grads = [torch.zeros_like(t) for t in params]
        grad_x = torch.empty_like(x) if ctx.needs_input_grad[0] else None
        layers = len(params) // 2
        with torch.no_grad():
            for s in range(0, x.shape[0], CHUNK_PIXELS):
                outs = _mlp_chunk(x[s:s + CHUNK_PIXELS], tuple(params))
                g = outs[-1].sub_(target[s:s + CHUNK_PIXELS]).mul_(2.0 * grad)
                for i in reversed(range(layers)):
                    grads[2 * i].addmm_(g.t(), outs[i])
                    grads[2 * i + 1] += g.sum(0)
                    if i > 0:
                        g = torch.mm(g, params[2 * i]).mul_(outs[i] > 0)
                    elif grad_x is not None:
                        torch.mm(g, params[0], out=grad_x[s:s + CHUNK_PIXELS])
        return (grad_x, None, *grads)


DECODE_CHUNK_PIXELS = 1 << 13  # 8,192 pixels: a float64 hidden layer's chunk is 1 MiB


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
