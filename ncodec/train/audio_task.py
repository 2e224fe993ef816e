"""Training task of the audio codec: random speech/music segments, magnitude losses, RVQ terms.

The decoder predicts STFT log-magnitudes (its phase comes from a phase vocoder at decoding, see
``ncodec.codecs.audio.phase``), so the reconstruction terms compare predicted and true magnitudes
directly, on the decoder's own STFT grid, with no inverse STFT in the training step:
``15 * log-mel L1 (80 bands, log10) + 15 * power-law compressed magnitude MSE (|X|^0.3)
+ 1 * log-magnitude L1 + 0.25 * commitment + 1 * codebook + 1 * relative latent error``
(defaults; ``TrainConfig.loss`` overrides them). Weighting ``adv`` or ``fm`` adds spectrogram
discriminators and their hinge and feature-matching terms (:mod:`.audio_adversary`). The compressed magnitude term is the one speech
enhancement found to track PESQ; the latent error makes each codebook refine the last (see
``ResidualVQ.forward``). Each sample draws its number of active codebooks from the offered bitrates (quantizer
dropout), so one step trains every rate.

History, measured on dev speech: a decoder that predicted magnitude and phase, trained with
multi-scale mel, multi-resolution STFT, compressed complex STFT and waveform terms, stayed at
PESQ-wb 1.1 with half the input's energy after 2,400 steps: without an adversary its phase did not
become coherent. The first 2,400 steps of the shipped model were trained that way (model card).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ncodec.codecs.audio.model import AudioCodecModel, AudioModelConfig, build_model, target_log_magnitude

from .audio_adversary import Adversary
from .audio_data import SegmentSampler, list_audio, load_mono
from .config import TrainConfig

MEL_BANDS = 80
COMPRESSION = 0.3
LOSS_FLOOR = math.log(1e-4)  # log-magnitudes below this count as this (inaudible detail)
WEIGHTS = {"mel": 15.0, "cmag": 15.0, "logmag": 1.0, "commitment": 0.25, "codebook": 1.0, "latent": 1.0,
           "adv": 0.0, "fm": 0.0}  # adversary off unless a recipe weights it (see audio_adversary)
RESTART_EVERY = 100  # steps between dead-code restarts
VAL_SECONDS = 8.0  # each dev clip's first seconds: bounds validation time


class MagnitudeLosses(nn.Module):
    """Per-sample log-mel L1, compressed-magnitude MSE and log-magnitude L1 of predicted log-magnitudes."""

    mel: Tensor

    def __init__(self, config: AudioModelConfig) -> None:
        super().__init__()
        from ncodec.eval.metrics import mel_filterbank

        self.n_fft, self.hop = config.n_fft, config.hop
        bank = np.asarray(mel_filterbank(config.sample_rate, config.n_fft, MEL_BANDS), dtype=np.float32)
        self.register_buffer("mel", torch.from_numpy(bank), persistent=False)

    def forward(self, log_mag: Tensor, x: Tensor) -> dict[str, Tensor]:
        target = target_log_magnitude(x, self.n_fft, self.hop)
        pred = log_mag.float()
        mel_pred = torch.log10((self.mel @ pred.exp()).clamp_min(1e-5))
        mel_true = torch.log10((self.mel @ target.exp()).clamp_min(1e-5))
        cmag = (torch.exp(COMPRESSION * pred) - torch.exp(COMPRESSION * target)).pow(2)
        logmag = (pred.clamp_min(LOSS_FLOOR) - target.clamp_min(LOSS_FLOOR)).abs()
        return {"mel": (mel_pred - mel_true).abs().mean(dim=(1, 2)), "cmag": cmag.mean(dim=(1, 2)),
                "logmag": logmag.mean(dim=(1, 2))}


class AudioTrainTask:
    """Plugs the RVQ audio codec into :func:`ncodec.train.loop.train`."""

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.model_config = AudioModelConfig.from_dict(config.model) if config.model else AudioModelConfig()
        self.sampler: SegmentSampler | None = None
        self.losses: MagnitudeLosses | None = None
        self._val: list[tuple[str, np.ndarray]] | None = None
        self._calls = 0
        self.weights = {**WEIGHTS, **config.loss}
        self.adversary: Adversary | None = None

    @property
    def segment(self) -> int:
        frame = self.model_config.samples_per_frame
        return max(frame, round(self.config.crop / frame) * frame)

    def build_model(self) -> nn.Module:
        model = build_model(self.model_config)
        if self.config.init_from:
            from ncodec.codecs.weights import load_state_dict_file

            if self.config.init_from.endswith(".pt"):  # a training checkpoint of an earlier stage
                state = torch.load(self.config.init_from, map_location="cpu", weights_only=True)["model"]
            else:
                state = load_state_dict_file(self.config.init_from)
            model.load_state_dict(state, strict=True)
        return model

    def setup_data(self, device: str) -> None:
        self.sampler = SegmentSampler.from_dirs(self.config.data_dirs, self.model_config.sample_rate, self.segment,
                                                device=device if self.config.profile == "gpu" else "cpu")
        self.losses = MagnitudeLosses(self.model_config).to(device)
        if self.weights["adv"] > 0 or self.weights["fm"] > 0:
            self.adversary = Adversary(self.losses.mel, device)

    def batch(self, generator: torch.Generator, device: str) -> Tensor:
        assert self.sampler is not None, "setup_data() first"
        return self.sampler.batch(self.config.batch_size, generator).to(device, non_blocking=True)

    def active_codebooks(self, batch_size: int, generator: torch.Generator) -> Tensor:
        """Codebooks per sample, drawn uniformly from the offered bitrates (quantizer dropout)."""
        choices = torch.tensor([self.model_config.codebooks_for(k) for k in self.model_config.bitrates_kbps])
        return choices[torch.randint(0, len(choices), (batch_size,), generator=generator)]

    def loss(self, model: nn.Module, batch: Tensor, generator: torch.Generator) -> tuple[Tensor, dict[str, float]]:
        assert self.losses is not None
        n_active = self.active_codebooks(batch.shape[0], generator).to(batch.device)
        out = model(batch, n_active)
        terms = self.losses(out["log_mag"], batch)
        terms.update({"commitment": out["commitment"], "codebook": out["codebook"], "latent": out["latent"]})
        core = _core(model)
        d_loss = None
        if self.adversary is not None and core.training:
            target = target_log_magnitude(batch, self.model_config.n_fft, self.model_config.hop)
            d_loss = self.adversary.step(target, out["log_mag"])
            terms.update(self.adversary.generator_terms(target, out["log_mag"]))
        loss = sum(self.weights[k] * v.mean() for k, v in terms.items())
        assert isinstance(loss, Tensor)
        self._calls += 1
        if core.training and self._calls % RESTART_EVERY == 0 and not torch.distributed.is_initialized():
            core.quantizer.restart_dead_codes(out["z"], generator)
        metrics = {"loss": float(loss.detach())}
        metrics.update({k: float(v.detach().mean()) for k, v in terms.items()
                        if k in ("mel", "cmag", "logmag", "latent", "adv", "fm")})
        if d_loss is not None:
            metrics["disc"] = d_loss
        return loss, metrics

    def extra_state(self) -> dict[str, object]:
        return {"adversary": self.adversary.state_dict()} if self.adversary is not None else {}

    def load_extra_state(self, state: dict[str, object]) -> None:
        saved = state.get("adversary")
        if self.adversary is not None and isinstance(saved, dict):
            self.adversary.load_state_dict(saved)

    def _load_val(self) -> list[tuple[str, np.ndarray]]:
        if self._val is None:
            clips = []
            if self.config.val_dir and Path(self.config.val_dir).is_dir():
                rate = self.model_config.sample_rate
                for path in list_audio([self.config.val_dir]):
                    clips.append((path.name, load_mono(path, rate)[: int(VAL_SECONDS * rate)]))
            self._val = clips
        return self._val

    @torch.no_grad()
    def validate(self, model: nn.Module) -> dict[str, float]:
        """Log-mel distance (the eval harness' metric) per bitrate on the dev speech and music."""
        from ncodec.eval.metrics import log_mel_distance

        clips = self._load_val()
        if not clips:
            return {}
        core = _core(model)
        was_training = core.training
        core.eval()
        device = next(core.parameters()).device
        rate = self.model_config.sample_rate
        results: dict[str, float] = {}
        for kbps in self.model_config.bitrates_kbps:
            k = self.model_config.codebooks_for(kbps)
            scores: dict[str, list[float]] = {"speech": [], "music": []}
            for name, samples in clips:
                y = reconstruct(core, samples, k, device)
                scores["music" if name.startswith("music") else "speech"].append(log_mel_distance(samples, y, rate))
            for kind, values in scores.items():
                if values:
                    results[f"{kind}_{kbps:g}k_mel"] = float(np.mean(values))
        core.train(was_training)
        return results

    def export(self, model: nn.Module, out_dir: str, summary: dict[str, object]) -> list[str]:
        from ncodec.codecs.audio.export import export_audio_model

        core = _core(model)
        return export_audio_model(core, self.config, out_dir, summary, self.sampler)


def _core(model: nn.Module) -> AudioCodecModel:
    inner = getattr(model, "module", model)
    inner = getattr(inner, "_orig_mod", inner)
    assert isinstance(inner, AudioCodecModel)
    return inner


@torch.no_grad()
def reconstruct(model: AudioCodecModel, samples: np.ndarray, n_codebooks: int, device: str | torch.device) -> np.ndarray:
    """One mono clip through the model with ``n_codebooks`` codebooks (padded to whole frames)."""
    frame = model.config.samples_per_frame
    n = samples.size
    padded = max(frame, math.ceil(n / frame) * frame)
    x = torch.zeros(1, padded, device=device)
    x[0, :n] = torch.from_numpy(np.asarray(samples, dtype=np.float32)).to(device)
    codes = model.encode_codes(x, n_codebooks)
    return model.decode_codes(codes, padded)[0, :n].float().cpu().numpy()
