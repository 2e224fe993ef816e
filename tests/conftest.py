"""Shared fixtures: the sample media shipped in assets/, and the shared data folder when present."""

from __future__ import annotations

from pathlib import Path

import _props  # noqa: F401  (loads the reproducible hypothesis profile for every test module)
import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


def assets_path(name: str) -> Path:
    from ncodec.registry import shipped_asset

    return shipped_asset(name)


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    """A 256x256 crop of the sample photo (assets/rocket.jpg): a small real photograph."""
    from ncodec.media.image import read_image

    pixels = read_image(assets_path("rocket.jpg")).pixels
    return np.ascontiguousarray(pixels[PHOTO_CROP])


#: The crop of assets/rocket.jpg the image tests use: the rocket, its smoke and the sky.
PHOTO_CROP = np.s_[86:342, 192:448]


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture(scope="session")
def speech() -> tuple[np.ndarray, int]:
    """The sample speech (assets/arctic_a0007.wav): 4 s of real read speech, 16 kHz mono, float32."""
    from ncodec.media.audio import read_audio

    audio = read_audio(assets_path("arctic_a0007.wav"))
    return audio.samples, audio.sample_rate
