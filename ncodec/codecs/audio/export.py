"""Export a trained audio model: fp16 safetensors with the code priors, plus a model card.

The code priors are integer frequency tables, two per codebook, counted from the codes the exported
(fp16-rounded) model gives on training audio: one for a window's first frame, and one for every
later frame over the codes plus a "same as the frame before" symbol (a codebook's code repeats
from one 20 ms frame to the next; the card records how often on the training audio). Counts get
add-half smoothing so that every code stays codable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

from ncodec.codecs.weights import TABLE_PREFIX, sha256_file, training_record, write_card
from ncodec.entropy import FrequencyTable

from .model import AudioCodecModel

WEIGHTS_NAME = "audio_rvq.safetensors"
CARD_NAME = "audio_rvq.json"
PRIOR_SEGMENTS = 512  # one-second training segments whose codes are counted for the priors


@torch.no_grad()
def code_histograms(model: AudioCodecModel, segments: torch.Tensor, batch: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Counts over ``segments`` (N, n) of every codebook's codes, (codebooks, size), and of the
    symbols of later frames, (codebooks, size + 1), where value ``size`` stands for "repeats the
    code of the frame before" (the substitution the codec codes with)."""
    c = model.config
    counts = np.zeros((c.n_codebooks, c.codebook_size), dtype=np.int64)
    later = np.zeros((c.n_codebooks, c.codebook_size + 1), dtype=np.int64)
    for start in range(0, segments.shape[0], batch):
        codes = model.encode_codes(segments[start:start + batch].float(), c.n_codebooks).numpy()
        for k in range(c.n_codebooks):
            row = codes[:, k]
            counts[k] += np.bincount(row.reshape(-1), minlength=c.codebook_size)
            symbols = np.where(row[:, 1:] == row[:, :-1], c.codebook_size, row[:, 1:])
            later[k] += np.bincount(symbols.reshape(-1), minlength=c.codebook_size + 1)
    return counts, later


def code_tables(counts: np.ndarray) -> np.ndarray:
    """Integer frequency rows (codebooks, values + 1): smoothed counts, then the escape entry."""
    rows = [FrequencyTable.from_pmf(0, row.astype(np.float64) + 0.5, escape_mass=0.0).freqs for row in counts]
    return np.stack(rows).astype(np.int32)


def prior_segments(sampler: Any, count: int = PRIOR_SEGMENTS, seed: int = 12345) -> torch.Tensor:
    """Training segments for the priors, drawn reproducibly from a :class:`SegmentSampler`."""
    generator = torch.Generator().manual_seed(seed)
    return torch.cat([sampler.batch(64, generator).cpu() for _ in range(max(1, count // 64))])


def export_audio_model(model: AudioCodecModel, train_config: Any, out_dir: str | Path, summary: dict[str, object],
                       sampler: Any, card_extra: dict[str, Any] | None = None) -> list[str]:
    """Write ``audio_rvq.safetensors`` and ``audio_rvq.json`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = model.cpu().eval()
    half = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    rounded = AudioCodecModel(model.config).eval()
    rounded.load_state_dict({k: v.float() for k, v in half.items()})
    segments = prior_segments(sampler)
    counts, later = code_histograms(rounded, segments)
    tensors: dict[str, torch.Tensor] = dict(half)
    tensors[TABLE_PREFIX + "code_freqs"] = torch.from_numpy(code_tables(counts))
    tensors[TABLE_PREFIX + "repeat_freqs"] = torch.from_numpy(code_tables(later))
    weights_path = out / WEIGHTS_NAME
    save_file(tensors, str(weights_path), metadata={"format": "ncodec-audio-rvq-v1",
                                                    "config": json.dumps(model.config.to_dict(), sort_keys=True)})
    probs = (counts + 0.5) / (counts + 0.5).sum(axis=1, keepdims=True)
    entropy_bits = float(-(probs * np.log2(probs)).sum(axis=1).mean())
    later_probs = (later + 0.5) / (later + 0.5).sum(axis=1, keepdims=True)
    later_bits = float(-(later_probs * np.log2(later_probs)).sum(axis=1).mean())
    repeat_share = float((later[:, -1] / later.sum(axis=1)).mean())
    c = model.config
    card: dict[str, Any] = {
        "name": "audio-rvq",
        "architecture": ("STFT front end, ConvNeXt encoder/decoder, factorised residual VQ "
                         f"({c.n_codebooks} x {c.codebook_size} codes at {c.frame_rate:g} Hz), iSTFT head"),
        "model": c.to_dict(),
        "bitrates": list(c.bitrates_kbps),
        "qualities": list(range(1, len(c.bitrates_kbps) + 1)),
        "sample_rate": c.sample_rate,
        "weights_file": WEIGHTS_NAME,
        "weights_sha256": sha256_file(weights_path).hex(),
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "code_priors": {"training_segments": int(segments.shape[0]), "segment_samples": int(segments.shape[1]),
                        "mean_entropy_bits_per_code": round(entropy_bits, 3),
                        "mean_entropy_bits_per_later_code_with_repeats": round(later_bits, 3),
                        "mean_repeat_share": round(repeat_share, 3),
                        "fixed_width_bits_per_code": int(np.log2(c.codebook_size))},
        "training": training_record(train_config, summary),
    }
    return [str(weights_path), write_card(out / CARD_NAME, card, card_extra)]
