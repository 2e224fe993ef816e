"""Export a trained audio model: fp16 safetensors with the code priors, plus a model card.

The code priors (see :mod:`.priors`) are integer tables counted from the codes the exported
(fp16-rounded) model gives on training audio: per codebook, one table for a window's first frame
and one per context group of the previous frame's code, with the group of every code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from ncodec.codecs.weights import TABLE_PREFIX, sha256_file, training_record, write_card

from .model import AudioCodecModel
from .priors import fit_priors, gather_codes

WEIGHTS_NAME = "audio_rvq.safetensors"
CARD_NAME = "audio_rvq.json"
PRIOR_SEGMENTS = 2048  # one-second training segments whose codes are counted for the priors


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
    priors = fit_priors(rounded, gather_codes(rounded, prior_segments(sampler)))
    tensors: dict[str, torch.Tensor] = dict(half)
    tensors[TABLE_PREFIX + "code_freqs"] = torch.from_numpy(priors.code_freqs)
    tensors[TABLE_PREFIX + "context_freqs"] = torch.from_numpy(priors.context_freqs)
    tensors[TABLE_PREFIX + "context_index"] = torch.from_numpy(priors.context_index)
    weights_path = out / WEIGHTS_NAME
    save_file(tensors, str(weights_path), metadata={"format": "ncodec-audio-rvq-v1",
                                                    "config": json.dumps(model.config.to_dict(), sort_keys=True)})
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
        "code_priors": priors.report,
        "training": training_record(train_config, summary),
    }
    return [str(weights_path), write_card(out / CARD_NAME, card, card_extra)]
