"""ncodec: learned image, audio and video codecs behind one interface.

``ncodec.encode``, ``ncodec.decode`` and ``ncodec.info`` (and the path-based ``encode_file``,
``decode_file`` and ``info_file``) are :mod:`ncodec.api`'s functions. They are resolved on first
use, so ``import ncodec`` stays cheap: torch and the codecs load only when a function is called
for, which keeps tools that merely read a ``.nc`` header or list models fast to start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import (
        EncodeResult,
        decode,
        decode_file,
        encode,
        encode_file,
        encode_with_stats,
        info,
        info_file,
    )
    from .errors import NcodecError

_EXPORTS = {
    "encode": "ncodec.api", "decode": "ncodec.api", "info": "ncodec.api", "encode_with_stats": "ncodec.api",
    "encode_file": "ncodec.api", "decode_file": "ncodec.api", "info_file": "ncodec.api",
    "EncodeResult": "ncodec.api", "NcodecError": "ncodec.errors",
}

__all__ = [
    "EncodeResult", "NcodecError", "decode", "decode_file", "encode", "encode_file", "encode_with_stats", "info",
    "info_file",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ncodec' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # resolved once
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
