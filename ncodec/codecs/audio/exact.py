"""The audio decoder network in exact arithmetic: codes to log-magnitudes, the same bits on every CPU.

The trained float32 network (:class:`.model.AudioDecoder` behind the residual VQ) is evaluated here
in float64 with two rules (see :mod:`ncodec.exactmath` for why they suffice):

* Every input to a matrix product, convolution or reduction is on the activation grid (a multiple
  of ``2**-ACT_BITS``, at most ``ACT_LIMIT`` in magnitude), and every weight row is stored as
  integers ``q`` times a power of two chosen for that row such that ``sum |q| <= ROW_BUDGET``.
  A row's partial sums are then multiples of one unit below ``2**52`` units: exact, so the order in
  which BLAS, oneDNN or a thread split adds them cannot matter.
* Everything else (biases, layer scales, LayerNorm's division and square root, GELU) is elementwise
  +, -, *, /, sqrt, each IEEE-exact to the last bit, in a fixed order.

The weights are rounded once when the codec loads them; measured against the float32 network on dev
speech, the log-magnitudes differ by about 1e-4 (docs/AUDIO.md), far below what decoding can hear.
"""

from __future__ import annotations

import math
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ncodec import exactmath
from ncodec.exactmath import quantize_rows, row_exponents

from .model import LOG_MAG_CEILING, LOG_MAG_FLOOR, AudioCodecModel, ConvNeXtBlock

ACT_BITS = 16
ACT_LIMIT = 2.0**11  # 16x the largest activation measured on dev audio (about 115)
ROW_BUDGET = exactmath.ROW_BUDGET  # sum of |q| over a weight row: 2**25 * 2**(11 + 16) units = 2**52 < 2**53
SQUARE_BITS = 20  # LayerNorm's squared deviations are summed on a grid of 2**-20
SQUARE_LIMIT = 2.0**24  # (2 * ACT_LIMIT)**2: 2**44 units each, 256 of them stay below 2**53


def _bias(layer: nn.Conv1d | nn.ConvTranspose1d | nn.Linear) -> Tensor:
    if layer.bias is None:
        raise ValueError("the audio decoder's layers all have biases")
    return layer.bias.detach().double()


def _padding(layer: nn.Conv1d | nn.ConvTranspose1d) -> int:
    return int(cast(tuple[int], layer.padding)[0])


def _grid(x: Tensor) -> Tensor:
    return exactmath.to_grid(x, ACT_BITS, ACT_LIMIT)


def layer_norm(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """LayerNorm over the last axis with exact sums (x on the activation grid)."""
    channels = x.shape[-1]
    mean = x.sum(dim=-1, keepdim=True) / channels
    d = x - mean
    square = exactmath.to_grid(d * d, SQUARE_BITS, SQUARE_LIMIT)
    var = square.sum(dim=-1, keepdim=True) / channels
    return d / torch.sqrt(var + 1e-5) * weight + bias


class _Norm:
    def __init__(self, norm: nn.LayerNorm) -> None:
        self.weight, self.bias = norm.weight.detach().double(), norm.bias.detach().double()

    def __call__(self, x: Tensor) -> Tensor:
        return layer_norm(_grid(x), self.weight, self.bias)


class _Linear:
    def __init__(self, layer: nn.Linear) -> None:
        self.weight_t = quantize_rows(layer.weight).t().contiguous()
        self.bias = _bias(layer)

    def __call__(self, x: Tensor) -> Tensor:
        return _grid(x) @ self.weight_t + self.bias


class _Block:
    def __init__(self, block: ConvNeXtBlock) -> None:
        conv = block.dwconv
        self.dw_weight, self.dw_bias = quantize_rows(conv.weight), _bias(conv)
        self.taps = self.dw_weight[:, 0, :].t().contiguous()  # (k, C)
        self.padding = _padding(conv)
        self.norm, self.pw1, self.pw2 = _Norm(block.norm), _Linear(block.pw1), _Linear(block.pw2)
        self.gamma = block.gamma.detach().double()

    def __call__(self, x: Tensor) -> Tensor:  # x (B, T, C)
        # The depth-wise convolution as shifted products added tap by tap (exact in any case, and
        # far faster in float64 than a grouped convolution, which torch runs one channel at a time).
        padded = F.pad(_grid(x), (0, 0, self.padding, self.padding))
        frames = x.shape[1]
        h = padded[:, :frames] * self.taps[0]
        for k in range(1, self.taps.shape[0]):
            h = h + padded[:, k:k + frames] * self.taps[k]
        h = h + self.dw_bias
        h = self.pw2(exactmath.gelu(self.pw1(self.norm(h))))
        return x + self.gamma * h


class ExactDecoder:
    """Codes (k, T) to log-magnitudes (bins, 2 T) in exact float64; built from a trained model."""

    def __init__(self, model: AudioCodecModel) -> None:
        self.config = model.config
        self.stages = []
        for k in range(model.quantizer.n_codebooks):
            stage = model.quantizer.stage(k)
            proj = stage.out_proj
            self.stages.append((_grid(stage.codebook.weight.detach().double()),
                                quantize_rows(proj.weight[:, :, 0]).t().contiguous(), _bias(proj)))
        dec = model.decoder
        self.stem_weight, self.stem_bias = quantize_rows(dec.stem.weight), _bias(dec.stem)
        self.stem_padding = _padding(dec.stem)
        self.norm = _Norm(dec.norm.norm)
        self.coarse = [_Block(cast(ConvNeXtBlock, b)) for b in dec.coarse]
        up = dec.up
        self.up_weight, self.up_bias = quantize_rows(up.weight, row_dim=1), _bias(up)
        self.up_stride, self.up_padding = up.stride[0], _padding(up)
        self.fine = [_Block(cast(ConvNeXtBlock, b)) for b in dec.fine]
        self.out_norm = _Norm(dec.out_norm.norm)
        self.head = _Linear(dec.head.proj)

    def latents(self, codes: Tensor, mask: Tensor | None = None) -> Tensor:
        """Quantized latents (T, dim) from codes (k, T): stage lookups summed in stage order."""
        out: Tensor | None = None
        for k in range(codes.shape[0]):
            book, weight_t, bias = self.stages[k]
            part = book[codes[k]] @ weight_t + bias
            if mask is not None:
                part = part * mask[k, :, None].double()
            out = part if out is None else out + part
        assert out is not None, "at least one stage"
        return out

    @torch.no_grad()
    def log_magnitude(self, codes: Tensor, mask: Tensor | None = None) -> Tensor:
        """Log-magnitudes (bins, 2 T) from codes (k, T) and an optional 0/1 mask (k, T)."""
        z = self.latents(codes, mask).t()[None]  # (1, dim, T)
        h = F.conv1d(_grid(z), self.stem_weight, None, padding=self.stem_padding) + self.stem_bias[:, None]
        h = h.transpose(1, 2)  # (1, T, dim) from here on, except inside the convolutions
        h = self.norm(h)
        for block in self.coarse:
            h = block(h)
        h = F.conv_transpose1d(_grid(h).transpose(1, 2), self.up_weight, None, stride=self.up_stride,
                               padding=self.up_padding) + self.up_bias[:, None]
        h = h.transpose(1, 2)
        for block in self.fine:
            h = block(h)
        log_mag = self.head(self.out_norm(h))
        return torch.clamp(log_mag, LOG_MAG_FLOOR, LOG_MAG_CEILING)[0].t().contiguous()


def exactness_margin_bits(decoder: ExactDecoder) -> float:
    """log2 of how far below ``2**53`` units the largest possible partial sum of any layer stays.

    Read back from the stored weights alone (not from how :func:`quantize_rows` meant to make
    them), so a test of this bound fails if any layer could ever round.
    """
    tensors = [decoder.stem_weight, decoder.up_weight.movedim(1, 0), decoder.head.weight_t.t()]
    for block in decoder.coarse + decoder.fine:
        tensors += [block.dw_weight, block.pw1.weight_t.t(), block.pw2.weight_t.t()]
    tensors += [w.t() for _, w, _ in decoder.stages]
    worst = 0.0
    for w in tensors:
        rows = w.reshape(w.shape[0], -1)
        # In units of 2**-(ACT_BITS + e) a row's weights are the integers q: the bound is sum |q| times
        # the largest activation in grid units.
        q_l1 = rows.abs().sum(dim=1) * exactmath.power_of_two(row_exponents(rows).to(torch.int64))
        worst = max(worst, float(q_l1.max()) * ACT_LIMIT * 2.0**ACT_BITS)
    return 53.0 - math.log2(worst)
