"""Weights files shared by every codec: fp16 safetensors with integer coding tables beside the network.

A shipped weights file holds the network (fp16) and the codec's integer frequency tables (int32,
under ``_tables.*``), plus a model card JSON beside it. The SHA-256 of the safetensors bytes
identifies the weights; the container records it and decoding refuses other weights.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from pathlib import Path
from typing import Any

from safetensors.torch import load_file
from torch import Tensor

from ncodec.errors import ModelMismatchError

TABLE_PREFIX = "_tables."


def sha256_file(path: str | Path) -> bytes:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.digest()


def load_tensors(path: str | Path) -> dict[str, Tensor]:
    """All tensors of a safetensors file (no pickle involved)."""
    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises several types for a damaged file
        raise ModelMismatchError(f"cannot load weights '{Path(path).name}': {exc}") from exc


def split_state(tensors: dict[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """(network state dict in float32, integer coding tables)."""
    state = {k: v.float() for k, v in tensors.items() if not k.startswith(TABLE_PREFIX)}
    tables = {k[len(TABLE_PREFIX):]: v for k, v in tensors.items() if k.startswith(TABLE_PREFIX)}
    return state, tables


def load_state_dict_file(path: str | Path) -> dict[str, Tensor]:
    """The network part of a weights file, e.g. to continue training from shipped weights."""
    return split_state(load_tensors(path))[0]


def training_record(train_config: Any, summary: dict[str, object]) -> dict[str, Any]:
    """The model card's ``training`` entry: the exact config, the run's summary, when and where."""
    import torch

    return {
        "config": train_config.to_dict() if hasattr(train_config, "to_dict") else train_config,
        **{k: v for k, v in summary.items() if k != "model"},
        "exported": time.strftime("%Y-%m-%d"),
        "torch": torch.__version__,
        "host": platform.machine(),
    }


def write_card(path: Path, card: dict[str, Any], card_extra: dict[str, Any] | None = None) -> str:
    """Write a model card (with ``card_extra`` merged over it) as indented JSON; returns the path."""
    if card_extra:
        card.update(card_extra)
    path.write_text(json.dumps(card, indent=2) + "\n")
    return str(path)
