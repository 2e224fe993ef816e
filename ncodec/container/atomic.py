"""Write output files all-or-nothing.

A crash, a full disk or Ctrl-C half-way through writing must never leave a truncated file under
the name the user asked for, nor silently replace a file they did not agree to overwrite. So data
goes to a hidden temporary file in the target's directory (the same file system, so the final
rename is atomic), is flushed to disk, and only then is renamed into place. On any exception,
KeyboardInterrupt included, the temporary file is removed and the target is left as it was.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

from ncodec.errors import OutputError, UsageError

StrPath = str | os.PathLike[str]


_TEMP_NAME = re.compile(r"^\..+\.ncodec-(\d+)-[0-9a-f]{8}\.tmp(\.[^.]*)?$")


def temp_path_for(target: Path) -> Path:
    """A hidden, unique sibling of ``target`` that still ends with ``target``'s extension.

    Writers such as Pillow or PyAV choose the output format from the extension, so
    ``out.png`` gets ``.out.png.ncodec-4242-3f9a1c2e.tmp.png`` rather than a name ending in
    ``.tmp``. The writer's process id is part of the name, so that a later run can tell the
    leftovers of a killed process (see :func:`sweep_stale_temps`) from another run's work.
    """
    return target.with_name(f".{target.name}.ncodec-{os.getpid()}-{secrets.token_hex(4)}.tmp{target.suffix}")


def sweep_stale_temps(directory: Path) -> list[str]:
    """Remove the temporary files of ncodec processes that no longer run; return their names.

    A process killed with SIGKILL cannot remove its temporary file; the next run that writes into
    the same directory does. Only names of the :func:`temp_path_for` form whose process is gone
    are touched.
    """
    removed: list[str] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if match is None or _process_alive(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed.append(entry.name)
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # another user's process, or a number we cannot ask about: leave it alone
    return True


@contextlib.contextmanager
def atomic_output(path: StrPath, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write to; it becomes ``path`` only if the block succeeds.

    The temporary file already exists (empty) when yielded, which reserves its name; the caller
    may write it with ``open`` or hand the path to a library. An existing target is refused with
    :class:`UsageError` unless ``overwrite`` is set, both before the work starts (so the user
    does not wait for a refusal) and again at the rename (another process may have created it).
    """
    target = Path(path)
    _refuse_existing(target, overwrite)
    temp = _create_temp(target)
    try:
        yield temp
        _fsync_file(temp)
        _move_into_place(temp, target, overwrite)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        # A full disk or a file-size limit, here or in a writer working on the temporary file:
        # report it under the name the user asked for, not the temporary one.
        if isinstance(exc, OutputError):
            raise OutputError(str(target), exc.reason) from exc
        if isinstance(exc, OSError) and exc.strerror:
            raise OutputError(str(target), exc.strerror) from exc
        raise
    _fsync_dir(target.parent)


def atomic_write_bytes(path: StrPath, data: bytes, overwrite: bool = False) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_output`)."""
    with atomic_output(path, overwrite) as temp, open(temp, "wb") as handle:
        handle.write(data)


def _refuse_existing(target: Path, overwrite: bool) -> None:
    if target.is_dir():
        raise UsageError(f"{target} is a directory")
    if not overwrite and (target.exists() or target.is_symlink()):
        raise UsageError(f"{target} exists (use -f to overwrite)")
    if not target.parent.is_dir():
        raise UsageError(f"cannot write {target}: directory {target.parent} does not exist")


def create_temp(target: Path) -> Path:
    """Create (empty, O_EXCL) and return a temporary sibling of ``target``; stale ones are swept first."""
    return _create_temp(target)


def _create_temp(target: Path) -> Path:
    sweep_stale_temps(target.parent)
    for _attempt in range(100):
        temp = temp_path_for(target)
        try:
            # O_EXCL: never reuse or clobber another file; mode 0o666 so the umask applies as for
            # any normal output file (mkstemp's 0o600 would surprise the user after the rename).
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        except OSError as exc:
            raise UsageError(f"cannot write in {target.parent}: {exc.strerror}") from None
        os.close(fd)
        return temp
    raise UsageError(f"cannot create a temporary file next to {target}")  # pragma: no cover


def _fsync_file(path: Path) -> None:
    """Flush the data to disk before the rename, or a crash could leave a renamed empty file."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _move_into_place(temp: Path, target: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(temp, target)
        return
    # Without overwrite, link() is an atomic "rename unless the target exists"; it is not available
    # everywhere (some file systems), in which case check-then-rename is the best there is.
    try:
        os.link(temp, target)
    except FileExistsError:
        raise UsageError(f"{target} exists (use -f to overwrite)") from None
    except OSError:
        if target.exists() or target.is_symlink():
            raise UsageError(f"{target} exists (use -f to overwrite)") from None
        os.replace(temp, target)
        return
    temp.unlink()


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable; best effort, as not every platform can open a directory."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
