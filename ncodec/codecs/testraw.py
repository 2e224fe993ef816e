"""A lossless test codec: raw bytes through the table coder.

It exists to prove the whole path (API, container, entropy layer, CLI plumbing) end to end with no
network involved; it is registered as test-only and never offered as a media codec.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ncodec.codecs.base import Payload
from ncodec.entropy import FrequencyTable, table
from ncodec.errors import FormatError, InputError

CHUNK_HIST, CHUNK_DATA = "HIST", "DATA"
# A file carries its own histogram, and one skewed enough codes millions of equal bytes in a few
# bytes of payload: the declared length alone sizes the output, so it is kept small (fuzzing found
# 1,140-byte files declaring 131 MB that took gigabytes and tens of seconds to decode).
MAX_BYTES = 1 << 20
HIST_ENTRIES = 257  # 256 byte values and the escape entry


class RawBytesCodec:
    """Codes a uint8 array under its own byte histogram (stored in the file as integer frequencies)."""

    modality: ClassVar[str] = "test"
    known_chunks: ClassVar[set[str]] = {CHUNK_HIST, CHUNK_DATA}

    def encode(self, media: Any, quality: int = 1) -> Payload:
        data = np.frombuffer(bytes(media), dtype=np.uint8) if isinstance(media, (bytes, bytearray)) \
            else np.asarray(media, dtype=np.uint8).reshape(-1)
        if len(data) > MAX_BYTES:
            raise InputError(f"the test codec takes at most {MAX_BYTES} bytes, not {len(data)}")
        counts = np.bincount(data, minlength=256).astype(np.float64) + 1e-6  # never all zero
        tables = [FrequencyTable.from_pmf(0, counts)]
        freqs = tables[0].freqs.astype(np.int32)
        coded = table.encode_tables(data.astype(np.int32), np.zeros(len(data), dtype=np.int32), tables)
        return Payload(chunks={CHUNK_HIST: freqs.astype("<i4").tobytes(), CHUNK_DATA: coded},
                       metadata={"length": len(data)},
                       estimated_bits=table.table_information_bits(
                           data.astype(np.int32), np.zeros(len(data), dtype=np.int32), tables))

    def decode(self, payload: Payload) -> np.ndarray:
        length = payload.metadata.get("length")
        if not isinstance(length, int) or isinstance(length, bool) or not 0 <= length <= MAX_BYTES:
            raise FormatError("test codec: metadata 'length' missing or out of range")
        hist = payload.chunks.get(CHUNK_HIST)
        if hist is None or len(hist) != HIST_ENTRIES * 4 or CHUNK_DATA not in payload.chunks:
            raise FormatError("test codec: histogram or data chunk missing or malformed")
        try:
            tables = [FrequencyTable(0, np.frombuffer(hist, dtype="<i4").astype(np.int64))]
        except ValueError as exc:
            raise FormatError(f"test codec: histogram is not a valid frequency table ({exc})") from exc
        out = table.decode_tables(payload.chunks[CHUNK_DATA], np.zeros(length, dtype=np.int32), tables)
        if out.size and (out.min() < 0 or out.max() > 255):
            raise FormatError("test codec: decoded values out of byte range")
        return out.astype(np.uint8)
