"""Nothing lost: a killed or failing run leaves no output, no temporary file, no changed file.

A SIGKILL cannot be caught, so what makes this hold is the order of work: every output is
written to an unnamed file (or, where there is none, under a hidden temporary name) and named
only when complete, so a kill at any moment finds no file of ours on disk. The kill tests stop the
run at the worst moment, all data written and nothing named yet (``NCODEC_STOP_AT``), rather than
after some seconds, which would pass or fail with the speed of the machine.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ncodec import api
from ncodec.media.image import ImageData


def _kill_before_naming(args: list[str], cwd: Path) -> int:
    """Run ``ncodec ARGS``, stopped once its output is written but not yet named; SIGKILL it there.

    Returns its exit status: -SIGKILL when it was killed at that point.
    """
    from ncodec._stop_points import BEFORE_NAMING_OUTPUT, STOP_AT_ENV

    proc = subprocess.Popen([sys.executable, "-m", "ncodec", *args], cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env={**os.environ, STOP_AT_ENV: BEFORE_NAMING_OUTPUT})
    _pid, status = os.waitpid(proc.pid, os.WUNTRACED)
    if not os.WIFSTOPPED(status):  # it ended without reaching the point: let wait() report how
        proc.returncode = None
        return os.waitstatus_to_exitcode(status)
    os.kill(proc.pid, signal.SIGKILL)
    return proc.wait()


def _ours(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or p.suffix in (".nc", ".png"))


def test_a_killed_encode_leaves_no_file_and_never_touches_an_existing_one(tmp_path: Path,
                                                                          photo: np.ndarray) -> None:
    if not _has_unnamed_files(tmp_path):
        pytest.skip("no unnamed files (O_TMPFILE) here: the next run sweeps the leftover instead")
    src = _png(tmp_path, photo)
    existing = tmp_path / "kept.nc"
    existing.write_bytes(b"the user's file")
    for target, extra in ((tmp_path / "new.nc", []), (existing, ["-f"])):
        status = _kill_before_naming(["encode", str(src), str(target), *extra], tmp_path)
        assert status == -signal.SIGKILL, "the encode never reached the point before naming its output"
    assert not (tmp_path / "new.nc").exists()
    assert existing.read_bytes() == b"the user's file"
    assert _ours(tmp_path) == ["kept.nc", "photo.png"]  # no hidden temporary file either


@pytest.mark.parametrize("name", ["back.png", "back.tiff", "back.jpg"])
def test_a_killed_image_decode_leaves_no_file(tmp_path: Path, photo: np.ndarray, name: str) -> None:
    if not _has_unnamed_files(tmp_path):
        pytest.skip("no unnamed files (O_TMPFILE) here: the next run sweeps the leftover instead")
    api.encode_file(_png(tmp_path, photo), tmp_path / "photo.nc", quality=1)
    status = _kill_before_naming(["decode", str(tmp_path / "photo.nc"), str(tmp_path / name)], tmp_path)
    assert status == -signal.SIGKILL, "the decode never reached the point before naming its output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.nc", "photo.png"]


def test_without_unnamed_files_a_kill_leaves_only_what_the_next_run_sweeps(tmp_path: Path, photo: np.ndarray) -> None:
    """Where the system has no unnamed files, the named temporary file is all a kill can leave."""
    src = _png(tmp_path, photo)
    script = "import os, sys; del os.O_TMPFILE; from ncodec.cli.main import main; sys.exit(main())"
    from ncodec._stop_points import BEFORE_NAMING_OUTPUT, STOP_AT_ENV

    proc = subprocess.Popen([sys.executable, "-c", script, "encode", str(src), str(tmp_path / "new.nc")],
                            cwd=tmp_path, env={**os.environ, STOP_AT_ENV: BEFORE_NAMING_OUTPUT})
    _pid, status = os.waitpid(proc.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    left = [p for p in tmp_path.iterdir() if p.name not in ("photo.png",)]
    assert len(left) == 1 and left[0].name.startswith(".new.nc.ncodec-"), left
    api.encode_file(src, tmp_path / "again.nc", quality=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.nc", "photo.png"]


def _limit_file_size(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@pytest.mark.parametrize("command", ["encode", "decode"])
def test_a_full_disk_is_one_clean_error_and_no_partial_file(tmp_path: Path, command: str, photo: np.ndarray) -> None:
    """The file-size limit (ulimit -f) stands in for a full disk: writes fail with EFBIG."""
    src = tmp_path / "photo.png"
    Image.fromarray(photo).save(src)
    nc = tmp_path / "photo.nc"
    api.encode_file(src, nc, quality=8)
    size_limit = 64  # bytes: smaller than any output, larger than nothing
    target = tmp_path / ("out.nc" if command == "encode" else "out.png")
    args = [str(src), str(target)] if command == "encode" else [str(nc), str(target)]
    run = subprocess.run([sys.executable, "-m", "ncodec", command, *args], capture_output=True, text=True,
                         preexec_fn=lambda: _limit_file_size(size_limit), cwd=tmp_path)
    assert run.returncode == 1, run.stderr
    assert run.stderr.count("\n") == 1 and "error" in run.stderr, run.stderr
    assert not target.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_nothing_named_in_a_file_is_imported_or_unpickled(tmp_path: Path) -> None:
    """Model ids are looked up in the registry only; an unknown id is refused, whatever else the file says."""
    from ncodec.container.format import ContainerHeader, Modality, read_container, write_container
    from ncodec.errors import ModelMismatchError

    data = api.encode(ImageData(np.zeros((16, 16, 3), np.uint8), 8, None), quality=1)
    c = read_container(data)
    hostile = write_container(ContainerHeader(Modality.IMAGE, 999, c.header.weights_sha256, c.header.coder_id,
                                              c.header.coder_version),
                              {**c.metadata, "factory": "os:system", "module": "subprocess"}, c.chunks)
    before = set(sys.modules)
    with pytest.raises(ModelMismatchError):
        api.decode(hostile)
    assert not {m for m in set(sys.modules) - before if m in ("subprocess", "pickle") and m not in before}
    assert os.environ.get("NCODEC_NEVER_SET") is None


def _has_unnamed_files(folder: Path) -> bool:
    """Whether this system and file system give unnamed files (Linux O_TMPFILE on ext4, tmpfs, ...)."""
    from ncodec.container.atomic import open_unnamed

    fd = open_unnamed(folder)
    if fd is None:
        return False
    os.close(fd)
    return True


_KILLED_MID_WRITE = """
import os, signal, sys
from fractions import Fraction
import numpy as np
from ncodec.media.audio import open_audio_writer
from ncodec.media.video import open_video_writer

kind, target = sys.argv[1], sys.argv[2]
if kind == "audio":
    with open_audio_writer(target, 16000, 2) as writer:
        writer.write(np.zeros((2, 160000), np.float32))
        os.kill(os.getpid(), signal.SIGKILL)
else:
    with open_video_writer(target, 64, 48, Fraction(25)) as writer:
        writer.write(np.zeros((30, 48, 64, 3), np.uint8))
        os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize("name", ["talk.wav", "talk.flac", "clip.mp4", "clip.mkv", "clip.y4m", "frame_%03d.png"])
def test_a_streaming_write_killed_half_way_leaves_nothing(tmp_path: Path, name: str) -> None:
    """Streaming decodes write as they go; killed half-way, they leave no file at all, not even a
    hidden one (the data goes to an unnamed file where the system has them: Linux)."""
    if not _has_unnamed_files(tmp_path):
        pytest.skip("no unnamed files (O_TMPFILE) here: the next run sweeps the leftover instead")
    kind = "audio" if name.endswith((".wav", ".flac")) else "video"
    run = subprocess.run([sys.executable, "-c", _KILLED_MID_WRITE, kind, str(tmp_path / name)], cwd=tmp_path)
    assert run.returncode == -signal.SIGKILL
    assert list(tmp_path.iterdir()) == []


def test_the_next_run_removes_what_a_killed_run_left(tmp_path: Path, photo: np.ndarray) -> None:
    """Where a killed run could leave a hidden temporary file (systems without unnamed files, a PNG
    sequence longer than the open-file budget), the next run writing into that folder removes such
    leftovers, and only those of processes that no longer run."""
    from ncodec.container.atomic import temp_path_for

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    stale = tmp_path / temp_path_for(tmp_path / "talk.wav").name.replace(f"-{os.getpid()}-",
                                                                          f"-{dead.stdout.strip()}-")
    stale.write_bytes(b"half a file")
    alive = temp_path_for(tmp_path / "other.wav")  # this process's: still at work, not touched
    alive.write_bytes(b"in progress")
    unrelated = tmp_path / ".hidden.wav"
    unrelated.write_bytes(b"not ours")
    api.encode_file(_png(tmp_path, photo), tmp_path / "photo.nc", quality=1)
    assert not stale.exists() and alive.exists() and unrelated.exists()


def _png(folder: Path, pixels: np.ndarray) -> Path:
    path = folder / "photo.png"
    Image.fromarray(pixels).save(path)
    return path


def test_a_png_sequence_past_its_open_file_budget_still_lands_whole(tmp_path: Path) -> None:
    """Frames beyond the unnamed-file budget go to named temporary files; all land on commit."""
    from ncodec.media.video import PngSequenceWriter

    writer = PngSequenceWriter(str(tmp_path / "f_%02d.png"))
    writer.unnamed_budget = 2
    writer.write(np.zeros((5, 4, 6, 3), np.uint8))
    assert len([p for p in tmp_path.iterdir() if p.name.startswith(".")]) == (3 if _has_unnamed_files(tmp_path)
                                                                             else 5)
    writer.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"f_{i:02d}.png" for i in range(1, 6)]
    assert Image.open(tmp_path / "f_05.png").size == (6, 4)


def test_an_unnamed_file_that_cannot_be_linked_is_copied_into_place(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Where naming an unnamed file fails (a file system that refuses linkat), the data still lands."""
    import errno

    from ncodec.container import atomic

    if not _has_unnamed_files(tmp_path):
        pytest.skip("no unnamed files (O_TMPFILE) here")

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(atomic.os, "link", refuse)
    target = tmp_path / "out.bin"
    with atomic.unnamed_output(target) as path, open(path, "wb") as handle:
        handle.write(b"x" * 3_000_000)
    assert target.read_bytes() == b"x" * 3_000_000
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
