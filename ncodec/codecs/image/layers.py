"""Building blocks of the image transforms, written here with CompressAI's parameter names.

The names (``beta``, ``gamma``, ``beta_reparam.pedestal``, ...) match CompressAI's state dicts so a
published ``bmshj2018-hyperprior`` or ``mbt2018-mean`` checkpoint loads into these modules without
renaming, while the project depends on neither compressai nor its pinned numpy.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class _LowerBoundFunction(torch.autograd.Function):
    """max(x, bound) whose gradient still flows when it pushes x back above the bound.

    A plain ``torch.max`` kills the gradient below the bound, so a parameter that strays there
    could never come back; this is the bound used by Ballé et al. and CompressAI.
    """

    @staticmethod
    def forward(ctx, x: Tensor, bound: Tensor) -> Tensor:
        ctx.save_for_backward(x, bound)
        return torch.max(x, bound)

    @staticmethod
    def backward(ctx, grad_output: Tensor) -> tuple[Tensor, None]:
        x, bound = ctx.saved_tensors
        pass_through = (x >= bound) | (grad_output < 0)
        return pass_through.type(grad_output.dtype) * grad_output, None


class LowerBound(nn.Module):
    """Lower-bounds its input with a gradient-preserving max (see :class:`_LowerBoundFunction`)."""

    bound: Tensor

    def __init__(self, bound: float) -> None:
        super().__init__()
        self.register_buffer("bound", torch.tensor([float(bound)]))

    def forward(self, x: Tensor) -> Tensor:
        if torch.jit.is_scripting() or not torch.is_grad_enabled():
            return torch.max(x, self.bound.to(x.dtype))
        return _LowerBoundFunction.apply(x, self.bound.to(x.dtype))


class NonNegativeParametrizer(nn.Module):
    """Stores a non-negative parameter as the square root of (value + pedestal).

    GDN's beta and gamma must stay positive; optimising their square roots with a small pedestal keeps
    gradients well scaled near zero.
    """

    pedestal: Tensor

    def __init__(self, minimum: float = 0.0, reparam_offset: float = 2**-18) -> None:
        super().__init__()
        self.minimum = float(minimum)
        self.reparam_offset = float(reparam_offset)
        self.register_buffer("pedestal", torch.tensor([self.reparam_offset**2]))
        self.lower_bound = LowerBound((self.minimum + self.reparam_offset**2) ** 0.5)

    def init(self, x: Tensor) -> Tensor:
        return torch.sqrt(torch.max(x + self.pedestal, self.pedestal))

    def forward(self, x: Tensor) -> Tensor:
        out = self.lower_bound(x)
        return out**2 - self.pedestal


class GDN(nn.Module):
    """Generalized divisive normalization (Ballé et al. 2016); ``inverse=True`` gives IGDN.

    y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2): a learned, local gain control that lets a few
    convolution layers decorrelate natural images far better than ReLUs of the same size.
    """

    def __init__(self, in_channels: int, inverse: bool = False, beta_min: float = 1e-6,
                 gamma_init: float = 0.1) -> None:
        super().__init__()
        self.inverse = bool(inverse)
        self.beta_reparam = NonNegativeParametrizer(minimum=beta_min)
        self.beta = nn.Parameter(self.beta_reparam.init(torch.ones(in_channels)))
        self.gamma_reparam = NonNegativeParametrizer()
        self.gamma = nn.Parameter(self.gamma_reparam.init(gamma_init * torch.eye(in_channels)))

    def forward(self, x: Tensor) -> Tensor:
        channels = x.shape[1]
        beta = self.beta_reparam(self.beta)
        gamma = self.gamma_reparam(self.gamma).reshape(channels, channels, 1, 1)
        norm = F.conv2d(x * x, gamma.to(x.dtype), beta.to(x.dtype))
        return x * (torch.sqrt(norm) if self.inverse else torch.rsqrt(norm))


def conv(in_channels: int, out_channels: int, kernel_size: int = 5, stride: int = 2) -> nn.Conv2d:
    """A 'same'-padded strided convolution, as in CompressAI."""
    return nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2)


def deconv(in_channels: int, out_channels: int, kernel_size: int = 5, stride: int = 2) -> nn.ConvTranspose2d:
    """The transposed convolution that exactly undoes :func:`conv`'s down-sampling of the shape."""
    return nn.ConvTranspose2d(in_channels, out_channels, kernel_size, stride=stride,
                              output_padding=stride - 1, padding=kernel_size // 2)
