"""Slow checks of the image codec (``make test-slow``): very large images and the shared data."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

LARGE = textwrap.dedent("""
    import numpy as np
    from ncodec import api
    from ncodec.media.image import ImageData
    from ncodec.registry import shipped_asset
    from ncodec.media.image import read_image
    tile = read_image(shipped_asset("rocket.jpg")).pixels
    big = np.ascontiguousarray(np.tile(tile, (6, 6, 1))[:3000, :4000])  # 12 megapixels
    data = api.encode(ImageData(big, 8, None), quality=4)
    out = api.decode(data).pixels
    assert out.shape == big.shape
    peak_kb = int([l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1])
    print(peak_kb)
""")


def test_12_megapixel_photo_is_coded_in_bounded_memory() -> None:
    proc = subprocess.run([sys.executable, "-c", LARGE], capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-2000:]
    peak_mb = int(proc.stdout.split()[-1]) / 1024
    assert peak_mb < 1536, f"peak memory {peak_mb:.0f} MB"


def test_every_kodak_image_round_trips(shared_data: Path) -> None:
    from ncodec import api
    from ncodec.eval.metrics import psnr
    from ncodec.media.image import read_image

    for path in sorted((shared_data / "images" / "kodak").glob("*.png")):
        image = read_image(path)
        out = api.decode(api.encode(image, quality=4)).pixels
        assert out.shape == image.pixels.shape
        assert psnr(image.pixels, out) > 20, path.name
