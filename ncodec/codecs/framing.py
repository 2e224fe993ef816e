"""Several entropy-coded streams in one chunk: a count, their lengths, then their bytes.

Codecs that code independent pieces (image tiles, audio segments) keep one chunk per kind of
stream instead of one chunk per piece. Layout, little-endian: u32 count, count x u32 length, data.
"""

from __future__ import annotations

import struct

from ncodec.errors import FormatError

MAX_STREAMS = 1 << 16


def pack_streams(streams: list[bytes]) -> bytes:
    if len(streams) > MAX_STREAMS:
        raise ValueError(f"too many streams ({len(streams)} > {MAX_STREAMS})")
    head = struct.pack(f"<I{len(streams)}I", len(streams), *(len(s) for s in streams))
    return head + b"".join(streams)


def unpack_streams(data: bytes, expected: int, what: str) -> list[bytes]:
    """Split ``data`` into exactly ``expected`` streams, refusing any inconsistency."""
    if len(data) < 4:
        raise FormatError(f"{what}: stream table truncated")
    (count,) = struct.unpack_from("<I", data, 0)
    if count != expected:
        raise FormatError(f"{what}: holds {count} streams, expected {expected}")
    end_of_table = 4 + 4 * count
    if len(data) < end_of_table:
        raise FormatError(f"{what}: stream table truncated")
    lengths = struct.unpack_from(f"<{count}I", data, 4)
    if end_of_table + sum(lengths) != len(data):
        raise FormatError(f"{what}: stream lengths do not add up to the chunk size")
    out, pos = [], end_of_table
    for n in lengths:
        out.append(data[pos:pos + n])
        pos += n
    return out
