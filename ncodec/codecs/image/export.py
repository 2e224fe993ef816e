"""Export a trained image model as shippable fp16 safetensors plus a model card.

The factorized prior is tabulated here, once, from the fp16-rounded weights that ship: its integer
frequency tables go into the same file, so encoder and decoder read identical integers instead of
re-deriving them in floating point.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

from ncodec.codecs.weights import training_record, write_card
from ncodec.entropy import FrequencyTable

from .calibrate import calibrate_scale_factors
from .model import MeanScaleHyperprior
from .weights import TABLE_PREFIX, sha256_file

WEIGHTS_NAME = "image_hyperprior.safetensors"
CARD_NAME = "image_hyperprior.json"


def coding_tables(model: MeanScaleHyperprior) -> dict[str, torch.Tensor]:
    """Integer tables of the factorized prior, computed from the (already fp16-rounded) model."""
    offsets, pmfs = model.entropy_bottleneck.integer_tables()
    # The escape entry carries the mass the tabulated range leaves out (at least one count).
    freqs = np.stack([FrequencyTable.from_pmf(int(o), p, escape_mass=max(0.0, 1.0 - float(p.sum()))).freqs
                      for o, p in zip(offsets, pmfs, strict=False)]).astype(np.int32)
    return {
        "z_offsets": torch.from_numpy(offsets.astype(np.int32)),
        "z_freqs": torch.from_numpy(freqs),
        "lambdas": torch.tensor(model.config.lambdas, dtype=torch.float64),
    }


def export_image_model(model: MeanScaleHyperprior, train_config: Any, out_dir: str | Path,
                       summary: dict[str, object], card_extra: dict[str, Any] | None = None,
                       calibration_images: Sequence[np.ndarray] = ()) -> list[str]:
    """Write ``image_hyperprior.safetensors`` and ``image_hyperprior.json`` into ``out_dir``.

    ``calibration_images`` (held-out photos, sides multiples of 64) fit the per-quality scale
    factors (see :mod:`.calibrate`); without them the factors are one.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = model.cpu().eval()
    half = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    # Tabulate from exactly the weights that ship.
    rounded = MeanScaleHyperprior(model.config)
    rounded.load_state_dict({k: v.float() for k, v in half.items()})
    tensors = dict(half)
    tensors.update({TABLE_PREFIX + k: v for k, v in coding_tables(rounded).items()})
    factors = calibrate_scale_factors(rounded, calibration_images)
    tensors[TABLE_PREFIX + "scale_factors"] = torch.from_numpy(factors)
    weights_path = out / WEIGHTS_NAME
    save_file(tensors, str(weights_path), metadata={"format": "ncodec-image-hyperprior-v1"})
    card: dict[str, Any] = {
        "name": "image-hyperprior",
        "architecture": "mean-scale hyperprior (Minnen et al. 2018, no context model) with per-quality gain vectors",
        "model": model.config.to_dict(),
        "qualities": list(range(1, model.config.num_qualities + 1)),
        "weights_file": WEIGHTS_NAME,
        "weights_sha256": sha256_file(weights_path).hex(),
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "scale_factors": [float(f) for f in factors],
        "calibration_images": len(calibration_images),
        "training": training_record(train_config, summary),
    }
    return [str(weights_path), write_card(out / CARD_NAME, card, card_extra)]
