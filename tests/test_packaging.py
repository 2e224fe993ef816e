"""Packaging: the wheel carries the shipped weights, model cards and sample media."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_package_list_matches_the_source_tree() -> None:
    tomllib = pytest.importorskip("tomllib")
    declared = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "ncodec").rglob("__init__.py")}
    assert declared == found | {"ncodec.assets"}


def test_wheel_ships_weights_cards_and_samples(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation",
                           "-q", "-w", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    wheel = next(tmp_path.glob("ncodec-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {p.name for p in (REPO / "assets").iterdir() if p.is_file() and p.name != "__init__.py"}
    assert shipped, "assets/ holds no weights"
    for name in shipped:
        assert f"ncodec/assets/{name}" in names
    assert "ncodec/py.typed" in names
