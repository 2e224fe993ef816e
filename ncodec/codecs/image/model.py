"""The mean-scale hyperprior network with gain vectors: one model, every rate.

Architecture: Minnen et al. 2018 without the autoregressive context (CompressAI's ``mbt2018-mean``),
so decoding stays parallel. Variable rate comes from learned per-quality gain vectors on the latent
(Cui et al. 2021, "asymmetric gained VAE"): y is scaled by ``gain[q]`` before quantization and by
``inv_gain[q]`` before synthesis. All qualities share the transforms, so training compute is not
split across six or eight separate models, and the shipped weights are one model's size.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor, nn

from .layers import GDN, conv, deconv
from .priors import EntropyBottleneck, GaussianConditional

# Rate-distortion trade-offs of the shipped qualities (loss = lambda * 255^2 * MSE + bpp), the values
# CompressAI's models q1..q8 were trained with; quality i uses LAMBDAS[i - 1].
DEFAULT_LAMBDAS: tuple[float, ...] = (0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483, 0.0932, 0.1800)


@dataclass(frozen=True)
class ImageModelConfig:
    """Shape of the network; stored in the model card so weights and code always agree."""

    N: int = 128
    M: int = 192
    lambdas: tuple[float, ...] = field(default=DEFAULT_LAMBDAS)

    @property
    def num_qualities(self) -> int:
        return len(self.lambdas)

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["lambdas"] = list(self.lambdas)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> ImageModelConfig:
        lambdas = d.get("lambdas", DEFAULT_LAMBDAS)
        n, m = d["N"], d["M"]
        assert isinstance(lambdas, (list, tuple)) and isinstance(n, int) and isinstance(m, int)
        return cls(N=n, M=m, lambdas=tuple(float(v) for v in lambdas))


def _straight_through_round(x: Tensor) -> Tensor:
    """round(x) in the forward pass, identity in the backward pass."""
    return x + (torch.round(x) - x).detach()


class MeanScaleHyperprior(nn.Module):
    """g_a/g_s transforms, h_a/h_s hyper-transforms, factorized prior on z, Gaussian on y.

    Module names are CompressAI's (g_a, g_s, h_a, h_s, entropy_bottleneck, gaussian_conditional);
    ``gain``/``inv_gain`` are this project's variable-rate additions.
    """

    STRIDE = 64  # total down-sampling of z relative to the image: inputs are padded to a multiple

    def __init__(self, config: ImageModelConfig | None = None) -> None:
        super().__init__()
        self.config = config or ImageModelConfig()
        N, M = self.config.N, self.config.M
        self.g_a = nn.Sequential(
            conv(3, N), GDN(N), conv(N, N), GDN(N), conv(N, N), GDN(N), conv(N, M))
        self.g_s = nn.Sequential(
            deconv(M, N), GDN(N, inverse=True), deconv(N, N), GDN(N, inverse=True),
            deconv(N, N), GDN(N, inverse=True), deconv(N, 3))
        self.h_a = nn.Sequential(
            conv(M, N, stride=1, kernel_size=3), nn.LeakyReLU(inplace=True),
            conv(N, N), nn.LeakyReLU(inplace=True), conv(N, N))
        self.h_s = nn.Sequential(
            deconv(N, M), nn.LeakyReLU(inplace=True), deconv(M, M * 3 // 2), nn.LeakyReLU(inplace=True),
            conv(M * 3 // 2, M * 2, stride=1, kernel_size=3))
        self.entropy_bottleneck = EntropyBottleneck(N)
        self.gaussian_conditional = GaussianConditional()
        # Gains start at sqrt(lambda / lambda_mid): high-rate theory puts the optimal quantizer step
        # at ~1/sqrt(lambda), so every quality starts near its own rate instead of at the same one.
        lambdas = torch.tensor(self.config.lambdas, dtype=torch.float64)
        init = torch.sqrt(lambdas / lambdas[len(lambdas) // 2]).float()
        # Stored as logs so they stay positive under Adam.
        self.gain = nn.Parameter(init[:, None].repeat(1, M).log())
        self.inv_gain = nn.Parameter(-init[:, None].repeat(1, M).log())

    def gain_for(self, quality_index: Tensor) -> Tensor:
        """Gain vectors (B, M, 1, 1) for 0-based quality indices (B,)."""
        return torch.exp(self.gain[quality_index])[:, :, None, None]

    def inv_gain_for(self, quality_index: Tensor) -> Tensor:
        return torch.exp(self.inv_gain[quality_index])[:, :, None, None]

    def hyper_params(self, z_hat: Tensor) -> tuple[Tensor, Tensor]:
        """(scales, means) of y from the quantized hyper-latent."""
        scales, means = self.h_s(z_hat).chunk(2, dim=1)
        return scales, means

    def forward(self, x: Tensor, quality_index: Tensor) -> dict[str, Tensor]:
        """Training pass on images in [0, 1]: reconstruction and likelihoods of y and z.

        Mixed quantization: the rate terms see additive uniform noise (a differentiable proxy of
        rounding), while the synthesis sees rounded y - mu with a straight-through gradient, which is
        what the decoder will see at test time.
        """
        y = self.g_a(x).float() * self.gain_for(quality_index)
        # Under bf16 autocast the transforms run in bf16, but quantization and the rate terms must
        # not: bf16 keeps 8 significant bits, so a latent of 40 moves in steps of 0.25 and the unit
        # quantization noise, the rounding and the likelihoods would all be wrong. The hyper
        # transforms work at 1/16 of the resolution, so float32 costs little here.
        with torch.autocast(device_type=x.device.type, enabled=False):
            z = self.h_a(y)
            z_noisy = z + torch.empty_like(z).uniform_(-0.5, 0.5)
            z_lik = self.entropy_bottleneck.likelihood(z_noisy)
            scales, means = self.hyper_params(_straight_through_round(z))
            y_noisy = y + torch.empty_like(y).uniform_(-0.5, 0.5)
            y_lik = self.gaussian_conditional.likelihood(y_noisy - means, scales)
            y_hat = _straight_through_round(y - means) + means
        x_hat = self.g_s(y_hat * self.inv_gain_for(quality_index))
        return {"x_hat": x_hat, "y_likelihoods": y_lik, "z_likelihoods": z_lik}


def build_model(config: ImageModelConfig | None = None) -> MeanScaleHyperprior:
    return MeanScaleHyperprior(config)
