"""Training task of the image codec: random crops, lambda-per-sample rate-distortion loss.

Each sample in a batch draws its own quality index, and its loss uses that quality's lambda, so one
step trains every rate of the variable-rate model at once.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ncodec.codecs.image.model import ImageModelConfig, MeanScaleHyperprior, build_model

from .config import TrainConfig
from .data import CropSampler, list_images, load_rgb

VAL_CROP = (384, 512)  # (H, W) centre crop of each dev image: a multiple of 64, cheap on a CPU


def rate_distortion(out: dict[str, Tensor], x: Tensor, lambdas: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Per-sample (loss, bpp, mse): loss = lambda * 255^2 * MSE + bits per pixel."""
    num_pixels = x.shape[2] * x.shape[3]
    bits = (-torch.log2(out["y_likelihoods"].float())).flatten(1).sum(1)
    bits = bits + (-torch.log2(out["z_likelihoods"].float())).flatten(1).sum(1)
    bpp = bits / num_pixels
    mse = (out["x_hat"].float() - x.float()).pow(2).flatten(1).mean(1)
    return lambdas * (255.0**2) * mse + bpp, bpp, mse


class ImageTrainTask:
    """Plugs the mean-scale hyperprior into :func:`ncodec.train.loop.train`."""

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.model_config = ImageModelConfig.from_dict(config.model) if config.model else ImageModelConfig()
        self.sampler: CropSampler | None = None
        self._val_images: list[Tensor] | None = None

    def build_model(self) -> nn.Module:
        model = build_model(self.model_config)
        if self.config.init_from:
            from ncodec.codecs.image.weights import load_state_dict_file

            model.load_state_dict(load_state_dict_file(self.config.init_from), strict=True)
        return model

    def setup_data(self, device: str) -> None:
        # The GPU profile keeps every training image in device memory; the CPU profile keeps them in RAM.
        self.sampler = CropSampler.from_dirs(self.config.data_dirs, self.config.crop,
                                             device=device if self.config.profile == "gpu" else "cpu")

    def batch(self, generator: torch.Generator, device: str) -> Tensor:
        assert self.sampler is not None, "setup_data() first"
        return self.sampler.batch(self.config.batch_size, generator).to(device, non_blocking=True)

    def loss(self, model: nn.Module, batch: Tensor, generator: torch.Generator) -> tuple[Tensor, dict[str, float]]:
        q = torch.randint(0, self.model_config.num_qualities, (batch.shape[0],), generator=generator)
        lambdas = torch.tensor(self.model_config.lambdas, dtype=torch.float32)[q].to(batch.device)
        out = model(batch, q.to(batch.device))
        loss, bpp, mse = rate_distortion(out, batch, lambdas)
        psnr = 10 * torch.log10(1.0 / mse.detach().clamp_min(1e-10))
        return loss.mean(), {"loss": float(loss.detach().mean()), "bpp": float(bpp.detach().mean()),
                             "psnr": float(psnr.mean())}

    def _load_val(self) -> list[Tensor]:
        if self._val_images is None:
            images = []
            if self.config.val_dir and Path(self.config.val_dir).is_dir():
                for path in list_images([self.config.val_dir]):
                    im = load_rgb(path)
                    h, w = VAL_CROP
                    if im.shape[0] < h or im.shape[1] < w:
                        continue
                    top, left = (im.shape[0] - h) // 2, (im.shape[1] - w) // 2
                    crop = np.ascontiguousarray(im[top:top + h, left:left + w])
                    images.append(torch.from_numpy(crop).permute(2, 0, 1).float().div(255.0)[None])
            self._val_images = images
        return self._val_images

    @torch.no_grad()
    def validate(self, model: nn.Module) -> dict[str, float]:
        """Estimated bpp and PSNR with hard rounding, at the lowest, middle and highest quality."""
        images = self._load_val()
        if not images:
            return {}
        assert isinstance(model, MeanScaleHyperprior)
        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        results: dict[str, float] = {}
        n_q = self.model_config.num_qualities
        for qi in sorted({0, n_q // 2, n_q - 1}):
            bpps, psnrs = [], []
            for x in images:
                x = x.to(device)
                est = estimate(model, x, qi)
                bpps.append(est[0])
                psnrs.append(est[1])
            results[f"q{qi + 1}_bpp"] = float(np.mean(bpps))
            results[f"q{qi + 1}_psnr"] = float(np.mean(psnrs))
        model.train(was_training)
        return results

    def export(self, model: nn.Module, out_dir: str, summary: dict[str, object]) -> list[str]:
        from ncodec.codecs.image.export import export_image_model

        assert isinstance(model, MeanScaleHyperprior)
        return export_image_model(model, self.config, out_dir, summary,
                                  calibration_images=calibration_images(self.config.val_dir))


def calibration_images(folder: str | None) -> list[np.ndarray]:
    """Held-out photos for the export's scale calibration, cropped to multiples of 64."""
    if not folder or not Path(folder).is_dir():
        return []
    out = []
    for path in list_images([folder]):
        im = load_rgb(path)
        h, w = (im.shape[0] // 64) * 64, (im.shape[1] // 64) * 64
        if h and w:
            out.append(np.ascontiguousarray(im[:h, :w]))
    return out


@torch.no_grad()
def estimate(model: MeanScaleHyperprior, x: Tensor, quality_index: int) -> tuple[float, float]:
    """(estimated bpp, PSNR) of one image with hard rounding, as the codec would code it."""
    q = torch.tensor([quality_index], device=x.device)
    y = model.g_a(x) * model.gain_for(q)
    z_hat = torch.round(model.h_a(y))
    scales, means = model.hyper_params(z_hat)
    y_hat = torch.round(y - means) + means
    bits = -torch.log2(model.gaussian_conditional.likelihood(y_hat - means, scales)).sum()
    bits = bits - torch.log2(model.entropy_bottleneck.likelihood(z_hat)).sum()
    x_hat = model.g_s(y_hat * model.inv_gain_for(q)).clamp(0, 1)
    mse = float((x_hat - x).pow(2).mean())
    return float(bits) / (x.shape[2] * x.shape[3]), 10 * math.log10(1.0 / max(mse, 1e-10))
