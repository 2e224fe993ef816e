"""The audio codec's optional adversary: multi-scale spectrogram discriminators and their losses.

Regression losses on magnitudes make a decoder predict the conditional mean, which smooths away
harmonic detail and noise texture; an adversary rewards magnitudes that look like real ones
instead. The decoder outputs STFT log-magnitudes and its phase comes from a phase vocoder that is
not differentiable, so the discriminators judge spectrograms, not waveforms (EnCodec's and DAC's
judge STFTs of the decoded waveform): one sub-discriminator sees the log-magnitude at full
frequency resolution, one the 80-band log-mel, one the log-mel at half the frame rate. Losses are
the hinge loss and feature matching (L1 between the discriminators' feature maps on real and
decoded spectrograms, each map's term divided by the mean magnitude of its real features), as in
EnCodec.

The discriminators train inside the task's loss step with their own Adam (the shared loop's
optimizer holds the codec's parameters only); their state travels in the loop's checkpoint through
the task's ``extra_state`` hooks, so an adversarial run resumes exactly like any other.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

CHANNELS = 16
LR = 1e-4
BETAS = (0.5, 0.9)


class SpectrogramDiscriminator(nn.Module):
    """2-D convolutions over (frequency, time); returns its feature maps, the last being the logits."""

    def __init__(self, channels: int = CHANNELS) -> None:
        super().__init__()
        c = channels
        self.layers = nn.ModuleList([
            nn.Conv2d(1, c, (3, 9), stride=(2, 1), padding=(1, 4)),
            nn.Conv2d(c, c, (3, 9), stride=(2, 2), padding=(1, 4)),
            nn.Conv2d(c, c, (3, 9), stride=(2, 2), padding=(1, 4)),
            nn.Conv2d(c, c, (3, 3), padding=(1, 1)),
        ])
        self.out = nn.Conv2d(c, 1, (3, 3), padding=(1, 1))

    def forward(self, spec: Tensor) -> list[Tensor]:
        x = spec[:, None]
        features = []
        for layer in self.layers:
            x = F.leaky_relu(layer(x), 0.2)
            features.append(x)
        features.append(self.out(x))
        return features


class MultiScaleDiscriminator(nn.Module):
    """Sub-discriminators on the log-magnitude, the log-mel and the log-mel at half the frame rate."""

    mel: Tensor

    def __init__(self, mel_bank: Tensor) -> None:
        super().__init__()
        self.register_buffer("mel", mel_bank, persistent=False)
        self.subs = nn.ModuleList([SpectrogramDiscriminator() for _ in range(3)])

    def views(self, log_mag: Tensor) -> list[Tensor]:
        """The three spectrograms judged, normalised to a comparable range."""
        log_mag = log_mag.float().clamp_min(-9.2)  # log(1e-4): below is inaudible detail
        log_mel = torch.log((self.mel @ log_mag.exp()).clamp_min(1e-4))
        return [log_mag / 4.0, log_mel / 4.0, F.avg_pool1d(log_mel, 2) / 4.0]

    def forward(self, log_mag: Tensor) -> list[list[Tensor]]:
        return [sub(view) for sub, view in zip(self.subs, self.views(log_mag), strict=True)]


class Adversary:
    """The discriminators, their optimizer, and the two sides of the game."""

    def __init__(self, mel_bank: Tensor, device: str | torch.device) -> None:
        self.net = MultiScaleDiscriminator(mel_bank).to(device)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=LR, betas=BETAS)

    def step(self, real_log_mag: Tensor, fake_log_mag: Tensor) -> float:
        """One discriminator update (hinge loss) on detached spectrograms; returns its loss."""
        self.net.train()
        real = self.net(real_log_mag.detach())
        fake = self.net(fake_log_mag.detach())
        loss = sum(F.relu(1 - r[-1]).mean() + F.relu(1 + f[-1]).mean() for r, f in zip(real, fake, strict=True))
        assert isinstance(loss, Tensor)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach()) / len(real)

    def generator_terms(self, real_log_mag: Tensor, fake_log_mag: Tensor) -> dict[str, Tensor]:
        """Per-sample hinge adversarial loss and feature-matching loss for the codec's update.

        The discriminators' parameters get gradients from this too; :meth:`step` clears them
        before it uses them, and the loop's optimizer never sees them."""
        with torch.no_grad():
            real = self.net(real_log_mag)
        fake = self.net(fake_log_mag)
        adv = sum(F.relu(1 - f[-1]).mean(dim=(1, 2, 3)) for f in fake)
        fm = sum((ff - rf).abs().mean(dim=(1, 2, 3)) / rf.abs().mean().clamp_min(1e-6)
                 for r, f in zip(real, fake, strict=True) for rf, ff in zip(r[:-1], f[:-1], strict=True))
        assert isinstance(adv, Tensor) and isinstance(fm, Tensor)
        layers = sum(len(f) - 1 for f in fake)
        return {"adv": adv / len(fake), "fm": fm / layers}

    def state_dict(self) -> dict[str, Any]:
        return {"net": self.net.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
