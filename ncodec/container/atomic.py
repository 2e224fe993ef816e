"""Write output files all-or-nothing.

A crash, a full disk or Ctrl-C half-way through writing must never leave a truncated file under
the name the user asked for, nor silently replace a file they did not agree to overwrite. So data
goes to an unnamed file in the target's directory (Linux ``O_TMPFILE``; elsewhere a hidden
temporary file), on the same file system so that naming it is atomic, is flushed to disk, and only
then is named. On any exception, KeyboardInterrupt included, the data is dropped and the target
is left as it was; a SIGKILL leaves nothing where unnamed files exist, and otherwise a temporary
file that the next run writing into that folder removes.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

from ncodec._stop_points import BEFORE_NAMING_OUTPUT, stop_point
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
    """Yield a path to write to; what is written there becomes ``path`` only if the block succeeds.

    On Linux the path is an unnamed file (see :func:`unnamed_output`), which a killed process
    cannot leave behind; elsewhere it is a hidden temporary file that already exists (empty) when
    yielded, which reserves its name. Either way the yielded path may have no extension: callers
    handing it to a library name the format explicitly. An existing target is refused with
    :class:`UsageError` unless ``overwrite`` is set, both before the work starts (so the user
    does not wait for a refusal) and again when the file is named (another process may have
    created it meanwhile).
    """
    target = Path(path)
    _refuse_existing(target, overwrite)
    with _reported_under(target), unnamed_output(target, overwrite) as temp:
        yield Path(temp)
    _fsync_dir(target.parent)


@contextlib.contextmanager
def _reported_under(target: Path) -> Iterator[None]:
    """A full disk or a file-size limit, here or in a writer working on the temporary file, is
    reported under the name the user asked for, not the temporary one."""
    try:
        yield
    except OutputError as exc:
        raise OutputError(str(target), exc.reason) from exc
    except OSError as exc:
        if exc.strerror:
            raise OutputError(str(target), exc.strerror) from exc
        raise


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


@contextlib.contextmanager
def unnamed_output(path: StrPath, overwrite: bool = True) -> Iterator[str]:
    """Yield a path to write ``path``'s data to; the file has no name until the block succeeds.

    For long streaming writes (an hour of decoded audio or video): with a named temporary file, a
    SIGKILL half-way leaves that file behind until a later run sweeps it. On Linux the data goes
    to an unnamed file (``O_TMPFILE``) instead, which the kernel frees when the process dies
    however it dies; it is written through ``/proc/self/fd/N`` and linked into place, under a
    temporary name for a moment and then renamed over ``path``, only when complete. Writers must
    name their format explicitly: the yielded path has no extension. Where unnamed files are not
    available (another OS, a file system without them) a named temporary file is used instead.
    An existing ``path`` is replaced unless ``overwrite`` is False: callers check for one before
    the work starts too, so that the user does not wait for a refusal.
    """
    target = Path(path)
    fd = open_unnamed(target.parent)
    if fd is None:
        temp = _create_temp(target)
        try:
            yield str(temp)
            _fsync_file(temp)
            stop_point(BEFORE_NAMING_OUTPUT)
            _move_into_place(temp, target, overwrite)
        except BaseException:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise
        return
    try:
        yield f"/proc/self/fd/{fd}"
        os.fsync(fd)
        stop_point(BEFORE_NAMING_OUTPUT)
        link_unnamed(fd, target, overwrite)
    finally:
        os.close(fd)


def open_unnamed(directory: Path) -> int | None:
    """An unnamed, writable file in ``directory`` (``O_TMPFILE``), or None where there is none."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or not os.path.isdir("/proc/self/fd"):
        return None
    sweep_stale_temps(directory)
    try:
        return os.open(directory, flag | os.O_RDWR, 0o666)
    except OSError:
        return None  # e.g. EOPNOTSUPP: this file system has no unnamed files


def link_unnamed(fd: int, target: Path, overwrite: bool = True) -> None:
    """Give the finished unnamed file ``fd`` the name ``target`` atomically; an existing
    ``target`` is replaced only with ``overwrite``.

    ``linkat`` with ``AT_SYMLINK_FOLLOW`` on ``/proc/self/fd/N`` is what names an unnamed file
    without privileges; Python's ``os.link`` only calls ``linkat`` (rather than ``link``, which
    would try to link the ``/proc`` entry itself) when a directory descriptor is given, hence
    ``dst_dir_fd``. Should linking fail all the same, the data is copied to a named temporary file.
    """
    directory = os.open(target.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        for _attempt in range(100):
            temp = temp_path_for(target)
            try:
                os.link(f"/proc/self/fd/{fd}", temp.name, dst_dir_fd=directory, follow_symlinks=True)
            except FileExistsError:
                continue
            except OSError:
                _copy_into_place(fd, target, overwrite)
                return
            try:
                _move_into_place(temp, target, overwrite)
            except BaseException:
                with contextlib.suppress(OSError):
                    temp.unlink()
                raise
            return
    finally:
        os.close(directory)
    raise UsageError(f"cannot create a temporary file next to {target}")  # pragma: no cover


def _copy_into_place(fd: int, target: Path, overwrite: bool) -> None:
    temp = _create_temp(target)
    try:
        with open(temp, "wb") as out:
            os.lseek(fd, 0, os.SEEK_SET)
            while block := os.read(fd, 1 << 20):
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
        _move_into_place(temp, target, overwrite)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise


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
