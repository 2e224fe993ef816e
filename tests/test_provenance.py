"""Nothing in the repository is a copy of the project's working data.

``../shared`` holds research data of mixed licences for training and evaluation; it is read where
it lies and never committed (sample media come from PyPI or Debian packages, see assets/README.md).
This test fails if any file under ``assets/`` or ``tests/`` has the same bytes as a file under
``../shared``, and skips when that folder is absent (a user's clone).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
GUARDED = ("assets", "tests")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and "__pycache__" not in p.parts]


def test_no_repository_file_is_a_copy_of_shared_data() -> None:
    if not SHARED.is_dir():
        pytest.skip("../shared is not present")
    ours: dict[int, list[Path]] = defaultdict(list)
    for folder in GUARDED:
        for path in _files(REPO / folder):
            ours[path.stat().st_size].append(path)
    # Only files of equal size can be equal: hash just those, so the check stays fast.
    copies = []
    for theirs in _files(SHARED):
        candidates = ours.get(theirs.stat().st_size)
        if candidates:
            digest = _sha256(theirs)
            copies += [f"{p.relative_to(REPO)} == {theirs.relative_to(SHARED.parent)}"
                       for p in candidates if _sha256(p) == digest]
    assert not copies, "files copied from ../shared: " + "; ".join(copies)
