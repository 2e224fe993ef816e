"""Loading image-model weights: the project's files (see :mod:`ncodec.codecs.weights`) and CompressAI checkpoints."""

from __future__ import annotations

import torch
from torch import Tensor

from ncodec.codecs.weights import TABLE_PREFIX, load_state_dict_file, load_tensors, sha256_file, split_state

__all__ = ["TABLE_PREFIX", "from_compressai_state_dict", "load_state_dict_file", "load_tensors", "sha256_file",
           "split_state"]


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
