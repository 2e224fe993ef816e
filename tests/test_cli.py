"""The command line through a subprocess: exit codes, messages, overwrite refusal, no partial files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ncodec.registry import shipped_asset as assets_path


def ncodec(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ncodec", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


def _one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert lines[0].startswith("ncodec: error: ")
    return lines[0]


@pytest.fixture
def small_png(tmp_path: Path) -> Path:
    path = tmp_path / "small.png"
    pixels = np.asarray(Image.open(assets_path("rocket.jpg")).convert("RGB"))[200:264, 300:396]
    Image.fromarray(np.ascontiguousarray(pixels)).save(path)
    return path


def test_encode_decode_info_round_trip(tmp_path: Path, small_png: Path) -> None:
    nc, back = tmp_path / "small.nc", tmp_path / "back.png"
    enc = ncodec("encode", str(small_png), str(nc), "--quality", "3")
    assert enc.returncode == 0, enc.stderr
    assert "bpp" in enc.stdout
    dec = ncodec("decode", str(nc), str(back))
    assert dec.returncode == 0, dec.stderr
    assert Image.open(back).size == (96, 64)
    info = ncodec("info", str(nc), "--json")
    assert info.returncode == 0
    summary = json.loads(info.stdout)
    assert summary["modality"] == "image" and summary["quality"] == 3
    assert summary["file_bytes"] == nc.stat().st_size


def test_jpeg_and_webp_inputs_are_accepted(tmp_path: Path, small_png: Path) -> None:
    for ext in ("jpg", "webp"):
        src = tmp_path / f"in.{ext}"
        Image.open(small_png).save(src)
        out = ncodec("encode", str(src), str(tmp_path / f"{ext}.nc"))
        assert out.returncode == 0, out.stderr


def test_refuses_to_overwrite_without_force(tmp_path: Path, small_png: Path) -> None:
    nc = tmp_path / "x.nc"
    nc.write_bytes(b"keep me")
    proc = ncodec("encode", str(small_png), str(nc))
    assert proc.returncode == 2
    assert "-f" in _one_line_error(proc)
    assert nc.read_bytes() == b"keep me"
    assert ncodec("encode", str(small_png), str(nc), "-f").returncode == 0
    assert nc.read_bytes() != b"keep me"


def test_damaged_file_gives_one_line_and_no_output(tmp_path: Path, small_png: Path) -> None:
    nc = tmp_path / "x.nc"
    assert ncodec("encode", str(small_png), str(nc)).returncode == 0
    data = bytearray(nc.read_bytes())
    data[len(data) // 2] ^= 0x10
    bad = tmp_path / "bad.nc"
    bad.write_bytes(bytes(data))
    out = tmp_path / "out.png"
    proc = ncodec("decode", str(bad), str(out))
    assert proc.returncode == 1
    assert "CRC" in _one_line_error(proc) or "crc" in proc.stderr
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_bad_inputs_exit_1_with_one_line(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not an image\n")
    cases = [
        ("encode", str(text), str(tmp_path / "a.nc")),
        ("encode", str(tmp_path / "missing.png"), str(tmp_path / "b.nc")),
        ("decode", str(text), str(tmp_path / "c.png")),
        ("info", str(text)),
    ]
    for args in cases:
        proc = ncodec(*args)
        assert proc.returncode == 1, (args, proc.stderr)
        _one_line_error(proc)
    assert not (tmp_path / "a.nc").exists() and not (tmp_path / "c.png").exists()


def test_usage_errors_exit_2(tmp_path: Path, small_png: Path) -> None:
    assert ncodec("encode").returncode == 2
    proc = ncodec("encode", str(small_png), str(tmp_path / "x.nc"), "--quality", "42")
    assert proc.returncode == 2
    _one_line_error(proc)
    nc = tmp_path / "y.nc"
    assert ncodec("encode", str(small_png), str(nc)).returncode == 0
    proc = ncodec("decode", str(nc), str(tmp_path / "y.xyz"))
    assert proc.returncode == 2
    _one_line_error(proc)


def test_models_lists_image_qualities_as_json() -> None:
    proc = ncodec("models", "--json")
    assert proc.returncode == 0
    rows = json.loads(proc.stdout)
    image = [r for r in rows if r["modality"] == "image"]
    assert image and len(image[0]["qualities"]) >= 6
    assert all(r["modality"] != "test" for r in rows)
