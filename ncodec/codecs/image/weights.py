"""Loading image-model weights: the project's fp16 safetensors, and CompressAI checkpoints.

Shipped weights are one safetensors file holding the network (fp16) and the integer frequency
tables of the factorized prior (int32, under ``_tables.*``), plus a model card JSON beside it. The
SHA-256 of the safetensors bytes identifies the weights; the container records it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
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


# CompressAI keeps these coder buffers in its state dicts; this project derives them differently
# (integer tables at export), so they are dropped when one of its checkpoints is loaded.
_COMPRESSAI_CODER_BUFFERS = ("_offset", "_quantized_cdf", "_cdf_length", "target", "scale_table")


def from_compressai_state_dict(state: dict[str, Tensor], num_qualities: int) -> dict[str, Tensor]:
    """Adapt a CompressAI ``mbt2018-mean`` state dict to :class:`MeanScaleHyperprior`.

    The transforms and the factorized prior carry over by name; CompressAI's coder buffers (CDF
    tables, offsets) are dropped because this project tabulates its own at export. CompressAI
    models are fixed-rate, so the gain vectors are set to one (log 0): every quality of the loaded
    model codes at the checkpoint's own rate until the gains are fine-tuned.
    """
    out = {k: v for k, v in state.items() if k.split(".")[-1] not in _COMPRESSAI_CODER_BUFFERS}
    if "gaussian_conditional.scale_table" not in out:
        out["gaussian_conditional.scale_table"] = torch.zeros(0)
    latent_channels = int(state["g_a.6.weight"].shape[0])
    out.setdefault("gain", torch.zeros(num_qualities, latent_channels))
    out.setdefault("inv_gain", torch.zeros(num_qualities, latent_channels))
    return out
