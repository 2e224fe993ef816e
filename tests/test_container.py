"""Tests of the .nc container: layout, golden files, corruption, limits, fuzzing, atomic writes.

Files are crafted here with :func:`raw_file`, packed directly from the layout in docs/FORMAT.md
rather than through the writer, so the tests check the specification and not only the code
against itself.
"""

from __future__ import annotations

import enum
import hashlib
import importlib.util
import os
import struct
import subprocess
import sys
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import pytest
from _props import props
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from ncodec.container import (
    FORMAT_VERSION,
    HEADER_SIZE,
    MAGIC,
    MAX_CHUNKS,
    MAX_JSON_DEPTH,
    MAX_METADATA_BYTES,
    Container,
    ContainerHeader,
    Modality,
    atomic_output,
    atomic_write_bytes,
    decode_metadata,
    encode_metadata,
    is_ancillary,
    is_critical,
    is_valid_tag,
    read_container,
    write_container,
)
from ncodec.container import atomic as atomic_module
from ncodec.container import format as format_module
from ncodec.errors import FormatError, LimitError, UsageError

GOLDEN = Path(__file__).resolve().parent / "golden"
WEIGHTS = hashlib.sha256(b"test weights").digest()
HEADER = ContainerHeader(Modality.IMAGE, model_id=7, weights_sha256=WEIGHTS, coder_id=1, coder_version=2)
METADATA: dict[str, Any] = {"shape": [3, 16, 12], "quality": 3, "name": "été", "ratio": 0.25, "alpha": None}
CHUNKS = {"YLAT": bytes(range(40)), "zHYP": b"\x01" * 10, "EMPT": b""}
SAMPLE = write_container(HEADER, METADATA, CHUNKS)

FIXED = struct.Struct("<8sBBBBHHHH32sIII")
ENTRY = struct.Struct("<4sII")


def raw_file(
    *,
    magic: bytes = MAGIC,
    major: int = 1,
    minor: int = 0,
    modality: int = 1,
    reserved: int = 0,
    model_id: int = 7,
    coder_id: int = 1,
    coder_version: int = 2,
    weights: bytes = WEIGHTS,
    ext: bytes = b"",
    meta: bytes = b"{}",
    chunks: dict[str, bytes] | None = None,
    entries: list[tuple[bytes, int, int]] | None = None,
    payload: bytes = b"",
    ext_len: int | None = None,
    meta_len: int | None = None,
    count: int | None = None,
) -> bytes:
    """Pack a file from the documented layout, with valid CRCs over whatever the fields say."""
    if chunks is not None:
        entries = [(tag.encode("latin-1"), len(data), zlib.crc32(data)) for tag, data in chunks.items()]
        payload = b"".join(chunks.values())
    entries = entries or []
    table = b"".join(ENTRY.pack(*entry) for entry in entries)
    region = ext + meta + table
    fixed = FIXED.pack(
        magic,
        major,
        minor,
        modality,
        reserved,
        model_id,
        coder_id,
        coder_version,
        len(ext) if ext_len is None else ext_len,
        weights,
        len(meta) if meta_len is None else meta_len,
        len(entries) if count is None else count,
        zlib.crc32(region),
    )
    return fixed + struct.pack("<I", zlib.crc32(fixed)) + region + payload


def fix_crcs(data: bytes) -> bytes:
    """Recompute every CRC that the (possibly mutated) fields allow, so fuzzing gets past them."""
    buf = bytearray(data)
    if len(buf) < HEADER_SIZE or buf[:8] != MAGIC:
        return data
    (ext_len,) = struct.unpack_from("<H", buf, 18)
    meta_len, count = struct.unpack_from("<II", buf, 52)
    table_start = HEADER_SIZE + ext_len + meta_len
    end = table_start + 12 * count
    if count <= MAX_CHUNKS and end <= len(buf):
        pos = end
        for i in range(count):
            _tag, length, _crc = ENTRY.unpack_from(buf, table_start + 12 * i)
            if pos + length > len(buf):
                break
            struct.pack_into("<I", buf, table_start + 12 * i + 8, zlib.crc32(buf[pos : pos + length]))
            pos += length
        struct.pack_into("<I", buf, 60, zlib.crc32(buf[HEADER_SIZE:end]))
    struct.pack_into("<I", buf, 64, zlib.crc32(buf[:64]))
    return bytes(buf)


def read_or_format_error(data: bytes) -> Container | None:
    """Read ``data``; a FormatError is an acceptable outcome, any other exception fails the test."""
    try:
        return read_container(data)
    except FormatError:
        return None


# --- round trip and layout ------------------------------------------------------------------------


def test_round_trip() -> None:
    container = read_container(SAMPLE)
    assert container.header == HEADER
    assert container.header.version == FORMAT_VERSION == (1, 0)
    assert container.metadata == METADATA
    assert list(container.chunks) == ["YLAT", "zHYP", "EMPT"]
    assert container.chunks == CHUNKS
    assert container.total_size == len(SAMPLE)
    assert container.payload_bytes == 50
    assert container.overhead_bytes == len(SAMPLE) - 50
    assert container.require("YLAT") == CHUNKS["YLAT"]
    assert container.get("nope") is None
    # bytearray and memoryview inputs read the same
    assert read_container(bytearray(SAMPLE)) == container
    assert read_container(memoryview(SAMPLE)) == container


def test_writer_matches_documented_layout() -> None:
    meta = encode_metadata(METADATA)
    assert SAMPLE == raw_file(meta=meta, chunks=CHUNKS)
    assert SAMPLE[:8] == b"\x8bNCD\r\n\x1a\n"
    assert HEADER_SIZE == 68
    assert len(SAMPLE) == 68 + len(meta) + 3 * 12 + 50


def test_metadata_is_canonical() -> None:
    a = encode_metadata({"b": 1, "a": {"y": [1, 2.5], "x": "é"}})
    b = encode_metadata({"a": {"x": "é", "y": [1, 2.5]}, "b": 1})
    assert a == b == '{"a":{"x":"é","y":[1,2.5]},"b":1}'.encode()
    assert write_container(HEADER, {"b": 1, "a": 2}, {}) == write_container(HEADER, {"a": 2, "b": 1}, {})


class _Level(enum.IntEnum):
    HIGH = 5


def test_metadata_subclasses_become_plain_values() -> None:
    container = read_container(write_container(HEADER, {"level": _Level.HIGH, "flag": True}, {}))
    assert container.metadata == {"flag": True, "level": 5}
    assert type(container.metadata["level"]) is int
    assert type(container.metadata["flag"]) is bool


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
TAGS = st.from_regex(r"\A[A-Za-z][A-Za-z0-9]{3}\Z")


@props(60)
@given(
    metadata=st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=5),
    chunks=st.dictionaries(TAGS, st.binary(max_size=40), max_size=5),
    modality=st.sampled_from(list(Modality)),
    ids=st.tuples(*[st.integers(0, 0xFFFF)] * 3),
)
def test_round_trip_property(
    metadata: dict[str, Any], chunks: dict[str, bytes], modality: Modality, ids: tuple[int, int, int]
) -> None:
    header = ContainerHeader(modality, ids[0], WEIGHTS, ids[1], ids[2])
    data = write_container(header, metadata, chunks)
    container = read_container(data)
    assert container.header == header
    assert container.metadata == metadata
    assert list(container.chunks.items()) == list(chunks.items())
    assert write_container(container.header, container.metadata, container.chunks) == data


# --- golden files ---------------------------------------------------------------------------------

GOLDEN_WEIGHTS = hashlib.sha256(b"ncodec golden weights v1").digest()

# Pinned contents: a golden file is frozen once committed.
GOLDEN_SHA256 = {
    "v1_minimal.nc": "c83d72d561212c3ee5fa15c363f945d17e441bd9b44251b7101cba674d45fe49",
    "v1_with_ancillary.nc": "be0ef45f359d8e29cb8f2ad7acfa2eb19e3a6a51c5ec8e295821ef92f802a558",
    "v1_audio_empty.nc": "52ed68fae8a1e481cc17d989144376a028bb6f5f09df0a8f963dfc6605b3444a",
}

GOLDEN_EXPECTED: dict[str, tuple[ContainerHeader, dict[str, Any], dict[str, bytes], int]] = {
    "v1_minimal.nc": (
        ContainerHeader(Modality.TEST, 0, GOLDEN_WEIGHTS, 0, 0, (1, 0)),
        {},
        {"DATA": b"ncodec"},
        88,
    ),
    "v1_with_ancillary.nc": (
        ContainerHeader(Modality.IMAGE, 7, GOLDEN_WEIGHTS, 1, 3, (1, 0)),
        {
            "flags": {"alpha": False, "icc": None},
            "format": "png",
            "note": "café ☕",
            "quality": 4,
            "scale": 0.5,
            "shape": [3, 64, 48],
        },
        {
            "YLAT": bytes(range(32)),
            "ZHYP": b"\x00\xff" * 5,
            "tEXt": b"produced by the golden-file generator",
            "EMPT": b"",
        },
        307,
    ),
    "v1_audio_empty.nc": (
        ContainerHeader(Modality.AUDIO, 65535, bytes(32), 65535, 1, (1, 0)),
        {"channels": 2, "frames": -1, "gain_db": -1.25e-3, "sample_rate": 48000},
        {},
        133,
    ),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_EXPECTED))
def test_golden_file_reads(name: str) -> None:
    data = (GOLDEN / name).read_bytes()
    assert hashlib.sha256(data).hexdigest() == GOLDEN_SHA256[name]
    header, metadata, chunks, size = GOLDEN_EXPECTED[name]
    container = read_container(data)
    assert container.header == header
    assert container.header.modality is header.modality
    assert container.metadata == metadata
    assert list(container.chunks.items()) == list(chunks.items())
    assert container.total_size == size == len(data)
    assert container.payload_bytes == sum(map(len, chunks.values()))


@pytest.mark.parametrize("name", sorted(GOLDEN_EXPECTED))
def test_golden_file_rewrites_identically(name: str) -> None:
    header, metadata, chunks, _size = GOLDEN_EXPECTED[name]
    assert write_container(header, metadata, chunks) == (GOLDEN / name).read_bytes()


def test_golden_generator_reproduces_files() -> None:
    spec = importlib.util.spec_from_file_location("make_golden", GOLDEN / "make_golden.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built = module.build()
    assert set(built) == set(GOLDEN_EXPECTED)
    for name, data in built.items():
        assert data == (GOLDEN / name).read_bytes(), name


def test_golden_ancillary_chunk_is_skipped_by_a_decoder_that_does_not_know_it() -> None:
    container = read_container((GOLDEN / "v1_with_ancillary.nc").read_bytes())
    known = container.check_known({"YLAT", "ZHYP", "EMPT"})
    assert list(known) == ["YLAT", "ZHYP", "EMPT"]


# --- corruption -----------------------------------------------------------------------------------


def test_truncation_at_every_offset_is_a_format_error() -> None:
    for cut in range(len(SAMPLE)):
        with pytest.raises(FormatError):
            read_container(SAMPLE[:cut])


def test_every_single_bit_flip_is_a_format_error() -> None:
    buf = bytearray(SAMPLE)
    for index in range(len(buf)):
        for bit in range(8):
            buf[index] ^= 1 << bit
            try:
                with pytest.raises(FormatError):
                    read_container(bytes(buf))
            finally:
                buf[index] ^= 1 << bit
    assert bytes(buf) == SAMPLE


@pytest.mark.parametrize(
    ("offset", "message"),
    [
        (0, "signature"),
        (8, "unsupported container version"),
        (12, "header CRC mismatch"),
        (64, "header CRC mismatch"),
        (HEADER_SIZE + 2, "table CRC mismatch"),
        (len(SAMPLE) - 45, "chunk 'YLAT' CRC mismatch"),
        (len(SAMPLE) - 1, "chunk 'zHYP' CRC mismatch"),
    ],
)
def test_corruption_is_named(offset: int, message: str) -> None:
    buf = bytearray(SAMPLE)
    buf[offset] ^= 0x02
    with pytest.raises(FormatError, match=message):
        read_container(bytes(buf))


def test_truncated_chunk_is_named() -> None:
    with pytest.raises(FormatError, match=r"file truncated: header says 40 bytes of chunk 'YLAT', 20 remain"):
        read_container(SAMPLE[:-30])
    with pytest.raises(FormatError, match=r"header needs 68 bytes, 40 present"):
        read_container(SAMPLE[:40])
    with pytest.raises(FormatError, match="empty file"):
        read_container(b"")
    with pytest.raises(FormatError, match="truncated"):
        read_container(MAGIC[:5])


def test_trailing_bytes_are_refused() -> None:
    for tail in (b"\x00", b"junk" * 100):
        with pytest.raises(FormatError, match=f"{len(tail)} trailing bytes"):
            read_container(SAMPLE + tail)


def test_bad_magic_and_text_mode_damage() -> None:
    with pytest.raises(FormatError, match="not an ncodec container"):
        read_container(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(FormatError, match="text mode"):
        read_container(SAMPLE.replace(b"\r\n", b"\n"))
    with pytest.raises(FormatError):
        read_container(SAMPLE.replace(b"\n", b"\r\n"))


@pytest.mark.parametrize("major", [0, 2, 255])
def test_unknown_major_version_is_refused(major: int) -> None:
    with pytest.raises(FormatError, match=rf"unsupported container version {major}\.0"):
        read_container(raw_file(major=major))


def test_higher_minor_version_is_accepted() -> None:
    data = raw_file(minor=7, meta=encode_metadata(METADATA), chunks=CHUNKS)
    container = read_container(data)
    assert container.header.version == (1, 7)
    assert container.metadata == METADATA
    assert container.chunks == CHUNKS
    # a later minor version may append header-extension bytes, which this reader skips
    extended = read_container(raw_file(minor=1, ext=b"future header fields", chunks=CHUNKS))
    assert extended.chunks == CHUNKS
    assert extended.header.version == (1, 1)


def test_extension_in_a_version_1_0_file_is_refused() -> None:
    with pytest.raises(FormatError, match="extension"):
        read_container(raw_file(minor=0, ext=b"xx"))


def test_unknown_modality_and_reserved_byte_are_refused() -> None:
    with pytest.raises(FormatError, match="unknown modality code 9"):
        read_container(raw_file(modality=9))
    with pytest.raises(FormatError, match="reserved"):
        read_container(raw_file(reserved=1))


def test_unknown_ancillary_is_skipped_and_unknown_critical_refused() -> None:
    container = read_container(raw_file(chunks={"DATA": b"x", "tIME": b"123", "XTRA": b"y"}))
    assert container.check_known({"DATA", "XTRA"}) == {"DATA": b"x", "XTRA": b"y"}
    with pytest.raises(FormatError, match="unknown critical chunk 'XTRA'"):
        container.check_known({"DATA"})
    with pytest.raises(FormatError, match="missing chunk 'ZHYP'"):
        container.require("ZHYP")
    assert is_critical("DATA") and not is_ancillary("DATA")
    assert is_ancillary("tIME") and not is_critical("tIME")


def test_duplicate_tags_are_refused() -> None:
    entries = [(b"DATA", 1, zlib.crc32(b"a")), (b"DATA", 1, zlib.crc32(b"b"))]
    with pytest.raises(FormatError, match="duplicate chunk 'DATA'"):
        read_container(raw_file(entries=entries, payload=b"ab"))


@pytest.mark.parametrize("tag", [b"DA A", b"1ABC", b"\xffABC", b"AB\x00C", b"AB-C"])
def test_invalid_tags_in_a_file_are_refused(tag: bytes) -> None:
    with pytest.raises(FormatError, match="invalid tag"):
        read_container(raw_file(entries=[(tag, 1, zlib.crc32(b"a"))], payload=b"a"))


@pytest.mark.parametrize(
    "meta",
    [
        b"",
        b"\xff{}",
        b"\xef\xbb\xbf{}",
        b'{"a":NaN}',
        b'{"a":Infinity}',
        b'{"a":-Infinity}',
        b'{"a":1e400}',
        b'{"a":1,"a":2}',
        b"[1,2]",
        b'"text"',
        b"{} x",
        b'{"a":"\\ud800"}',
        b'{"a":' + str(2**70).encode() + b"}",
        b'{"a":' + b"9" * 5000 + b"}",
        b'{"a":[1,2}',
        b"{'a':1}",
    ],
)
def test_bad_metadata_in_a_file_is_refused(meta: bytes) -> None:
    with pytest.raises(FormatError):
        read_container(raw_file(meta=meta))


# --- limits ---------------------------------------------------------------------------------------


def test_huge_declared_chunk_is_refused_without_allocating() -> None:
    data = raw_file(entries=[(b"YLAT", 3 << 30, 0)], payload=b"\x00" * 12)
    assert len(data) < 100
    tracemalloc.start()
    try:
        with pytest.raises(LimitError, match="chunk 'YLAT' declares 3221225472 bytes"):
            read_container(data)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_declared_lengths_past_the_end_are_refused() -> None:
    with pytest.raises(FormatError, match="header says 5000 bytes of metadata"):
        read_container(raw_file(meta_len=5000))
    with pytest.raises(FormatError, match="bytes of chunk table"):
        read_container(raw_file(count=3))
    with pytest.raises(FormatError, match="bytes of header extension"):
        read_container(raw_file(minor=1, ext_len=60000))


def test_metadata_and_chunk_count_limits() -> None:
    with pytest.raises(LimitError, match="metadata"):
        read_container(raw_file(meta_len=MAX_METADATA_BYTES + 1))
    with pytest.raises(LimitError, match="chunks"):
        read_container(raw_file(count=MAX_CHUNKS + 1))
    with pytest.raises(LimitError):
        write_container(HEADER, {"x": "a" * MAX_METADATA_BYTES}, {})
    with pytest.raises(LimitError):
        write_container(HEADER, {}, {f"C{i:03X}": b"" for i in range(MAX_CHUNKS + 1)})
    # the limits themselves are allowed
    many = {f"C{i:03X}": b"" for i in range(MAX_CHUNKS)}
    assert len(read_container(write_container(HEADER, {}, many)).chunks) == MAX_CHUNKS


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def test_json_depth_limit() -> None:
    ok = _nested(MAX_JSON_DEPTH)
    assert read_container(write_container(HEADER, ok, {})).metadata == ok
    with pytest.raises(LimitError):
        write_container(HEADER, _nested(MAX_JSON_DEPTH + 1), {})
    with pytest.raises(LimitError, match="nested 33 deep"):
        read_container(raw_file(meta=b'{"a":' * 32 + b"{}" + b"}" * 32))
    # brackets inside strings do not count, a megabyte of brackets does not crash the parser
    assert decode_metadata(b'{"a":"' + b"[" * 40 + b'\\""}') == {"a": "[" * 40 + '"'}
    with pytest.raises(LimitError):
        decode_metadata(b"[" * MAX_METADATA_BYTES)


def test_writer_chunk_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(format_module, "MAX_CHUNK_BYTES", 16)
    with pytest.raises(LimitError, match="chunk 'YLAT'"):
        write_container(HEADER, {}, {"YLAT": bytes(17)})
    with pytest.raises(LimitError, match="chunk 'YLAT'"):
        read_container(raw_file(chunks={"YLAT": bytes(17)}))


# --- fuzzing --------------------------------------------------------------------------------------

FUZZ = props(150, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=300))
def test_fuzz_random_bytes(data: bytes) -> None:
    read_or_format_error(data)
    read_or_format_error(fix_crcs(MAGIC + b"\x01" + data))


MUTATION = st.tuples(
    st.sampled_from(["flip", "set", "insert", "delete"]), st.integers(0, len(SAMPLE)), st.integers(0, 255)
)


@FUZZ
@given(st.lists(MUTATION, min_size=1, max_size=6), st.booleans())
def test_fuzz_mutations_of_a_valid_file(mutations: list[tuple[str, int, int]], fix: bool) -> None:
    buf = bytearray(SAMPLE)
    for kind, position, value in mutations:
        position = min(position, len(buf))
        if kind == "insert":
            buf[position:position] = bytes([value])
        elif position == len(buf):
            continue
        elif kind == "flip":
            buf[position] ^= 1 << (value % 8)
        elif kind == "set":
            buf[position] = value
        else:
            del buf[position]
    data = fix_crcs(bytes(buf)) if fix else bytes(buf)
    container = read_or_format_error(data)
    if container is not None and not fix:
        assert data == SAMPLE or container == read_container(SAMPLE)


@FUZZ
@given(st.binary(max_size=200) | st.text(max_size=100).map(lambda s: s.encode("utf-8", "surrogatepass")))
def test_fuzz_metadata_parser(raw: bytes) -> None:
    try:
        decode_metadata(raw)
    except FormatError:
        pass


# --- writer validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "metadata",
    [
        {"a": (1, 2)},
        {"a": {1, 2}},
        {"a": b"bytes"},
        {"a": float("nan")},
        {"a": float("inf")},
        {1: "x"},
        {"a": {2: "x"}},
        {"a": 2**64},
        {"a": object()},
        {"a": "\ud800"},
        [("a", 1)],
        "text",
    ],
)
def test_writer_refuses_bad_metadata(metadata: Any) -> None:
    with pytest.raises(UsageError):
        write_container(HEADER, metadata, {})


def _header(**changes: Any) -> ContainerHeader:
    fields: dict[str, Any] = {
        "modality": Modality.IMAGE,
        "model_id": 1,
        "weights_sha256": WEIGHTS,
        "coder_id": 1,
        "coder_version": 1,
    }
    fields.update(changes)
    return ContainerHeader(**fields)


@pytest.mark.parametrize(
    "changes",
    [
        {"model_id": -1},
        {"model_id": 65536},
        {"model_id": True},
        {"model_id": 1.0},
        {"coder_id": 70000},
        {"coder_version": -5},
        {"weights_sha256": WEIGHTS[:31]},
        {"weights_sha256": WEIGHTS.hex()},
        {"version": (2, 0)},
        {"version": (1, 1)},
        {"modality": 9},
        {"modality": "smell"},
    ],
)
def test_writer_refuses_bad_header(changes: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        write_container(_header(**changes), {}, {})


@pytest.mark.parametrize("tag", ["abc", "ABCDE", "1ABC", "AB C", "ÄBCD", "AB_C", 1234])
def test_writer_refuses_bad_tags(tag: Any) -> None:
    assert not (isinstance(tag, str) and is_valid_tag(tag))
    with pytest.raises(UsageError, match="invalid chunk tag"):
        write_container(HEADER, {}, {tag: b""})


def test_writer_refuses_non_bytes_chunks() -> None:
    with pytest.raises(UsageError, match="chunk 'DATA' must be bytes"):
        write_container(HEADER, {}, {"DATA": "text"})  # type: ignore[dict-item]
    assert read_container(write_container(HEADER, {}, {"DATA": bytearray(b"ab")})).chunks == {"DATA": b"ab"}


def test_modality_codes_and_labels() -> None:
    assert {m.label: int(m) for m in Modality} == {"test": 0, "image": 1, "audio": 2, "video": 3}
    assert Modality.parse("audio") is Modality.AUDIO
    assert Modality.parse(3) is Modality.VIDEO
    assert Modality.parse(Modality.TEST) is Modality.TEST
    assert (
        read_container(write_container(_header(modality="video"), {}, {})).header.modality is Modality.VIDEO
    )


def test_import_pulls_in_neither_torch_nor_numpy() -> None:
    code = (
        "import sys, ncodec.container; "
        "heavy = sorted(m for m in ('torch', 'numpy') if m in sys.modules); "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


# --- atomic writes --------------------------------------------------------------------------------


def test_atomic_write_creates_and_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "out.nc"
    atomic_write_bytes(target, SAMPLE)
    assert target.read_bytes() == SAMPLE
    with pytest.raises(UsageError, match=r"exists \(use -f to overwrite\)"):
        atomic_write_bytes(target, b"other")
    assert target.read_bytes() == SAMPLE
    atomic_write_bytes(target, b"other", overwrite=True)
    assert target.read_bytes() == b"other"
    assert [p.name for p in tmp_path.iterdir()] == ["out.nc"]


def test_atomic_output_writes_to_an_unnamed_file_where_there_are_some(tmp_path: Path) -> None:
    """While the block runs nothing is visible in the folder: a kill there leaves nothing behind."""
    if atomic_module.open_unnamed(tmp_path) is None:
        pytest.skip("no unnamed files (O_TMPFILE) here")
    target = tmp_path / "out.png"
    with atomic_output(target) as temp:
        temp.write_bytes(b"png")
        assert list(tmp_path.iterdir()) == []
    assert target.read_bytes() == b"png"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_atomic_output_temp_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without unnamed files the data goes to a hidden sibling that keeps the extension."""
    monkeypatch.setattr(atomic_module, "open_unnamed", lambda directory: None)
    target = tmp_path / "out.png"
    with atomic_output(target) as temp:
        assert temp.parent == tmp_path
        assert temp.name.startswith(".out.png.") and temp.name.endswith(".tmp.png")
        assert temp.exists() and not target.exists()
        temp.write_bytes(b"png")
    assert target.read_bytes() == b"png"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]
    names = {atomic_module.temp_path_for(target).name for _ in range(20)}
    assert len(names) == 20


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_atomic_output_leaves_nothing_on_error(tmp_path: Path, error: type[BaseException]) -> None:
    target = tmp_path / "new.flac"
    with pytest.raises(error), atomic_output(target) as temp:
        temp.write_bytes(b"partial")
        raise error("interrupted")
    assert list(tmp_path.iterdir()) == []
    existing = tmp_path / "old.flac"
    existing.write_bytes(b"keep me")
    with pytest.raises(error), atomic_output(existing, overwrite=True) as temp:
        temp.write_bytes(b"partial")
        raise error("interrupted")
    assert existing.read_bytes() == b"keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["old.flac"]


@pytest.mark.parametrize("unnamed", [True, False])
def test_atomic_output_refuses_a_target_created_meanwhile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          unnamed: bool) -> None:
    if not unnamed:
        monkeypatch.setattr(atomic_module, "open_unnamed", lambda directory: None)
    target = tmp_path / "race.nc"
    with pytest.raises(UsageError, match="exists"), atomic_output(target) as temp:
        temp.write_bytes(b"mine")
        target.write_bytes(b"theirs")
    assert target.read_bytes() == b"theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["race.nc"]


def test_atomic_output_refuses_directories_and_missing_parents(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is a directory"):
        atomic_write_bytes(tmp_path, b"x", overwrite=True)
    with pytest.raises(UsageError, match="does not exist"):
        atomic_write_bytes(tmp_path / "missing" / "out.nc", b"x")


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_atomic_output_respects_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "out.nc", b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "out.nc").stat().st_mode & 0o777 == 0o644
