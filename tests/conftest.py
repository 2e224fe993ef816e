"""Shared fixtures: the sample photo shipped in assets/, and the shared data folder when present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


def assets_path(name: str) -> Path:
    from ncodec.registry import shipped_asset

    return shipped_asset(name)


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    """A 256x256 crop of Kodak's kodim23 (shipped in assets/): a small real photograph."""
    from ncodec.media.image import read_image

    pixels = read_image(assets_path("kodim23.png")).pixels
    return np.ascontiguousarray(pixels[128:384, 256:512])


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA
