"""The ``.nc`` container: a strict, versioned, self-checking wrapper around a codec's chunks.

The byte layout is specified in ``docs/FORMAT.md``; this module is its reference implementation.
The design goals, in order:

* **Nothing bad happens on bad input.** Every malformed, truncated or corrupted file raises
  :class:`~ncodec.errors.FormatError` naming what is wrong, never another exception. Declared sizes
  are checked against limits and against the bytes actually present *before* anything is
  allocated, so a 100-byte file cannot make the reader reserve gigabytes.
* **Every single-bit flip is detected, by construction rather than by luck.** The fixed-size header
  carries its own CRC-32 at a fixed offset; the header fixes the extent of the metadata and chunk
  table, which carry a second CRC-32; the (now trusted) table gives each payload's extent and CRC.
  A CRC-32 detects every error burst of up to 32 bits in the region it covers, and no region's
  extent depends on unverified bytes, so a flipped length can never shift a check onto bytes that
  happen to match.
* **Old files keep decoding.** The major version changes only when the layout does, and a reader
  refuses a major version it does not know. Minor versions only add things an older reader may
  ignore: header extension bytes, metadata keys, ancillary chunks. Critical chunks the decoder
  does not know are refused by :meth:`Container.check_known`, the PNG convention.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from ncodec.container.metadata import MAX_METADATA_BYTES, decode_metadata, encode_metadata
from ncodec.errors import FormatError, LimitError, UsageError

#: The 8-byte signature, in the manner of PNG's. 0x8B has the high bit set, so a 7-bit channel
#: that strips it is caught; CR LF and the lone LF are caught by any newline translation; 0x1A
#: stops ``type`` on DOS-family systems from dumping binary to the terminal.
MAGIC = b"\x8bNCD\r\n\x1a\n"

#: The version this module writes, as (major, minor).
FORMAT_VERSION = (1, 0)

#: At most this many chunks; a codec needs a handful, the limit only bounds the table.
MAX_CHUNKS = 1024
#: Largest single chunk, in bytes (2 GiB).
MAX_CHUNK_BYTES = 2 << 30

# magic, major, minor, modality, reserved, model_id, coder_id, coder_version, extension length,
# weights SHA-256, metadata length, chunk count, table CRC. The header CRC follows at offset 64.
_FIXED = struct.Struct("<8sBBBBHHHH32sIII")
_CRC = struct.Struct("<I")
#: Size of the version-1 fixed header, header CRC included.
HEADER_SIZE = _FIXED.size + _CRC.size
# tag, payload length, payload CRC-32
_ENTRY = struct.Struct("<4sII")
CHUNK_ENTRY_SIZE = _ENTRY.size

_U16_MAX = 0xFFFF


class Modality(IntEnum):
    """What kind of media a file holds; the code is the header's modality byte.

    ``label`` is the lowercase name a codec uses for its ``modality`` class attribute.
    """

    TEST = 0
    IMAGE = 1
    AUDIO = 2
    VIDEO = 3

    @property
    def label(self) -> str:
        """The lowercase name, as in ``Codec.modality`` (``"image"``, ...)."""
        return self.name.lower()

    @classmethod
    def parse(cls, value: Modality | int | str) -> Modality:
        """Accept a member, its code or its label; raise :class:`UsageError` for anything else."""
        if isinstance(value, Modality):
            return value
        if isinstance(value, str):
            try:
                return cls[value.upper()]
            except KeyError:
                pass
        elif isinstance(value, int) and not isinstance(value, bool):
            try:
                return cls(value)
            except ValueError:
                pass
        known = ", ".join(f"{m.label}={m.value}" for m in cls)
        raise UsageError(f"unknown modality {value!r} (known: {known})")


@dataclass(frozen=True)
class ContainerHeader:
    """The identity of a file: what it holds and exactly what can decode it.

    ``model_id`` is a number from the model registry, which lives outside the container;
    ``weights_sha256`` is the SHA-256 of the weights that encoded the file, so that a decoder can
    refuse to decode with different weights (the comparison happens there, not here).
    ``coder_id`` / ``coder_version`` name the entropy coder, whose bitstream may change
    independently of the model. ``version`` is the container version the file was written with.
    """

    modality: Modality
    model_id: int
    weights_sha256: bytes
    coder_id: int
    coder_version: int
    version: tuple[int, int] = FORMAT_VERSION


@dataclass(frozen=True)
class Container:
    """A file as read: its header, metadata and chunks (in file order).

    ``total_size`` is the size of the file it was read from; ``payload_bytes`` and
    ``overhead_bytes`` split it for ``ncodec info`` and honest rate reporting.
    """

    header: ContainerHeader
    metadata: dict[str, Any]
    chunks: dict[str, bytes]
    total_size: int

    @property
    def payload_bytes(self) -> int:
        """Bytes of chunk payloads, without header, metadata or table."""
        return sum(len(data) for data in self.chunks.values())

    @property
    def overhead_bytes(self) -> int:
        """Bytes spent on the container itself (header, metadata, chunk table)."""
        return self.total_size - self.payload_bytes

    def require(self, tag: str) -> bytes:
        """Return chunk ``tag``; a file without it is malformed for this codec."""
        try:
            return self.chunks[tag]
        except KeyError:
            present = ", ".join(f"'{t}'" for t in self.chunks) or "none"
            raise FormatError(f"missing chunk '{tag}' (present: {present})") from None

    def get(self, tag: str) -> bytes | None:
        """Return chunk ``tag`` or None; for ancillary chunks, which may be absent."""
        return self.chunks.get(tag)

    def check_known(self, known: Iterable[str]) -> dict[str, bytes]:
        """Refuse a critical chunk the decoder does not know; return the chunks it does know.

        A critical chunk (first letter uppercase) changes how the file must be decoded, so a
        decoder that does not understand it would produce wrong output: it must refuse. An unknown
        ancillary chunk (first letter lowercase) is optional extra data and is skipped.
        """
        known_set = set(known)
        for tag in self.chunks:
            if tag not in known_set and is_critical(tag):
                raise FormatError(
                    f"unknown critical chunk '{tag}': this file needs a newer decoder "
                    f"(known: {', '.join(sorted(known_set)) or 'none'})"
                )
        return {tag: data for tag, data in self.chunks.items() if tag in known_set}


def is_valid_tag(tag: str) -> bool:
    """True for a chunk tag: 4 ASCII letters or digits, the first a letter."""
    return len(tag) == 4 and tag.isascii() and tag.isalnum() and tag[0].isalpha()


def is_critical(tag: str) -> bool:
    """True when the tag's first letter is uppercase: a decoder that does not know it must refuse."""
    return tag[:1].isupper()


def is_ancillary(tag: str) -> bool:
    """True when the tag's first letter is lowercase: a decoder that does not know it skips it."""
    return tag[:1].islower()


def container_overhead(metadata: Mapping[str, Any], chunk_count: int) -> int:
    """Bytes a version-1.0 file spends around its chunks' payloads: header, metadata, chunk table.

    Lets a codec that promises a rate count every byte of the file before it is written.
    """
    return HEADER_SIZE + len(encode_metadata(metadata)) + CHUNK_ENTRY_SIZE * chunk_count


def write_container(
    header: ContainerHeader,
    metadata: Mapping[str, Any],
    chunks: Mapping[str, bytes | bytearray | memoryview],
) -> bytes:
    """Serialise a container, validating every input so that the reader will accept the result.

    Chunks are written in the mapping's order. Invalid inputs raise :class:`UsageError`; sizes over
    the reader's limits raise :class:`LimitError`. The output is a deterministic function of the
    inputs (canonical metadata JSON), which the golden-file tests rely on.
    """
    if not isinstance(header, ContainerHeader):
        raise UsageError(f"header must be a ContainerHeader, not {type(header).__name__}")
    if tuple(header.version) != FORMAT_VERSION:
        raise UsageError(
            f"this writer writes container version {_ver(FORMAT_VERSION)} only, not {header.version}"
        )
    modality = Modality.parse(header.modality)
    model_id = _u16(header.model_id, "model_id")
    coder_id = _u16(header.coder_id, "coder_id")
    coder_version = _u16(header.coder_version, "coder_version")
    weights = header.weights_sha256
    if not isinstance(weights, (bytes, bytearray)) or len(weights) != 32:
        raise UsageError("weights_sha256 must be the 32-byte SHA-256 digest of the weights")

    meta = encode_metadata(metadata)

    if not isinstance(chunks, Mapping):
        raise UsageError(f"chunks must be a dict of tag -> bytes, not {type(chunks).__name__}")
    if len(chunks) > MAX_CHUNKS:
        raise LimitError(f"{len(chunks)} chunks, over the limit of {MAX_CHUNKS}")
    table = bytearray()
    payloads: list[bytes] = []
    for tag, data in chunks.items():
        if not isinstance(tag, str) or not is_valid_tag(tag):
            raise UsageError(f"invalid chunk tag {tag!r}: need 4 ASCII letters or digits, the first a letter")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise UsageError(f"chunk '{tag}' must be bytes, not {type(data).__name__}")
        payload = bytes(data)
        if len(payload) > MAX_CHUNK_BYTES:
            raise LimitError(f"chunk '{tag}' is {len(payload)} bytes, over the {MAX_CHUNK_BYTES} byte limit")
        table += _ENTRY.pack(tag.encode("ascii"), len(payload), zlib.crc32(payload))
        payloads.append(payload)

    table_region = meta + bytes(table)  # the version-1.0 header extension is empty
    fixed = _FIXED.pack(
        MAGIC,
        FORMAT_VERSION[0],
        FORMAT_VERSION[1],
        int(modality),
        0,
        model_id,
        coder_id,
        coder_version,
        0,
        bytes(weights),
        len(meta),
        len(chunks),
        zlib.crc32(table_region),
    )
    return b"".join([fixed, _CRC.pack(zlib.crc32(fixed)), table_region, *payloads])


def read_container(data: bytes | bytearray | memoryview) -> Container:
    """Parse and verify a whole file; every problem raises :class:`FormatError` naming it.

    Checks happen in an order that never trusts an unverified byte: magic, major version (the rest
    of the layout depends on it), header CRC, limits, table CRC, chunk table, then payload extents
    (truncation, trailing bytes) before any payload CRC is computed or any payload copied.
    """
    view = memoryview(data).cast("B") if isinstance(data, memoryview) else memoryview(data)
    size = len(view)
    if size == 0:
        raise FormatError("empty file: not an ncodec container")
    head = bytes(view[: len(MAGIC)])
    if head != MAGIC:
        if size < len(MAGIC) and MAGIC.startswith(head):
            raise FormatError(f"file truncated: {size} bytes, shorter than the {len(MAGIC)}-byte signature")
        if head[:4] == MAGIC[:4]:
            raise FormatError(f"damaged ncodec signature {head!r} (was the file transferred in text mode?)")
        raise FormatError(f"not an ncodec container (signature {head!r})")
    if size <= 8:
        raise FormatError("file truncated: it ends inside the header")
    major = view[8]
    if major != FORMAT_VERSION[0]:
        minor_text = str(view[9]) if size > 9 else "?"
        raise FormatError(
            f"unsupported container version {major}.{minor_text}: "
            f"this reader reads major version {FORMAT_VERSION[0]} only"
        )
    if size < HEADER_SIZE:
        raise FormatError(f"file truncated: the header needs {HEADER_SIZE} bytes, {size} present")

    fields = _FIXED.unpack_from(view, 0)
    (stored_header_crc,) = _CRC.unpack_from(view, _FIXED.size)
    if zlib.crc32(view[: _FIXED.size]) != stored_header_crc:
        raise FormatError("header CRC mismatch: the file is corrupted")
    (
        _magic,
        _major,
        minor,
        modality_code,
        reserved,
        model_id,
        coder_id,
        coder_version,
        ext_len,
        weights,
        meta_len,
        chunk_count,
        table_crc,
    ) = fields
    if reserved != 0:
        raise FormatError(f"reserved header byte is {reserved}, must be 0")
    if minor == 0 and ext_len != 0:
        raise FormatError(
            f"a version 1.0 header has no extension, but {ext_len} extension bytes are declared"
        )
    try:
        modality = Modality(modality_code)
    except ValueError:
        raise FormatError(f"unknown modality code {modality_code}") from None
    if meta_len > MAX_METADATA_BYTES:
        raise LimitError(
            f"header declares {meta_len} bytes of metadata, over the {MAX_METADATA_BYTES} byte limit"
        )
    if chunk_count > MAX_CHUNKS:
        raise LimitError(f"header declares {chunk_count} chunks, over the limit of {MAX_CHUNKS}")

    pos = HEADER_SIZE
    for what, length in (
        ("header extension", ext_len),
        ("metadata", meta_len),
        ("chunk table", chunk_count * CHUNK_ENTRY_SIZE),
    ):
        _check_room(size, pos, length, what)
        pos += length
    table_end = pos
    if zlib.crc32(view[HEADER_SIZE:table_end]) != table_crc:
        raise FormatError("metadata / chunk table CRC mismatch: the file is corrupted")

    meta_start = HEADER_SIZE + ext_len
    metadata = decode_metadata(view[meta_start : meta_start + meta_len])

    entries: list[tuple[str, int, int]] = []
    seen: set[str] = set()
    for index in range(chunk_count):
        raw_tag, length, crc = _ENTRY.unpack_from(view, meta_start + meta_len + index * CHUNK_ENTRY_SIZE)
        if not (raw_tag.isalnum() and raw_tag[:1].isalpha()):  # bytes.isalnum is ASCII-only
            raise FormatError(f"chunk #{index} has an invalid tag {raw_tag!r}")
        tag = raw_tag.decode("ascii")
        if tag in seen:
            raise FormatError(f"duplicate chunk '{tag}'")
        seen.add(tag)
        if length > MAX_CHUNK_BYTES:
            raise LimitError(f"chunk '{tag}' declares {length} bytes, over the {MAX_CHUNK_BYTES} byte limit")
        entries.append((tag, length, crc))

    pos = table_end
    for tag, length, _crc in entries:
        _check_room(size, pos, length, f"chunk '{tag}'")
        pos += length
    if pos != size:
        raise FormatError(f"{size - pos} trailing bytes after the last chunk")

    chunks: dict[str, bytes] = {}
    pos = table_end
    for tag, length, crc in entries:
        payload = view[pos : pos + length]
        if zlib.crc32(payload) != crc:
            raise FormatError(f"chunk '{tag}' CRC mismatch: the file is corrupted")
        chunks[tag] = bytes(payload)
        pos += length

    header = ContainerHeader(
        modality=modality,
        model_id=model_id,
        weights_sha256=bytes(weights),
        coder_id=coder_id,
        coder_version=coder_version,
        version=(major, minor),
    )
    return Container(header=header, metadata=metadata, chunks=chunks, total_size=size)


def _check_room(size: int, pos: int, length: int, what: str) -> None:
    """Refuse a declared length that runs past the end of the file (before touching the bytes)."""
    remain = size - pos
    if length > remain:
        raise FormatError(f"file truncated: header says {length} bytes of {what}, {remain} remain")


def _u16(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _U16_MAX:
        raise UsageError(f"{name} must be an integer in 0..{_U16_MAX}, not {value!r}")
    return int(value)


def _ver(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"
