"""Residual vector quantization with low-rank codebooks searched in the latent space.

Each of the K stages holds 1,024 codewords of 8 dimensions that one linear map projects into the
256-dimensional latent (a codebook of rank 8, as DAC factorises its lookups); the nearest projected
codeword to the residual (Euclidean) is the stage's code, and the next stage quantises what is left.
A codebook loss pulls the chosen projected codewords towards the residuals they stand for (k-means
by gradient), a commitment loss pulls the encoder the other way, and codewords that fall out of use
are re-seeded from the batch (see :meth:`ResidualVQ.restart_dead_codes`). Quantizer dropout trains
the first k stages alone for a random k per sample, so one model serves every bitrate.

Why not DAC's cosine lookup in the 8-dimensional space: measured here over 2,400 steps, its stages
did not shrink the residual (the quantized latent drifted further from the latent with each stage
added) and 24 codebooks decoded no better than 3; searching the projected codewords by distance to
the residual makes every stage reduce the error by construction.
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class FactorizedVQ(nn.Module):
    """One stage: 8-dimensional codewords, projected to the latent, chosen by distance to the residual."""

    usage: Tensor

    def __init__(self, dim: int, codebook_size: int, code_dim: int) -> None:
        super().__init__()
        self.out_proj = nn.Conv1d(code_dim, dim, 1)
        self.codebook = nn.Embedding(codebook_size, code_dim)
        # Codes used since the last restart check (a buffer, so it follows the module's device).
        self.register_buffer("usage", torch.zeros(codebook_size), persistent=False)

    def codes(self, residual: Tensor) -> Tensor:
        """Indices (B, T) of the projected codewords nearest to a residual (B, dim, T).

        With codewords ``W c + b``, ``|r - W c - b|^2 = |r - b|^2 - 2 ((r - b)^T W) c + c^T (W^T W) c``;
        the first term is common to every codeword, so the search runs in the 8-dimensional code
        space: 32 times fewer operations than comparing 256-dimensional vectors.
        """
        weight = self.out_proj.weight[:, :, 0].float()  # (dim, code_dim)
        bias = self.out_proj.bias
        book = self.codebook.weight.float()
        r = residual.transpose(1, 2).reshape(-1, residual.shape[1]).float()
        if bias is not None:
            r = r - bias.float()[None, :]
        norms = ((book @ (weight.t() @ weight)) * book).sum(1)
        distance = norms[None, :] - 2.0 * ((r @ weight) @ book.t())
        return distance.argmin(dim=1).view(residual.shape[0], residual.shape[2])

    def lookup(self, indices: Tensor) -> Tensor:
        """Projected codewords of ``indices`` (B, T): (B, dim, T)."""
        return F.linear(self.codebook(indices), self.out_proj.weight[:, :, 0], self.out_proj.bias).transpose(1, 2)

    def forward(self, residual: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(quantized (B, dim, T), indices, commitment loss, codebook loss), each loss per sample."""
        with torch.no_grad():
            indices = self.codes(residual)
        z_q = self.lookup(indices).to(residual.dtype)
        commitment = (residual - z_q.detach()).float().pow(2).mean(dim=(1, 2))
        codebook = (z_q - residual.detach()).float().pow(2).mean(dim=(1, 2))
        if self.training:
            self.usage += torch.bincount(indices.flatten(), minlength=self.usage.numel()).to(self.usage)
        return residual + (z_q - residual).detach(), indices, commitment, codebook  # straight-through


class ResidualVQ(nn.Module):
    """K factorised stages applied to successive residuals; ``n_active`` stages per sample."""

    def __init__(self, dim: int, n_codebooks: int, codebook_size: int, code_dim: int) -> None:
        super().__init__()
        self.stages = nn.ModuleList(FactorizedVQ(dim, codebook_size, code_dim) for _ in range(n_codebooks))
        self.codebook_size = codebook_size

    def stage(self, k: int) -> FactorizedVQ:
        return cast(FactorizedVQ, self.stages[k])

    @property
    def n_codebooks(self) -> int:
        return len(self.stages)

    def forward(self, z: Tensor, n_active: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """Quantize latents (B, dim, T) with ``n_active[b]`` stages for sample b.

        Returns (quantized latents, indices (B, K, T), commitment loss, codebook loss, latent
        error), the first two losses averaged over each sample's active stages, the last the
        squared error of the quantized latent relative to the latent's energy. The latent error
        is what makes every further stage reduce the residual: the stages' projections are
        otherwise trained only through the decoder, and measured that way (2,400 steps) the
        quantized latent drifted further from the latent with every stage added, and 24
        codebooks decoded no better than 3.
        """
        residual = z
        out = torch.zeros_like(z)
        commitment = z.new_zeros(z.shape[0], dtype=torch.float32)
        codebook = z.new_zeros(z.shape[0], dtype=torch.float32)
        all_indices = []
        for k in range(self.n_codebooks):
            stage = self.stage(k)
            active = (n_active > k).to(z.dtype)
            if not bool(active.any()):
                all_indices.append(torch.zeros(z.shape[0], z.shape[2], dtype=torch.long, device=z.device))
                continue
            z_q, indices, c_loss, b_loss = stage(residual)
            out = out + z_q * active[:, None, None]
            residual = residual - z_q.detach() * active[:, None, None]
            commitment = commitment + c_loss * active.float()
            codebook = codebook + b_loss * active.float()
            all_indices.append(indices)
        counts = n_active.clamp_min(1).float()
        target = z.detach().float()
        latent = (target - out.float()).pow(2).mean(dim=(1, 2)) / target.pow(2).mean(dim=(1, 2)).clamp_min(1e-8)
        return out, torch.stack(all_indices, dim=1), commitment / counts, codebook / counts, latent

    @torch.no_grad()
    def encode(self, z: Tensor, n_active: int) -> Tensor:
        """Indices (B, n_active, T) of the first ``n_active`` stages."""
        residual = z
        indices = []
        for k in range(n_active):
            stage = self.stage(k)
            idx = stage.codes(residual)
            residual = residual - stage.lookup(idx)
            indices.append(idx)
        return torch.stack(indices, dim=1)

    @torch.no_grad()
    def decode(self, indices: Tensor, mask: Tensor | None = None) -> Tensor:
        """Latents from indices (B, k, T) of the first k stages.

        ``mask`` (B, k, T) of 0/1 leaves out the stages it zeroes, frame by frame (a codebook
        coded for only some frames).
        """
        out = None
        for k in range(indices.shape[1]):
            part = self.stage(k).lookup(indices[:, k])
            if mask is not None:
                part = part * mask[:, k, None, :].to(part.dtype)
            out = part if out is None else out + part
        assert out is not None, "at least one stage"
        return out

    @torch.no_grad()
    def restart_dead_codes(self, z: Tensor, generator: torch.Generator, min_uses: float = 1.0) -> int:
        """Re-seed codewords used fewer than ``min_uses`` times since the last call; returns how many.

        Each dead codeword is set to the least-squares preimage, under its stage's projection, of a
        random residual from ``z`` (B, dim, T) at that stage, so it starts where the data is.
        Usage counters restart afterwards.
        """
        restarted = 0
        residual = z.detach().float()
        for k in range(self.n_codebooks):
            stage = self.stage(k)
            idx = stage.codes(residual)
            dead = torch.nonzero(stage.usage < min_uses).flatten()
            if dead.numel():
                pool = residual.transpose(1, 2).reshape(-1, residual.shape[1])
                picks = torch.randint(0, pool.shape[0], (dead.numel(),), generator=generator).to(pool.device)
                weight = stage.out_proj.weight[:, :, 0].float()  # (dim, code_dim)
                bias = stage.out_proj.bias
                targets = pool[picks] - (0.0 if bias is None else bias.float()[None, :])
                words = torch.linalg.lstsq(weight, targets.t()).solution.t()
                stage.codebook.weight.data[dead] = words.to(stage.codebook.weight.dtype)
                restarted += int(dead.numel())
            stage.usage.zero_()
            residual = residual - stage.lookup(idx).float()
        return restarted
