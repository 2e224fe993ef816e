"""Nothing lost: a killed or failing run leaves no output, no temporary file, no changed file.

A SIGKILL cannot be caught, so what makes this hold is the order of work: every output is
written under a hidden temporary name and renamed into place only when complete, and encoders
write their (small) output only after the work is done, so a kill during the work finds no file
of ours on disk at all.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ncodec import api
from ncodec.media.image import ImageData


def _big_photo(path: Path) -> None:
    """A 2048x1536 photo-like image: long enough to encode that a kill lands mid-work."""
    from ncodec.media.image import read_image
    from ncodec.media.samples import sample_photo_path

    tile = read_image(sample_photo_path()).pixels
    big = np.tile(tile, (4, 4, 1))[:1536, :2048]
    Image.fromarray(np.ascontiguousarray(big)).save(path)


def _run_and_kill(args: list[str], cwd: Path, after_s: float) -> int:
    """Start ``ncodec ARGS``, wait until it is working, SIGKILL it; returns its exit status."""
    proc = subprocess.Popen([sys.executable, "-m", "ncodec", *args], cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(after_s)
    proc.send_signal(signal.SIGKILL)
    return proc.wait()


def _ours(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or p.suffix in (".nc", ".png"))


def test_a_killed_encode_leaves_no_file_and_never_touches_an_existing_one(tmp_path: Path) -> None:
    src = tmp_path / "big.png"
    _big_photo(src)
    existing = tmp_path / "kept.nc"
    existing.write_bytes(b"the user's file")
    for target, extra in ((tmp_path / "new.nc", []), (existing, ["-f"])):
        status = _run_and_kill(["encode", str(src), str(target), *extra], tmp_path, after_s=4.0)
        assert status == -signal.SIGKILL, "the encode finished before the kill: make the input larger"
    assert not (tmp_path / "new.nc").exists()
    assert existing.read_bytes() == b"the user's file"
    assert _ours(tmp_path) == ["big.png", "kept.nc"]  # no hidden temporary file either


def test_a_killed_image_decode_leaves_no_file(tmp_path: Path) -> None:
    src = tmp_path / "big.png"
    _big_photo(src)
    api.encode_file(src, tmp_path / "big.nc", quality=1)
    status = _run_and_kill(["decode", str(tmp_path / "big.nc"), str(tmp_path / "back.png")], tmp_path, after_s=4.0)
    assert status == -signal.SIGKILL
    assert _ours(tmp_path) == ["big.nc", "big.png"]


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
