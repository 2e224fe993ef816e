"""Mutations of ``.nc`` files: raw damage, and hostile edits that keep the container valid.

Raw mutations (bit flips, overwritten, inserted and deleted bytes, truncation) model accidents;
almost all of them stop at a CRC. Structural mutations model an attacker: the file is parsed, a
header field, a metadata value or a chunk payload is changed, and the container is written again
with every length and CRC recomputed, so the mutant reaches the codec's metadata checks, its
stream parsers, the entropy decoder and the networks. Every mutation is a pure function of the
input and a :class:`random.Random`, so a run is reproducible from its seed.
"""

from __future__ import annotations

import random
from typing import Any

from ncodec.container.format import ContainerHeader, Modality, read_container, write_container
from ncodec.errors import NcodecError

INTERESTING_INTS = (0, 1, -1, 2, 3, 7, 8, 15, 16, 17, 63, 64, 65, 127, 128, 255, 256, 1023, 1024, 4096, 65535,
                    65536, 1 << 20, (1 << 20) + 1, 1 << 24, 1 << 31, (1 << 31) - 1, 1 << 32, 1 << 53, 1 << 63,
                    -(1 << 31), 10**12, 10**30)
INTERESTING_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF)


def mutate(data: bytes, rng: random.Random, max_size: int = 1 << 20) -> bytes:
    """One mutant of ``data``: structural half of the time (when ``data`` parses), raw otherwise."""
    if rng.random() < 0.5:
        mutant = structural_mutation(data, rng)
        if mutant is not None:
            return mutant[:max_size]
    return raw_mutation(data, rng)[:max_size]


def raw_mutation(data: bytes, rng: random.Random) -> bytes:
    """One to four byte-level edits."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        if not buf:
            buf.extend(rng.randbytes(rng.randint(1, 16)))
            continue
        i = rng.randrange(len(buf))
        if op == 0:
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1:
            buf[i] = rng.choice(INTERESTING_BYTES)
        elif op == 2:
            buf[i:i] = rng.randbytes(rng.randint(1, 16))
        elif op == 3:
            del buf[i:i + rng.randint(1, 16)]
        elif op == 4:
            del buf[i:]
        elif op == 5:
            j = rng.randrange(len(buf))
            n = rng.randint(1, 32)
            buf[i:i] = buf[j:j + n]
        else:
            for k in range(i, min(len(buf), i + rng.randint(1, 8))):
                buf[k] = rng.randrange(256)
    return bytes(buf)


def structural_mutation(data: bytes, rng: random.Random) -> bytes | None:
    """A valid container with one hostile edit, or None if ``data`` does not parse or the edit
    produced something the writer refuses (a value JSON cannot hold, a bad tag)."""
    try:
        container = read_container(data)
    except NcodecError:
        return None
    header = container.header
    metadata = dict(container.metadata)
    chunks = dict(container.chunks)
    for _ in range(rng.randint(1, 3)):
        kind = rng.random()
        if kind < 0.45:
            _mutate_metadata(metadata, rng)
        elif kind < 0.9:
            chunks = _mutate_chunks(chunks, rng)
        else:
            header = _mutate_header(header, rng)
    try:
        return write_container(header, metadata, chunks)
    except (NcodecError, ValueError, TypeError, OverflowError):
        return None


def _interesting_value(old: Any, rng: random.Random) -> Any:
    if isinstance(old, bool) or rng.random() < 0.15:
        return rng.choice([None, True, False, "", "x" * rng.randint(1, 64), [], {}, [1, 2], {"a": 1}, 0.5, -1e300])
    if isinstance(old, int):
        return rng.choice([old + rng.choice((-1, 1)), old * rng.choice((2, 1000, -1)), rng.choice(INTERESTING_INTS)])
    if isinstance(old, float):
        return rng.choice([old * 2, -old, 0.0, 1e308, 5e-324, old + 0.001, float(rng.choice(INTERESTING_INTS))])
    if isinstance(old, str):
        return rng.choice(["", old[::-1], old + "0", "0/0", "1/0", "-30000/1001", "30000/1001" * 100, "\u00e9"])
    if isinstance(old, list):
        out = list(old)
        if out and rng.random() < 0.5:
            i = rng.randrange(len(out))
            out[i] = _interesting_value(out[i], rng)
        elif out and rng.random() < 0.5:
            del out[rng.randrange(len(out))]
        else:
            out.append(rng.choice(INTERESTING_INTS))
        return out
    if isinstance(old, dict):
        out_d = dict(old)
        _mutate_metadata(out_d, rng)
        return out_d
    return rng.choice(INTERESTING_INTS)


def _mutate_metadata(metadata: dict[str, Any], rng: random.Random) -> None:
    if not metadata or rng.random() < 0.1:
        metadata[rng.choice(["width", "height", "frames", "quality", "k", "extra", "samples"])] = \
            rng.choice(INTERESTING_INTS)
        return
    key = rng.choice(sorted(metadata))
    if rng.random() < 0.1:
        del metadata[key]
    else:
        metadata[key] = _interesting_value(metadata[key], rng)


def _mutate_chunks(chunks: dict[str, bytes], rng: random.Random) -> dict[str, bytes]:
    tags = list(chunks)
    if not tags:
        return {"DATA": rng.randbytes(rng.randint(0, 64))}
    tag = rng.choice(tags)
    payload = bytearray(chunks[tag])
    op = rng.randrange(8)
    if op <= 2 and payload:
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(payload))
            payload[i] = rng.randrange(256) if op else payload[i] ^ (1 << rng.randrange(8))
        chunks[tag] = bytes(payload)
    elif op == 3:
        chunks[tag] = bytes(payload[:rng.randint(0, len(payload))])
    elif op == 4:
        chunks[tag] = bytes(payload) + rng.randbytes(rng.randint(1, 256))
    elif op == 5:
        del chunks[tag]
    elif op == 6 and len(tags) > 1:
        other = rng.choice([t for t in tags if t != tag])
        chunks[tag], chunks[other] = chunks[other], chunks[tag]
    else:
        order = tags[:]
        rng.shuffle(order)
        chunks = {t: chunks[t] for t in order}
        if rng.random() < 0.5:
            chunks[tag] = bytes(len(payload))
    return chunks


def _mutate_header(header: ContainerHeader, rng: random.Random) -> ContainerHeader:
    from ncodec.registry import MODELS

    field = rng.randrange(4)
    if field == 0:
        return ContainerHeader(header.modality, rng.choice([m.model_id for m in MODELS] + [0, 65535]),
                               header.weights_sha256, header.coder_id, header.coder_version)
    if field == 1:
        return ContainerHeader(rng.choice(list(Modality)), header.model_id, header.weights_sha256,
                               header.coder_id, header.coder_version)
    if field == 2:
        flipped = bytearray(header.weights_sha256)
        flipped[rng.randrange(32)] ^= 1
        return ContainerHeader(header.modality, header.model_id, bytes(flipped), header.coder_id,
                               header.coder_version)
    return ContainerHeader(header.modality, header.model_id, header.weights_sha256,
                           rng.choice([0, 1, 2, 65535]), rng.choice([0, 1, 2, 3, 65535]))
