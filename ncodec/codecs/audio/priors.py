"""The audio codec's code priors: integer tables for a codebook's code given the previous frame's.

Residual-VQ codes are far from independent in time: on dev speech, a codebook's code given the
previous frame's code of the same codebook costs 7.0 instead of 9.3 bits for the first codebook,
and 3-8 % less for the later ones (docs/AUDIO.md has the table). A full 1,024 x 1,024 table per
codebook is too large to ship and too sparse to count, so the previous code is first mapped to one
of a few *context groups*: k-means clusters of the codebook's projected codewords (codes that
decode to nearby latents tend to be followed by the same codes). Each (codebook, group) gets a
frequency table, smoothed towards the codebook's unigram with a weight chosen on held-out training
segments; a window's first frame uses the unigram. Everything shipped is integers (group index per
code, frequency rows), so both sides compute the same context from decoded codes exactly.

Measured on the codes of the exported model, choices made on training audio only (dev is for the
report): contexts from the lower codebook of the same frame saved under 1 %, so only the previous
frame is used; 128 groups pay for the first three codebooks, 32 for the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ncodec.entropy import FrequencyTable

from .model import AudioCodecModel

EARLY_CODEBOOKS = 3  # codebooks that get EARLY_GROUPS context groups
EARLY_GROUPS = 128
LATER_GROUPS = 32
SMOOTHING = (30.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0)  # pseudo-counts of the unigram in a context row
HELD_OUT = 0.25  # share of the training segments that chooses the smoothing and reports the rate


def context_groups_for(codebook: int, codebook_size: int) -> int:
    """Context groups of a codebook (never more than it has codes)."""
    return min(codebook_size, EARLY_GROUPS if codebook < EARLY_CODEBOOKS else LATER_GROUPS)


@dataclass
class CodePriors:
    """What the weights file ships: (K, S+1) unigram rows, (groups, S+1) context rows, and (K, S)
    the context row of each codebook's every previous code."""

    code_freqs: np.ndarray
    context_freqs: np.ndarray
    context_index: np.ndarray
    report: dict[str, Any] = field(default_factory=dict)


@torch.no_grad()
def gather_codes(model: AudioCodecModel, segments: torch.Tensor, batch: int = 32) -> np.ndarray:
    """Codes (N, codebooks, frames) of every segment (N, samples), all codebooks."""
    k = model.config.n_codebooks
    parts = [model.encode_codes(segments[i:i + batch].float(), k).numpy() for i in range(0, len(segments), batch)]
    return np.concatenate(parts).astype(np.int64)


@torch.no_grad()
def codeword_groups(model: AudioCodecModel, codebook: int, n_groups: int, iterations: int = 30) -> np.ndarray:
    """Group (0..n_groups-1) of every code of ``codebook``: k-means over its projected codewords."""
    size = model.config.codebook_size
    words = model.quantizer.stage(codebook).lookup(torch.arange(size)[None]).double()[0].T.numpy()  # (S, dim)
    rng = np.random.default_rng(codebook)
    centres = words[rng.choice(size, n_groups, replace=False)].copy()
    assign = np.zeros(size, dtype=np.int64)
    for _ in range(iterations):
        distance = (centres**2).sum(1)[None, :] - 2.0 * words @ centres.T
        assign = distance.argmin(axis=1)
        for g in range(n_groups):
            members = assign == g
            if members.any():
                centres[g] = words[members].mean(axis=0)
    return assign


def _unigram(codes: np.ndarray, size: int) -> np.ndarray:
    counts = np.bincount(codes.reshape(-1), minlength=size).astype(np.float64) + 0.5
    return counts / counts.sum()


def _context_probs(codes: np.ndarray, groups: np.ndarray, n_groups: int, smoothing: float) -> np.ndarray:
    """(n_groups, S) probabilities of a code given its predecessor's group, from (N, frames) codes."""
    size = groups.size
    unigram = _unigram(codes, size)
    counts = np.zeros((n_groups, size))
    np.add.at(counts, (groups[codes[:, :-1]].reshape(-1), codes[:, 1:].reshape(-1)), 1.0)
    return (counts + smoothing * unigram[None]) / (counts.sum(axis=1, keepdims=True) + smoothing)


def _bits(codes: np.ndarray, first: np.ndarray, later: np.ndarray | None, groups: np.ndarray) -> float:
    """Ideal bits of (N, frames) codes: the first frame under ``first``, later ones in context."""
    bits = -np.log2(first[codes[:, 0]]).sum()
    if later is None:
        bits += -np.log2(first[codes[:, 1:]]).sum()
    else:
        bits += -np.log2(later[groups[codes[:, :-1]], codes[:, 1:]]).sum()
    return float(bits)


def _rows(probs: np.ndarray) -> np.ndarray:
    return np.stack([FrequencyTable.from_pmf(0, p, escape_mass=0.0).freqs for p in np.atleast_2d(probs)])


def fit_priors(model: AudioCodecModel, codes: np.ndarray) -> CodePriors:
    """Tables from training codes (N, K, frames); the report gives bits per code on held-out segments."""
    n, k_total, _ = codes.shape
    size = model.config.codebook_size
    split = n - max(1, int(n * HELD_OUT))
    code_rows, context_rows, index_rows = [], [], []
    fixed = unigram_bits = context_bits = 0.0
    count = 0
    chosen = []
    offset = 0
    for k in range(k_total):
        fit, test = codes[:split, k], codes[split:, k]
        n_groups = context_groups_for(k, size)
        groups = codeword_groups(model, k, n_groups)
        scores = [(_bits(test, _unigram(fit, size), _context_probs(fit, groups, n_groups, s), groups), s)
                  for s in SMOOTHING]
        held_bits, smoothing = min(scores)
        chosen.append(smoothing)
        unigram_bits += _bits(test, _unigram(fit, size), None, groups)
        context_bits += held_bits
        count += test.size
        code_rows.append(_rows(_unigram(codes[:, k], size))[0])
        context_rows.append(_rows(_context_probs(codes[:, k], groups, n_groups, smoothing)))
        index_rows.append(offset + groups)
        offset += n_groups
    fixed = float(np.log2(size))
    report = {"training_segments": int(n), "held_out_segments": int(n - split),
              "fixed_width_bits_per_code": fixed,
              "held_out_bits_per_code_unigram": round(unigram_bits / count, 3),
              "held_out_bits_per_code_in_context": round(context_bits / count, 3),
              "context_groups": [context_groups_for(k, size) for k in range(k_total)],
              "smoothing": chosen}
    return CodePriors(np.stack(code_rows).astype(np.int32), np.concatenate(context_rows).astype(np.int32),
                      np.stack(index_rows).astype(np.int32), report)
