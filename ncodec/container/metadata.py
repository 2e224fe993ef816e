"""The metadata block: canonical JSON, written deterministically and parsed under limits.

Metadata is what a decoder needs besides the chunks (shapes, sample rate, frame rate, original
format). It is JSON, never pickle, so that reading a file can never run code, and it is restricted
to the JSON data model (dict / list / str / int / float / bool / None) so that what a reader gets
back is exactly what the writer was given: no tuples turning into lists, no NaN that one
implementation writes and another refuses.

The writer produces one canonical byte string per value (sorted keys, no whitespace, UTF-8), so
encoding the same inputs always gives the same file; golden-file tests rely on that. The reader
does not insist on the canonical byte form (another implementation may format a float
differently) but enforces the same data model, size and nesting limits as the writer, so that
every file it accepts can be written again.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any, NoReturn

from ncodec.errors import FormatError, LimitError, UsageError

#: Largest metadata block, in bytes of UTF-8 JSON. Metadata describes the media; it never holds it.
MAX_METADATA_BYTES = 1 << 20
#: Deepest nesting of JSON containers; the top-level object counts as depth 1.
MAX_JSON_DEPTH = 32

# Integers are kept to the signed 64-bit range so that any JSON implementation, and any language a
# third-party reader is written in, gets the exact value back.
_INT_MIN = -(1 << 63)
_INT_MAX = (1 << 63) - 1

# A JSON string token: a quote, then characters or escape pairs, then a quote. Removing all of them
# leaves only structural characters, whose brackets then give the nesting depth.
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\[\s\S])*"')
_BRACKETS = re.compile(r"[\[\]{}]")


def encode_metadata(metadata: Mapping[str, Any]) -> bytes:
    """Return the canonical UTF-8 JSON of ``metadata``, validated against the data model and limits.

    Raises :class:`UsageError` for a value outside the JSON data model (tuples, sets, bytes, NaN,
    non-string keys, ...) and :class:`LimitError` when the block would be too large or too deep for
    a reader to accept.
    """
    if not isinstance(metadata, Mapping):
        raise UsageError(f"metadata must be a dict, not {type(metadata).__name__}")
    plain = _normalise(metadata, "metadata", 1, UsageError)
    text = json.dumps(plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    data = text.encode("utf-8")
    if len(data) > MAX_METADATA_BYTES:
        raise LimitError(f"metadata is {len(data)} bytes of JSON, over the {MAX_METADATA_BYTES} byte limit")
    return data


def decode_metadata(raw: bytes | bytearray | memoryview) -> dict[str, Any]:
    """Parse a metadata block; only :class:`FormatError` (or its :class:`LimitError`) escapes.

    The nesting depth is measured on the text before ``json`` sees it, because the parser recurses
    and a megabyte of ``[`` would otherwise exhaust the interpreter's stack.
    """
    if len(raw) > MAX_METADATA_BYTES:
        raise LimitError(f"metadata is {len(raw)} bytes, over the {MAX_METADATA_BYTES} byte limit")
    try:
        text = bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(f"metadata is not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    depth = _text_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise LimitError(f"metadata JSON is nested {depth} deep, over the limit of {MAX_JSON_DEPTH}")
    try:
        value = json.loads(text, object_pairs_hook=_object_without_duplicates, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        # JSONDecodeError is a ValueError; so is Python's refusal of integers with huge digit counts.
        raise FormatError(f"metadata is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise FormatError(f"metadata must be a JSON object, found {type(value).__name__}")
    result: dict[str, Any] = _normalise(value, "metadata", 1, FormatError)
    return result


def _text_depth(text: str) -> int:
    """Return the deepest bracket nesting of JSON ``text`` (an upper bound for malformed text)."""
    depth = deepest = 0
    for match in _BRACKETS.finditer(_JSON_STRING.sub("", text)):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Build a JSON object, refusing duplicate keys that ``json`` would silently collapse."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise FormatError(f"metadata JSON has the key {key!r} twice")
        result[key] = value
    return result


def _no_constant(name: str) -> NoReturn:
    """Refuse NaN / Infinity / -Infinity, which are not JSON and compare unequal to themselves."""
    raise FormatError(f"metadata JSON contains {name}, which is not allowed")


def _normalise(value: Any, where: str, depth: int, error: type[Exception]) -> Any:
    """Check ``value`` against the metadata data model and return a plain copy of it.

    Subclasses (an ``IntEnum``, a ``numpy.float64``) become their base type so that what is read
    back equals what was written; anything outside the model raises ``error`` naming where it is.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            _fail(error, f"{where} = {value} is outside the signed 64-bit range")
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            _fail(error, f"{where} is {value}; NaN and infinities are not allowed")
        return float(value)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            _fail(error, f"{where} contains a lone surrogate and cannot be written as UTF-8")
        return str(value)
    if isinstance(value, (dict, list)) or (isinstance(value, Mapping) and error is UsageError):
        if depth > MAX_JSON_DEPTH:
            raise LimitError(f"{where} is nested {depth} deep, over the limit of {MAX_JSON_DEPTH}")
        if isinstance(value, list):
            return [_normalise(item, f"{where}[{i}]", depth + 1, error) for i, item in enumerate(value)]
        result: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                _fail(error, f"{where} has a key of type {type(key).__name__}; keys must be strings")
            result[str(key)] = _normalise(item, f"{where}[{key!r}]", depth + 1, error)
        return result
    if isinstance(value, tuple):
        _fail(error, f"{where} is a tuple; use a list (a round trip must give back what was written)")
    _fail(
        error,
        f"{where} has type {type(value).__module__}.{type(value).__qualname__}; "
        "only dict, list, str, int, float, bool and None are allowed",
    )


def _fail(error: type[Exception], message: str) -> NoReturn:
    raise error(message)
