"""The audio codec's networks: STFT front end, ConvNeXt encoder, residual VQ, ConvNeXt decoder, iSTFT head.

Why this shape (see docs/AUDIO.md for the measurements):

* A fixed time-frequency front end (the complex STFT, magnitude-compressed) hands the encoder a
  representation in which speech is already sparse, so a few thousand CPU steps learn what a
  strided waveform encoder needs hundreds of thousands for.
* The decoder predicts STFT log-magnitudes only; a phase vocoder (:mod:`.phase`, group delay) gives
  them a phase and an inverse STFT makes samples. No transposed-convolution upsampling to the
  sample rate and no phase to learn: a regression the network learns in thousands of steps, and a
  decoder far faster than real time on a CPU (a learned phase head, Vocos', needs an adversary).
* ConvNeXt blocks (depth-wise temporal convolution + pointwise MLP) run partly at the 100 Hz STFT
  frame rate and partly at the 50 Hz latent rate (half the cost); one stride-2 convolution each way
  links the two. The residual VQ codes the 50 Hz latent with 10-bit codebooks: 0.5 kbps per
  codebook, so 1.5 / 3 / 6 / 12 kbps are 3 / 6 / 12 / 24 codebooks.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .quantizer import ResidualVQ


@dataclass
class AudioModelConfig:
    """Architecture and rate settings; stored in the model card and the weights file."""

    sample_rate: int = 16000
    n_fft: int = 640
    hop: int = 160
    latent_stride: int = 2  # STFT frames per latent frame
    dim: int = 256
    mlp_ratio: int = 3
    # ConvNeXt blocks at (the STFT frame rate, the latent frame rate): the coarse blocks cost half
    encoder_blocks: list[int] = field(default_factory=lambda: [2, 4])
    decoder_blocks: list[int] = field(default_factory=lambda: [4, 4])
    n_codebooks: int = 24
    codebook_size: int = 1024
    code_dim: int = 8
    bitrates_kbps: list[float] = field(default_factory=lambda: [1.5, 3.0, 6.0, 12.0])

    @property
    def samples_per_frame(self) -> int:
        """Samples per latent frame (320 at the defaults: 50 frames per second at 16 kHz)."""
        return self.hop * self.latent_stride

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.samples_per_frame

    @property
    def kbps_per_codebook(self) -> float:
        return self.frame_rate * (self.codebook_size.bit_length() - 1) / 1000.0

    def codebooks_for(self, kbps: float) -> int:
        """Codebooks whose fixed-width rate is ``kbps`` (entropy coding then spends less)."""
        return max(1, min(self.n_codebooks, round(kbps / self.kbps_per_codebook)))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AudioModelConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown audio model settings: {', '.join(sorted(unknown))}")
        return cls(**d)


class ChannelNorm(nn.Module):
    """LayerNorm over the channel axis of (B, C, T)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x.transpose(1, 2)).transpose(1, 2)


class ConvNeXtBlock(nn.Module):
    """Depth-wise conv (k=7) -> LayerNorm -> MLP, with a residual and a learned layer scale."""

    def __init__(self, dim: int, mlp_ratio: int, layer_scale: float) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim)
        self.pw1 = nn.Linear(dim, dim * mlp_ratio)
        self.pw2 = nn.Linear(dim * mlp_ratio, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: Tensor) -> Tensor:
        h = self.dwconv(x).transpose(1, 2)
        h = self.pw2(F.gelu(self.pw1(self.norm(h))))
        return x + (self.gamma * h).transpose(1, 2)


def stft_features(x: Tensor, n_fft: int, hop: int) -> Tensor:
    """(B, 3 * (n_fft/2 + 1), frames) encoder input: log-magnitude plus compressed real and imaginary parts.

    The compressed parts (magnitude^0.3 with the phase kept) carry the phase that the waveform
    terms of the loss reward; the log-magnitude carries quiet detail the compression squeezes.
    ``frames`` is ``len / hop`` (the centred STFT's extra last frame is dropped).
    """
    window = torch.hann_window(n_fft, device=x.device, dtype=torch.float32)
    spec = torch.stft(x.float(), n_fft, hop, window=window, center=True, return_complex=True)[..., :-1]
    mag = spec.abs().clamp_min(1e-7)
    compressed = spec * (mag.pow(0.3) / mag)
    return torch.cat([torch.log(mag), compressed.real, compressed.imag], dim=1)


def _blocks(c: AudioModelConfig, count: int, total: int) -> nn.Sequential:
    return nn.Sequential(*(ConvNeXtBlock(c.dim, c.mlp_ratio, 1.0 / max(total, 1)) for _ in range(count)))


class AudioEncoder(nn.Module):
    def __init__(self, c: AudioModelConfig) -> None:
        super().__init__()
        bins = c.n_fft // 2 + 1
        self.n_fft, self.hop = c.n_fft, c.hop
        fine, coarse = c.encoder_blocks
        self.stem = nn.Conv1d(3 * bins, c.dim, 1)
        self.norm = ChannelNorm(c.dim)
        self.fine = _blocks(c, fine, fine + coarse)
        self.down = nn.Conv1d(c.dim, c.dim, 2 * c.latent_stride, stride=c.latent_stride,
                              padding=c.latent_stride // 2)
        self.coarse = _blocks(c, coarse, fine + coarse)
        self.out_norm = ChannelNorm(c.dim)

    def forward(self, x: Tensor) -> Tensor:
        """Waveforms (B, n), n a multiple of the latent frame, to latents (B, dim, n / samples_per_frame)."""
        h = self.fine(self.norm(self.stem(stft_features(x, self.n_fft, self.hop))))
        return self.out_norm(self.coarse(self.down(h)))


class MagnitudeHead(nn.Module):
    """Linear map from decoder features to the log-magnitude of every STFT bin."""

    def __init__(self, dim: int, n_fft: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, n_fft // 2 + 1)

    def forward(self, h: Tensor) -> Tensor:
        return self.proj(h.transpose(1, 2)).transpose(1, 2).float().clamp(LOG_MAG_FLOOR, LOG_MAG_CEILING)


LOG_MAG_FLOOR, LOG_MAG_CEILING = -12.0, 6.0  # natural-log magnitude range the head may predict


class AudioDecoder(nn.Module):
    """Latents (B, dim, frames) to log-magnitudes (B, n_fft/2 + 1, 2 * frames) on the STFT grid."""

    def __init__(self, c: AudioModelConfig) -> None:
        super().__init__()
        coarse, fine = c.decoder_blocks
        self.stem = nn.Conv1d(c.dim, c.dim, 7, padding=3)
        self.norm = ChannelNorm(c.dim)
        self.coarse = _blocks(c, coarse, coarse + fine)
        self.up = nn.ConvTranspose1d(c.dim, c.dim, 2 * c.latent_stride, stride=c.latent_stride,
                                     padding=c.latent_stride // 2)
        self.fine = _blocks(c, fine, coarse + fine)
        self.out_norm = ChannelNorm(c.dim)
        self.head = MagnitudeHead(c.dim, c.n_fft)

    def forward(self, z: Tensor) -> Tensor:
        h = self.up(self.coarse(self.norm(self.stem(z))))
        return self.head(self.out_norm(self.fine(h)))


def target_log_magnitude(x: Tensor, n_fft: int, hop: int) -> Tensor:
    """The log-magnitudes the decoder is trained to predict: the centred STFT's first n / hop frames."""
    window = torch.hann_window(n_fft, device=x.device, dtype=torch.float32)
    spec = torch.stft(x.float(), n_fft, hop, window=window, center=True, return_complex=True)[..., :-1]
    return torch.log(spec.abs().clamp_min(math.exp(LOG_MAG_FLOOR)))


class AudioCodecModel(nn.Module):
    """Encoder, residual VQ and decoder; ``forward`` is the training path with quantizer dropout."""

    def __init__(self, config: AudioModelConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = AudioEncoder(config)
        self.quantizer = ResidualVQ(config.dim, config.n_codebooks, config.codebook_size, config.code_dim)
        self.decoder = AudioDecoder(config)

    def forward(self, x: Tensor, n_active: Tensor) -> dict[str, Tensor]:
        """Predicted log-magnitudes of waveforms (B, n) with ``n_active[b]`` codebooks for sample b."""
        z = self.encoder(x)
        z_q, indices, commitment, codebook, latent = self.quantizer(z, n_active)
        return {"log_mag": self.decoder(z_q), "z": z, "indices": indices, "commitment": commitment,
                "codebook": codebook, "latent": latent}

    @torch.no_grad()
    def encode_codes(self, x: Tensor, n_codebooks: int) -> Tensor:
        """Codes (B, n_codebooks, frames) of waveforms (B, n)."""
        return self.quantizer.encode(self.encoder(x), n_codebooks)

    @torch.no_grad()
    def decode_log_magnitude(self, codes: Tensor, mask: Tensor | None = None) -> Tensor:
        """Log-magnitudes (B, bins, 2 * frames) from codes (B, k, frames), optionally masked per frame."""
        return self.decoder(self.quantizer.decode(codes, mask))

    @torch.no_grad()
    def decode_codes(self, codes: Tensor, length: int, mask: Tensor | None = None) -> Tensor:
        """Waveforms (B, length) from codes (B, k, frames) (each signal synthesised from its start)."""
        from .synthesis import synthesize

        c = self.config
        log_mag = self.decode_log_magnitude(codes, mask).cpu().numpy()
        return torch.from_numpy(np.stack([synthesize(m, c.n_fft, c.hop, length)[0] for m in log_mag]))


def build_model(config: AudioModelConfig | None = None) -> AudioCodecModel:
    return AudioCodecModel(config or AudioModelConfig())
