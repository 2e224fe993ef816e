"""Continuous quality and rate control: fractional qualities, size and PSNR targets.

The search itself is tested on synthetic monotone curves (fast, exhaustive over targets); the
targets are tested end to end on a real photo, decoding the written bytes independently.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ncodec import api
from ncodec.errors import FormatError, UsageError
from ncodec.eval.metrics import psnr
from ncodec.media.image import ImageData
from ncodec.ratecontrol import STEPS_PER_LEVEL, Target, Trial, search_quality

MODEL = "image-hyperprior"


def _synthetic(size_at: float = 900.0, growth: float = 0.7) -> tuple[list[float], object]:
    """A convex size curve and a concave PSNR curve over qualities 1..8, recording the trials."""
    tried: list[float] = []

    def trial_at(q: float) -> Trial:
        tried.append(q)
        size = int(size_at * math.exp(growth * (q - 1)) ** 1.1)
        return Trial(quality=q, data=b"x" * size, psnr=28.0 + 9.0 * math.log1p(q - 1) / math.log(8))

    return tried, trial_at


@pytest.mark.parametrize("limit", [900, 1000, 2345, 10_000, 60_000, 150_000])
def test_size_search_finds_the_highest_quality_that_fits(limit: int) -> None:
    tried, trial_at = _synthetic()
    best = search_quality(trial_at, Target(max_bytes=limit), 8, pixels=1000)  # type: ignore[arg-type]
    assert len(best.data) <= limit
    if best.quality < 8:
        step_up = (round(best.quality * STEPS_PER_LEVEL) + 1) / STEPS_PER_LEVEL
        assert len(trial_at(step_up).data) > limit  # type: ignore[operator]
    assert len(tried) <= 12  # interpolation, not a scan of 701 grid points


@pytest.mark.parametrize("target_db", [28.0, 30.0, 33.3, 36.0, 37.0])
def test_psnr_search_finds_the_lowest_quality_that_reaches_the_target(target_db: float) -> None:
    tried, trial_at = _synthetic()
    best = search_quality(trial_at, Target(psnr=target_db), 8, pixels=1000)  # type: ignore[arg-type]
    assert best.psnr is not None and best.psnr >= target_db
    if best.quality > 1:
        step_down = (round(best.quality * STEPS_PER_LEVEL) - 1) / STEPS_PER_LEVEL
        below = trial_at(step_down)  # type: ignore[operator]
        assert below.psnr < target_db
    assert len(tried) <= 12


def test_unreachable_targets_say_what_the_nearest_quality_gives() -> None:
    _, trial_at = _synthetic()
    with pytest.raises(UsageError, match="cannot be met: the lowest quality gives 900 bytes"):
        search_quality(trial_at, Target(max_bytes=899), 8, pixels=1000)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match=r"cannot be met: the highest quality gives 37\.00 dB"):
        search_quality(trial_at, Target(psnr=37.5), 8, pixels=1000)  # type: ignore[arg-type]


def test_a_bpp_target_counts_every_byte_of_the_file() -> None:
    assert Target(bpp=0.5).byte_limit(pixels=1001) == 62
    with pytest.raises(UsageError):
        Target(max_bytes=100, psnr=30.0)
    for bad in ({"max_bytes": 0}, {"max_bytes": 1.5}, {"bpp": float("nan")}, {"psnr": -3.0}):
        with pytest.raises(UsageError):
            Target(**bad)


# ------------------------------------------------------------------------------ the real codec
def test_fractional_quality_lies_between_its_levels_and_is_recorded(photo: np.ndarray) -> None:
    image = ImageData(photo, 8, None)
    sizes = {q: len(api.encode(image, model=MODEL, quality=q)) for q in (3, 3.5, 4)}
    assert sizes[3] < sizes[3.5] < sizes[4]
    data = api.encode(image, model=MODEL, quality=3.5)
    assert api.info(data)["quality"] == 3.5
    mid = psnr(photo, api.decode(data).pixels)
    low = psnr(photo, api.decode(api.encode(image, model=MODEL, quality=3)).pixels)
    high = psnr(photo, api.decode(api.encode(image, model=MODEL, quality=4)).pixels)
    assert low < mid < high
    # Kept to hundredths, and a whole value is the trained level itself, byte for byte.
    assert api.info(api.encode(image, model=MODEL, quality=3.14159))["quality"] == 3.14
    assert api.encode(image, model=MODEL, quality=4.0) == api.encode(image, model=MODEL, quality=4)


@pytest.mark.parametrize("quality", [0.99, 8.01, float("nan"), True])
def test_qualities_outside_the_trained_range_are_refused(photo: np.ndarray, quality: float) -> None:
    with pytest.raises(UsageError):
        api.encode(ImageData(photo[:64, :64], 8, None), model=MODEL, quality=quality)


def test_other_modalities_refuse_fractions_and_targets() -> None:
    with pytest.raises(UsageError):
        api.encode(b"abc", model="test-raw", quality=1.5)
    with pytest.raises(UsageError, match="image codec"):
        api.encode(b"abc", model="test-raw", max_bytes=100)


def test_a_recorded_quality_off_the_grid_is_a_format_error(photo: np.ndarray) -> None:
    from ncodec.codecs.base import Payload
    from ncodec.registry import by_name, load_codec

    codec, _ = load_codec(by_name(MODEL))
    payload = codec.encode(ImageData(photo[:64, :64], 8, None), 3.5)
    for bad in (3.555, 0.5, 9.0, "3.5", None):
        with pytest.raises(FormatError):
            codec.decode(Payload(payload.chunks, {**payload.metadata, "quality": bad}))


def test_max_bytes_and_target_bpp_are_met_on_a_real_photo(photo: np.ndarray) -> None:
    image = ImageData(photo, 8, None)
    pixels = photo.shape[0] * photo.shape[1]
    result = api.encode_with_stats(image, model=MODEL, max_bytes=5000)
    assert len(result.data) <= 5000
    assert result.chosen is not None and "5,000 bytes" in result.chosen
    q = result.quality
    assert isinstance(q, float | int) and 1 <= q < 8
    assert len(api.encode(image, model=MODEL, quality=q + 0.01)) > 5000  # the highest that fits
    bpp = api.encode_with_stats(image, model=MODEL, target_bpp=0.4)
    assert 8 * len(bpp.data) / pixels <= 0.4
    with pytest.raises(UsageError, match="cannot be met"):
        api.encode(image, model=MODEL, max_bytes=200)


def test_target_psnr_is_met_on_a_real_photo(photo: np.ndarray) -> None:
    image = ImageData(photo, 8, None)
    result = api.encode_with_stats(image, model=MODEL, target_psnr=33.0)
    reached = psnr(photo, api.decode(result.data).pixels)
    assert reached >= 33.0
    assert result.quality is not None and result.quality > 1
    below = api.decode(api.encode(image, model=MODEL, quality=round(result.quality - 0.01, 2))).pixels
    assert psnr(photo, below) < 33.0  # the lowest quality (the smallest file) that reaches it
    with pytest.raises(UsageError, match="cannot be met"):
        api.encode(image, model=MODEL, target_psnr=60.0)


def test_cli_targets_say_what_they_chose(tmp_path: Path, photo: np.ndarray) -> None:
    from PIL import Image

    src = tmp_path / "photo.png"
    Image.fromarray(photo).save(src)
    out = tmp_path / "photo.nc"
    run = subprocess.run([sys.executable, "-m", "ncodec", "encode", str(src), str(out), "--max-bytes", "4000"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "chose quality" in run.stdout and out.stat().st_size <= 4000
    bad = subprocess.run([sys.executable, "-m", "ncodec", "encode", str(src), str(tmp_path / "x.nc"),
                          "--max-bytes", "100"], capture_output=True, text=True)
    assert bad.returncode != 0 and "cannot be met" in bad.stderr and bad.stderr.count("\n") == 1
    assert not (tmp_path / "x.nc").exists()
    frac = subprocess.run([sys.executable, "-m", "ncodec", "encode", str(src), str(tmp_path / "f.nc"), "-q", "2.5"],
                          capture_output=True, text=True)
    assert frac.returncode == 0 and "q2.5" in frac.stdout


# ------------------------------------------------------------------------------ encode effort
def test_effort_codes_a_cheaper_latent_that_the_same_decoder_reads(photo: np.ndarray) -> None:
    from ncodec.registry import by_name, load_codec

    image = ImageData(np.ascontiguousarray(photo[:128, :128]), 8, None)
    plain = api.encode(image, model=MODEL, quality=4)
    refined = api.encode(image, model=MODEL, quality=4, effort=2)
    assert refined != plain
    assert api.info(refined)["metadata"]["effort"] == 2 and "effort" not in api.info(plain)["metadata"]
    assert api.encode(image, model=MODEL, quality=4, effort=0) == plain  # effort 0 is the one pass
    # The refined file decodes, and its rate-distortion cost (lambda * 255^2 * MSE + bpp, from the
    # real file size) is lower than the one pass's: the objective the refinement optimises.
    codec, _ = load_codec(by_name(MODEL))
    lam = codec.config.lambdas[3]
    pixels = 128 * 128

    def cost(data: bytes) -> float:
        out = api.decode(data).pixels.astype(np.float64)
        mse = float(np.mean((out - image.pixels.astype(np.float64)) ** 2)) / 255.0**2
        return lam * 255.0**2 * mse + 8 * len(data) / pixels

    assert cost(refined) < cost(plain)


def test_effort_max_and_bad_efforts(photo: np.ndarray) -> None:
    image = ImageData(np.ascontiguousarray(photo[:64, :64]), 8, None)
    from ncodec.codecs.image.refine import MAX_EFFORT

    assert api.info(api.encode(image, model=MODEL, quality=2, effort="max"))["metadata"]["effort"] == MAX_EFFORT
    for bad in (-1, MAX_EFFORT + 1, "fast", 1.5):
        with pytest.raises(UsageError):
            api.encode(image, model=MODEL, quality=2, effort=bad)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="image codec"):
        api.encode(b"abc", model="test-raw", effort=1)


def test_effort_output_is_the_same_across_processes_and_thread_counts(photo: np.ndarray, tmp_path: Path) -> None:
    from PIL import Image

    src = tmp_path / "crop.png"
    Image.fromarray(np.ascontiguousarray(photo[:96, :128])).save(src)
    script = ("import sys, hashlib, torch; torch.set_num_threads(int(sys.argv[2])); from ncodec import api; "
              "print(hashlib.sha256(api.encode(sys.argv[1], quality=3.5, effort=1)).hexdigest())")
    digests = {subprocess.run([sys.executable, "-c", script, str(src), str(threads)], capture_output=True,
                              text=True, check=True).stdout.strip() for threads in (1, 2, 4)}
    assert len(digests) == 1, digests


def test_effort_with_a_size_target_still_meets_it(photo: np.ndarray) -> None:
    image = ImageData(np.ascontiguousarray(photo[:128, :128]), 8, None)
    result = api.encode_with_stats(image, model=MODEL, max_bytes=1500, effort=1)
    assert len(result.data) <= 1500
