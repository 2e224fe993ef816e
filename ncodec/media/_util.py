"""Shared plumbing for the media readers and writers: naming sources in errors, wrapping library
exceptions into one-line :class:`InputError` messages, and writing files atomically.

Pillow and FFmpeg report problems with their own exception types and messages (sometimes several
lines, sometimes naming internals). Users should see one line that names *their* file and says what
is wrong, so every decode boundary funnels exceptions through :func:`input_error`.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Collection, Iterator
from typing import Any

import av

from ncodec.errors import InputError, NcodecError, OutputError, UsageError

#: What the readers accept as a file: a path, or the file's bytes already in memory.
SourceLike = str | os.PathLike[str] | bytes


def source_name(source: object) -> str:
    """A short human name for ``source`` to put in error messages."""
    if isinstance(source, str | os.PathLike):
        return str(os.fspath(source))
    if isinstance(source, bytes | bytearray | memoryview):
        return "<bytes>"
    return f"<{type(source).__name__}>"


def one_line(text: str, limit: int = 200) -> str:
    """Collapse a (possibly multi-line) library message to one line of reasonable length."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def exc_reason(exc: BaseException) -> str:
    """A one-line reason from a library exception, without FFmpeg's errno prefix and file echo."""
    strerror = getattr(exc, "strerror", None)
    if isinstance(strerror, str) and strerror:
        return one_line(strerror)
    text = str(exc) or type(exc).__name__
    return one_line(text)


def input_error(name: str, reason: str) -> InputError:
    """The one error shape for unreadable input: ``cannot read 'name': reason``."""
    return InputError(f"cannot read '{name}': {reason}")


def check_path(source: SourceLike) -> str:
    """Validate that a path source names a readable regular file; return its display name.

    Checking up front gives "no such file" instead of whatever FFmpeg or Pillow would say.
    Byte sources are accepted as they are (an empty buffer is refused).
    """
    name = source_name(source)
    if isinstance(source, bytes | bytearray | memoryview):
        if len(source) == 0:
            raise input_error(name, "empty input")
        return name
    if not isinstance(source, str | os.PathLike):
        raise UsageError(f"expected a path or bytes, got {type(source).__name__}")
    path = os.fspath(source)
    if not os.path.exists(path):
        raise input_error(name, "no such file")
    if not os.path.isfile(path):
        raise input_error(name, "not a regular file")
    if not os.access(path, os.R_OK):
        raise input_error(name, "permission denied")
    if os.path.getsize(path) == 0:
        raise input_error(name, "empty file")
    return name


def av_target(source: SourceLike) -> Any:
    """What to hand to ``av.open``/``Image.open``: the path, or a seekable in-memory file."""
    if isinstance(source, bytes | bytearray | memoryview):
        return io.BytesIO(bytes(source))
    return os.fspath(source)


def reraise_as_input(name: str, exc: BaseException) -> NcodecError:
    """Map an exception raised while decoding ``name`` to the error to raise.

    Our own errors pass through unchanged (they already carry a good message); anything else
    from the libraries becomes an :class:`InputError`.
    """
    if isinstance(exc, NcodecError):
        return exc
    if isinstance(exc, MemoryError):
        return input_error(name, "not enough memory to decode it")
    return input_error(name, exc_reason(exc))


def output_extension(path: str | os.PathLike[str], supported: Collection[str], kind: str) -> str:
    """Return the lower-cased extension of ``path`` if ``supported`` has it, else a UsageError."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in supported:
        names = ", ".join(sorted(supported))
        shown = ext or "no extension"
        raise UsageError(
            f"cannot write '{os.fspath(path)}': unsupported {kind} extension ({shown}); use one of {names}"
        )
    return ext


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], overwrite: bool = True) -> Iterator[str]:
    """Yield a temporary path beside ``path`` and move it into place only if the body succeeds.

    A crash or an encoder error halfway must not leave a truncated file under the requested name
    (a half-written FLAC or MKV still opens and silently looks shorter). On Linux the data is
    written to an unnamed file that a killed process cannot leave behind
    (:func:`ncodec.container.atomic.unnamed_output`); the yielded path has no extension, so
    writers name their format explicitly. With ``overwrite`` False an existing ``path`` is
    refused, atomically at the moment the file is named.
    """
    target = os.fspath(path)
    directory = os.path.dirname(target) or "."
    if not os.path.isdir(directory):
        raise UsageError(f"cannot write '{target}': directory '{directory}' does not exist")
    if os.path.isdir(target):
        raise UsageError(f"cannot write '{target}': it is a directory")
    from ncodec.container.atomic import unnamed_output

    try:
        with unnamed_output(target, overwrite) as tmp:
            yield tmp
    except BaseException as exc:
        # Only the failures a user can cause (disk full, permissions, an encoder refusing the
        # parameters) become UsageError; anything else is a bug and keeps its traceback.
        if isinstance(exc, OSError) and not isinstance(exc, av.FFmpegError):
            raise OutputError(target, exc_reason(exc)) from exc
        if isinstance(exc, av.FFmpegError) and not isinstance(exc, NcodecError):
            raise UsageError(f"cannot write '{target}': {exc_reason(exc)}") from exc
        raise
