"""The narrow contract between a codec and the container.

A codec turns media into a :class:`Payload` (a few tagged byte chunks plus a small metadata dict)
and back. It knows nothing of files; the container knows nothing of what is inside the chunks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

# Metadata values are restricted to what the container can serialize without pickle.
MetaValue = int | float | str | bool | None | list["MetaValue"] | dict[str, "MetaValue"]


@dataclass
class Payload:
    """What a codec hands to the container: ordered chunks and metadata.

    ``chunks`` maps a 4-character ASCII tag to its bytes; order is preserved. ``metadata`` holds
    what the decoder needs to restore the input (shapes, sample rate, fps, original format, ...).
    ``estimated_bits`` is the model's own estimate of the coded size (sum of -log2 p), reported
    next to the real size by the evaluation; it is not written to the file.
    """

    chunks: dict[str, bytes]
    metadata: dict[str, Any] = field(default_factory=dict)
    estimated_bits: float | None = None


class Codec(Protocol):
    """A media codec registered under one model id."""

    modality: ClassVar[str]  # "image" | "audio" | "video" | "test"

    def encode(self, media: Any, quality: int) -> Payload:
        """Encode ``media`` at ``quality`` (a registered quality index) into a payload."""
        ...

    def decode(self, payload: Payload) -> Any:
        """Restore media from a payload written by :meth:`encode` with the same weights."""
        ...
