"""The ``.nc`` container format: header, metadata, tagged chunks, CRCs (stdlib only, no torch).

The layout and the compatibility rules are specified in ``docs/FORMAT.md``. The container knows
nothing of what is inside the chunks; codecs do. It is importable without torch or numpy so that
``ncodec info`` and file validation stay fast and light.
"""

from ncodec.container.atomic import atomic_output, atomic_write_bytes
from ncodec.container.format import (
    CHUNK_ENTRY_SIZE,
    FORMAT_VERSION,
    HEADER_SIZE,
    MAGIC,
    MAX_CHUNK_BYTES,
    MAX_CHUNKS,
    Container,
    ContainerHeader,
    Modality,
    is_ancillary,
    is_critical,
    is_valid_tag,
    read_container,
    write_container,
)
from ncodec.container.metadata import MAX_JSON_DEPTH, MAX_METADATA_BYTES, decode_metadata, encode_metadata

__all__ = [
    "CHUNK_ENTRY_SIZE",
    "FORMAT_VERSION",
    "HEADER_SIZE",
    "MAGIC",
    "MAX_CHUNKS",
    "MAX_CHUNK_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_METADATA_BYTES",
    "Container",
    "ContainerHeader",
    "Modality",
    "atomic_output",
    "atomic_write_bytes",
    "decode_metadata",
    "encode_metadata",
    "is_ancillary",
    "is_critical",
    "is_valid_tag",
    "read_container",
    "write_container",
]
