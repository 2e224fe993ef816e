"""ncodec.eval: BD-rate against hand-checked and published cases, metric known values, every
baseline on tiny generated media, and a small end-to-end run with a fake ncodec codec."""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import struct
import zlib
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest

from ncodec.errors import UsageError
from ncodec.eval import baselines as B
from ncodec.eval import bdrate, metrics
from ncodec.eval.points import CallableBackend, ModelSpec
from ncodec.eval.runner import load_results, run_eval

# --------------------------------------------------------------------------------------------------
# BD-rate

# "Sample 3" of the widely copied VCEG-M33 scripts (rates in kbit/s, PSNR in dB).
SAMPLE_ANCHOR = ([686.76, 309.58, 157.11, 85.95], [40.28, 37.18, 34.24, 31.42])
SAMPLE_TEST = ([893.34, 407.8, 204.93, 112.75], [40.39, 37.21, 34.17, 31.24])
# Test 1 of the FAU-LMS bjontegaard package (x265 at two presets).
FAU_ANCHOR = ([9487.76, 4593.60, 2486.44, 1358.24], [40.037, 38.615, 36.845, 34.851])
FAU_TEST = ([9787.80, 4469.00, 2451.52, 1356.24], [40.121, 38.651, 36.970, 34.987])


@pytest.mark.parametrize("method", ["pchip", "cubic"])
def test_bd_rate_of_a_curve_with_every_rate_times_0_8_is_minus_20_percent(method: str) -> None:
    rates, psnr = SAMPLE_ANCHOR
    assert bdrate.bd_rate(rates, psnr, [0.8 * r for r in rates], psnr, method) == pytest.approx(-20.0, abs=1e-9)
    assert bdrate.bd_rate(rates, psnr, [1.25 * r for r in rates], psnr, method) == pytest.approx(25.0, abs=1e-9)
    assert bdrate.bd_rate(rates, psnr, rates, psnr, method) == pytest.approx(0.0, abs=1e-12)


def test_bd_psnr_of_a_curve_shifted_up_by_half_a_db() -> None:
    rates, psnr = SAMPLE_ANCHOR
    for method in ("pchip", "cubic"):
        assert bdrate.bd_psnr(rates, psnr, rates, [p + 0.5 for p in psnr], method) == pytest.approx(0.5, abs=1e-9)


def test_cubic_bd_rate_matches_the_vceg_m33_formula_on_the_classic_samples() -> None:
    # Values of the VCEG-M33 cubic fit (numpy polyfit / polyint of ln(rate) against PSNR), as
    # evaluated independently of this module; recomputed below from the formula itself as well.
    assert bdrate.bd_rate(*SAMPLE_ANCHOR, *SAMPLE_TEST, "cubic") == pytest.approx(31.397374054908, abs=1e-6)
    assert bdrate.bd_rate(*FAU_ANCHOR, *FAU_TEST, "cubic") == pytest.approx(-4.420462706090, abs=1e-6)
    (ra, qa), (rt, qt) = FAU_ANCHOR, FAU_TEST
    pa, pt = np.polyint(np.polyfit(qa, np.log(ra), 3)), np.polyint(np.polyfit(qt, np.log(rt), 3))
    lo, hi = max(min(qa), min(qt)), min(max(qa), max(qt))
    avg = (np.polyval(pt, hi) - np.polyval(pt, lo) - np.polyval(pa, hi) + np.polyval(pa, lo)) / (hi - lo)
    assert bdrate.bd_rate(ra, qa, rt, qt, "cubic") == pytest.approx((math.exp(avg) - 1) * 100, abs=1e-9)


def test_pchip_matches_scipy_which_matches_the_jvet_spreadsheet() -> None:
    scipy_interpolate = pytest.importorskip("scipy.interpolate")
    rng = np.random.default_rng(3)
    for _ in range(50):
        n = int(rng.integers(2, 9))
        x = np.cumsum(rng.uniform(0.1, 2.0, n))
        y = rng.normal(size=n) if rng.random() < 0.5 else np.cumsum(rng.uniform(-1, 2, n))
        ours, ref = bdrate.Pchip(x, y), scipy_interpolate.PchipInterpolator(x, y)
        a, b = sorted(rng.uniform(x[0], x[-1], 2))
        assert ours.integrate(a, b) == pytest.approx(float(ref.integrate(a, b)), abs=1e-10)
        assert ours(float(a)) == pytest.approx(float(ref(a)), abs=1e-10)
    # the FAU-LMS package's PCHIP BD-rate (scipy PchipInterpolator on log10 rate) on its own example
    (ra, qa), (rt, qt) = FAU_ANCHOR, FAU_TEST
    ia = scipy_interpolate.PchipInterpolator(qa[::-1], np.log10(ra[::-1]))
    it = scipy_interpolate.PchipInterpolator(qt[::-1], np.log10(rt[::-1]))
    lo, hi = max(min(qa), min(qt)), min(max(qa), max(qt))
    expected = (10 ** ((it.integrate(lo, hi) - ia.integrate(lo, hi)) / (hi - lo)) - 1) * 100
    assert bdrate.bd_rate(ra, qa, rt, qt) == pytest.approx(float(expected), abs=1e-9)


def test_bd_rate_refuses_curves_without_overlap_and_compare_reports_it() -> None:
    rates, psnr = SAMPLE_ANCHOR
    with pytest.raises(ValueError, match="overlap"):
        bdrate.bd_rate(rates, psnr, rates, [p + 40 for p in psnr])
    res = bdrate.bd_compare(rates, psnr, rates[:3], psnr[:3])
    assert math.isnan(res.bd_rate_cubic) and "4 points" in res.note
    assert math.isfinite(res.bd_rate_pchip)


def test_frontier_drops_dominated_and_non_finite_points() -> None:
    r, q = bdrate.frontier([1.0, 2.0, 3.0, 4.0, 5.0], [30.0, 32.0, 31.0, math.inf, 35.0])
    assert r.tolist() == [1.0, 2.0, 5.0] and q.tolist() == [30.0, 32.0, 35.0]


# --------------------------------------------------------------------------------------------------
# metrics


def test_psnr_known_values() -> None:
    rng = np.random.default_rng(0)
    ref = rng.integers(4, 250, (30, 48, 3), dtype=np.uint8)  # 4320 values: a multiple of 5
    assert metrics.psnr(ref, ref) == math.inf
    assert metrics.psnr(ref, ref + 1) == pytest.approx(20 * math.log10(255), abs=1e-9)  # 48.13 dB
    assert metrics.psnr(ref, ref + 1) == pytest.approx(48.1308, abs=1e-4)
    # every value of -2..2 equally often: MSE = (4 + 1 + 0 + 1 + 4) / 5 = 2
    noise = np.resize(np.arange(-2, 3), ref.size).reshape(ref.shape)
    assert metrics.psnr(ref, (ref + noise).astype(np.uint8)) == pytest.approx(10 * math.log10(255**2 / 2), abs=1e-9)
    wide = ref.astype(np.uint16) * 257
    assert metrics.psnr(wide, wide + 1) == pytest.approx(20 * math.log10(65535), abs=1e-9)


def test_ms_ssim_identical_is_one_and_small_images_have_no_score() -> None:
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (170, 180, 3), dtype=np.uint8)
    assert metrics.ms_ssim(img, img) == pytest.approx(1.0, abs=1e-6)
    noisy = np.clip(img.astype(int) + rng.integers(-20, 21, img.shape), 0, 255).astype(np.uint8)
    assert 0.5 < metrics.ms_ssim(img, noisy) < 1.0
    assert math.isnan(metrics.ms_ssim(img[:160], img[:160]))
    assert metrics.ms_ssim_db(0.99) == pytest.approx(20.0)


def test_audio_metrics_known_values() -> None:
    rng = np.random.default_rng(2)
    sr = 16000
    t = np.arange(2 * sr) / sr
    x = (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2
         + 0.02 * rng.standard_normal(t.size)).astype(np.float32)[None, :]
    assert metrics.si_sdr(x, x) == math.inf
    assert metrics.si_sdr(x, 0.5 * x) == math.inf  # scale-invariant
    noise = rng.standard_normal(x.shape[1])
    xc = x[0].astype(np.float64) - x[0].mean()
    noise -= noise.mean()
    noise -= xc * np.dot(noise, xc) / np.dot(xc, xc)  # orthogonal to the reference
    noise *= np.linalg.norm(xc) / np.linalg.norm(noise) / 10  # 20 dB below it
    assert metrics.si_sdr(x, (xc + noise)[None, :]) == pytest.approx(20.0, abs=1e-3)
    assert metrics.log_mel_distance(x, x, sr) == 0.0
    # halving the amplitude moves every (unfloored) log10 mel value by log10(2)
    assert metrics.log_mel_distance(x, 0.5 * x, sr) == pytest.approx(math.log10(2), abs=0.01)
    assert metrics.pesq_wb(x, x, sr) > 4.5
    assert math.isnan(metrics.pesq_wb(np.zeros((1, sr)), np.zeros((1, sr)), sr))
    assert metrics.stoi(x, x, sr) == pytest.approx(1.0, abs=1e-6)
    stereo = np.concatenate([x, x])  # a stereo pair of the same signal downmixes to itself
    assert metrics.log_mel_distance(stereo, x, sr) == 0.0


def test_video_psnr_per_frame_and_mean() -> None:
    rng = np.random.default_rng(3)
    ref = rng.integers(20, 230, (3, 16, 24, 3), dtype=np.uint8)
    test = ref.copy()
    test[1] += 1
    per_frame, mean = metrics.psnr_rgb(ref, test)
    assert per_frame[0] == math.inf and per_frame[1] == pytest.approx(48.1308, abs=1e-4)
    assert mean == math.inf
    y_frames, _ = metrics.psnr_y(ref, test)
    assert y_frames[0] == math.inf and 40 < y_frames[1] < math.inf


# --------------------------------------------------------------------------------------------------
# baselines


def _tiny_image(h: int = 48, w: int = 64) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(4)
    img = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) * 127 / (h + w) + 60], axis=-1)
    return np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("codec", [B.jpeg, B.webp, B.avif])
def test_image_baselines_round_trip_a_tiny_image(codec: Any) -> None:
    img = _tiny_image()
    n_low, low = codec(img, 20)
    n_high, high = codec(img, 90)
    assert low.shape == img.shape and low.dtype == np.uint8
    assert 0 < n_low < n_high
    assert metrics.psnr(img, high) > metrics.psnr(img, low) > 22


def test_jpeg_uses_4_2_0_below_90_and_refuses_16_bit() -> None:
    img = _tiny_image()
    assert B.jpeg_encode(img, 89).info["subsampling"] == "4:2:0"
    assert B.jpeg_encode(img, 90).info["subsampling"] == "4:4:4"
    with pytest.raises(B.BaselineError):
        B.jpeg(img.astype(np.uint16), 50)


def _test_signal(sr: int, seconds: float = 1.0) -> np.ndarray:
    """A chirp with noise bursts: one unambiguous cross-correlation peak."""
    rng = np.random.default_rng(5)
    t = np.arange(int(sr * seconds)) / sr
    x = 0.2 * np.sin(2 * np.pi * (200 + 1500 * t) * t) + 0.1 * rng.standard_normal(t.size) * (t % 0.25 < 0.05)
    return x.astype(np.float32)[None, :]


def _lag(x: np.ndarray, y: np.ndarray) -> int:
    n = 4 * x.size
    corr = np.fft.irfft(np.fft.rfft(y, n) * np.conj(np.fft.rfft(x, n)), n)
    k = int(np.argmax(corr))
    return k if k < n // 2 else k - n


@pytest.mark.parametrize(("codec", "sr", "kbps"), [(B.opus, 16000, 64), (B.opus, 44100, 64), (B.mp3, 16000, 64),
                                                   (B.mp3, 22050, 64)])
def test_audio_baselines_are_aligned_and_keep_the_length(codec: Any, sr: int, kbps: int) -> None:
    x = _test_signal(sr)
    nbytes, y = codec(x, sr, kbps)
    assert y.shape == x.shape
    assert abs(_lag(x[0], y[0])) <= 2
    assert metrics.si_sdr(x, y) > 10  # aligned: a delayed copy would score far below 0 dB
    assert nbytes * 8 / 1000 == pytest.approx(kbps, rel=0.35)  # the file's rate is about the target


def test_audio_and_image_baselines_are_deterministic() -> None:
    from ncodec.media.audio import AudioData

    media = AudioData(_test_signal(16000, 0.5), 16000)
    for name in ("opus", "mp3"):
        assert B.BASELINES[name].encode(media, 32).data == B.BASELINES[name].encode(media, 32).data
    img = _tiny_image()
    assert B.avif_encode(img, 50).data == B.avif_encode(img, 50).data


def test_x264_codes_eight_tiny_frames_with_inter_frames() -> None:
    import av

    from ncodec.media.video import VideoData

    t, h, w = 8, 48, 64
    base = _tiny_image(h, w + 2 * t)
    frames = np.stack([base[:, 2 * i: 2 * i + w] for i in range(t)])  # a slow pan
    media = VideoData(frames, Fraction(25))
    enc = B.x264_encode(media, 27)
    out = B.video_decode(enc, media)
    assert out.frames.shape == frames.shape
    assert metrics.psnr_rgb(frames, out.frames)[1] > 28
    assert enc.bitstream_bytes is not None and 0 < enc.bitstream_bytes < len(enc.data)
    with cast("av.container.InputContainer", av.open(io.BytesIO(enc.data))) as container:
        keyframes = [bool(p.is_keyframe) for p in container.demux(video=0) if p.size]
    assert len(keyframes) == 8 and sum(keyframes) == 1  # fresh frames: not every frame coded as intra
    assert B.x264_encode(media, 27).data == enc.data  # deterministic


@pytest.mark.parametrize("height", [6, 8])
def test_encoder_frames_have_defined_bytes_past_every_plane(height: int) -> None:
    """Frames handed to x264/x265/SVT-AV1 are followed by zeros, never by uninitialised memory.

    Vector kernels may read past the last row of a plane, and FFmpeg-allocated frames leave that
    padding uninitialised. Checks the mechanism directly: each plane holds the input (edge-padded
    when the height is not a multiple of 4), the planes lie back to back, and the bytes after the
    last one are zero.
    """
    import ctypes

    rng = np.random.default_rng(3)
    y = rng.integers(0, 256, (height, 10), dtype=np.uint8)
    u, v = (rng.integers(0, 256, (height // 2, 5), dtype=np.uint8) for _ in range(2))
    frame = B._yuv420_planes_frame(y, u, v)
    assert (frame.width, frame.height) == (10, height)
    padded_rows = -(-height // 4) * 4
    starts = [plane.buffer_ptr for plane in frame.planes]
    assert starts[1] - starts[0] == padded_rows * 10 and starts[2] - starts[1] == padded_rows // 2 * 5
    for plane, want in zip(frame.planes, (y, u, v), strict=True):
        got = np.frombuffer(memoryview(plane), dtype=np.uint8).reshape(-1, plane.line_size)
        np.testing.assert_array_equal(got, want)
    luma_padding = ctypes.string_at(starts[0] + y.size, starts[1] - starts[0] - y.size)
    assert luma_padding == y[-1].tobytes() * (padded_rows - height)  # repeats the last row
    end_of_v = starts[2] + (padded_rows // 2) * 5
    assert ctypes.string_at(end_of_v, B.ENCODER_FRAME_SLACK) == bytes(B.ENCODER_FRAME_SLACK)


def test_video_baseline_keeps_heights_that_are_not_a_multiple_of_four(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 146-row clip (146 % 4 == 2) codes and decodes at 146 rows: the padding never shows."""
    from ncodec.media.samples import sample_clip
    from ncodec.media.video import VideoData

    frames, fps = sample_clip(frames=3, size=(64, 146))
    media = VideoData(frames, fps)
    encoded = B.x264_encode(media, 30)
    decoded = B.video_decode(encoded, media)
    assert decoded.frames.shape == frames.shape
    assert metrics.psnr_rgb(frames, decoded.frames)[1] > 25
    assert B.x264_encode(media, 30).data == encoded.data
    # Against the same clip handed to x264 through FFmpeg-allocated frames (exact size, only the
    # padding undefined): a frame rescaled from the padded height would smear the bottom rows.
    monkeypatch.setattr(B, "_yuv420_planes_frame", _frame_from_ffmpeg_buffer)
    plain = B.video_decode(B.x264_encode(media, 30), media)
    bottom = np.s_[:, -8:]
    ours, theirs = (metrics.psnr_rgb(frames[bottom], d.frames[bottom])[1] for d in (decoded, plain))
    assert abs(ours - theirs) < 0.5


def _frame_from_ffmpeg_buffer(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> Any:
    import av

    stacked = np.concatenate([y.reshape(-1), u.reshape(-1), v.reshape(-1)]).reshape(-1, y.shape[1])
    return av.VideoFrame.from_ndarray(stacked, format="yuv420p")


# --------------------------------------------------------------------------------------------------
# end to end, with a fake ncodec codec


class FakeCodec:
    """Quantises pixels with a quality-dependent step and zlib-compresses them: real bytes, real loss."""

    def __init__(self) -> None:
        self.encodes = 0

    def encode(self, media: Any, model: str, quality: int) -> tuple[bytes, float | None]:
        self.encodes += 1
        pixels = media.pixels
        step = 2 ** (5 - quality)
        q = (pixels // step).astype(np.uint8)
        body = zlib.compress(q.tobytes(), 9)
        data = b"FAKE" + struct.pack("<HHHB", *pixels.shape, step) + body
        return data, 8 * len(body) * 0.97

    def decode(self, data: bytes) -> Any:
        from ncodec.media.image import ImageData

        h, w, c, step = struct.unpack("<HHHB", data[4:11])
        q = np.frombuffer(zlib.decompress(data[11:]), dtype=np.uint8).reshape(h, w, c)
        return ImageData(np.clip(q.astype(np.int32) * step + step // 2, 0, 255).astype(np.uint8), 8)


def _fake_backend(codec: FakeCodec) -> CallableBackend:
    return CallableBackend(codec.encode, codec.decode, [ModelSpec("fake", "image", (1, 2, 3, 4))])


def _image_set(folder: Path) -> None:
    from ncodec.media.image import write_image

    folder.mkdir()
    write_image(folder / "kodim01.png", _tiny_image(64, 96))
    write_image(folder / "kodim02.png", _tiny_image(72, 80)[::-1].copy())
    (folder / "kodim03.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")  # unreadable
    (folder / "MANIFEST.tsv").write_text("not media\n")  # ignored: not an image extension


def test_run_eval_end_to_end_resume_and_skipped_file(tmp_path: Path) -> None:
    data, out = tmp_path / "kodak", tmp_path / "out"
    _image_set(data)
    fake = FakeCodec()
    settings = {"jpeg": [20, 80], "webp": [20, 80]}
    reference = tmp_path / "published.json"  # a made-up curve in the published results' layout
    reference.write_text(json.dumps({"source": "test", "bmshj2018-hyperprior": {
        "bpp": [0.05, 0.5, 2.0, 8.0], "psnr": [15.0, 25.0, 35.0, 50.0]}}))
    report = run_eval("image", data, out, models=["fake"], baselines=["jpeg", "webp"], backend=_fake_backend(fake),
                      settings=settings, progress=False, reference=reference)
    assert report.new_points == 2 * (4 + 2 + 2) and fake.encodes == 8
    assert [s["file"] for s in report.skipped] == ["kodim03.png"]
    assert "kodim03.png" in report.skipped[0]["reason"] and str(tmp_path) not in report.skipped[0]["reason"]
    for name in ("results.json", "summary.csv", "bdrate.csv", "bdrate.md", "rd_image.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0

    results = json.loads((out / "results.json").read_text())  # strict JSON: no NaN / Infinity tokens
    point = next(p for p in results["points"] if p["codec"] == "ncodec:fake" and p["setting"] == "q2")
    assert point["bytes"] > 0 and point["rate"] == pytest.approx(8 * point["bytes"] / (64 * 96))
    assert point["estimate_gap_pct"] == pytest.approx(100 * (8 * point["bytes"] / point["estimated_bits"] - 1))
    assert point["ms_ssim"] is None  # 64 px images: no 5-scale MS-SSIM
    assert {"psnr_rgb", "encode_s", "decode_s"} <= set(point)

    with open(out / "summary.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {(r["codec"], r["setting"]) for r in rows} >= {("ncodec:fake", "q1"), ("jpeg", "q20"), ("webp", "q80")}
    assert all(r["n_files"] == "2" for r in rows)

    with open(out / "bdrate.csv", newline="") as f:
        bd = list(csv.DictReader(f))
    pairs = {(r["test"], r["anchor"]) for r in bd if r["metric"] == "psnr_rgb"}
    assert {("ncodec:fake", "jpeg"), ("ncodec:fake", "webp"), ("webp", "jpeg")} <= pairs
    assert ("ncodec:fake", "published:bmshj2018-hyperprior") in pairs  # the folder looks like Kodak
    webp_vs_jpeg = next(r for r in bd if (r["test"], r["anchor"], r["metric"]) == ("webp", "jpeg", "psnr_rgb"))
    assert webp_vs_jpeg["bd_rate_pchip_pct"] != ""
    assert "| ncodec:fake | jpeg |" in (out / "bdrate.md").read_text()

    # resume: nothing is measured again; a new setting measures only itself
    again = run_eval("image", data, out, models=["fake"], baselines=["jpeg", "webp"], backend=_fake_backend(fake),
                     settings=settings, progress=False, plot=False)
    assert again.new_points == 0 and fake.encodes == 8 and len(again.points) == 16
    more = run_eval("image", data, out, models=[], baselines=["jpeg"], settings={"jpeg": [20, 50]},
                    progress=False, plot=False)
    assert more.new_points == 2
    loaded = load_results(out)
    assert loaded is not None and len(loaded["points"]) == 18
    # new weights: the model's points are stale and measured again; the baselines' are kept
    retrained = CallableBackend(fake.encode, fake.decode, [ModelSpec("fake", "image", (1, 2, 3, 4), weights="ab")])
    redone = run_eval("image", data, out, models=["fake"], baselines=["jpeg"], backend=retrained,
                      settings={"jpeg": [20, 50]}, progress=False, plot=False)
    assert redone.new_points == 8 and fake.encodes == 16 and len(redone.points) == 18
    assert {p["weights_sha256"] for p in redone.points if p["codec"] == "ncodec:fake"} == {"ab"}


def test_run_eval_without_a_reference_file_omits_published_rows(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from ncodec.eval import runner

    monkeypatch.setattr(runner, "DEFAULT_REFERENCE", tmp_path / "absent.json")  # as on a fresh clone
    data, out = tmp_path / "kodak", tmp_path / "out"
    _image_set(data)
    run_eval("image", data, out, models=["fake"], baselines=["jpeg"], backend=_fake_backend(FakeCodec()),
             settings={"jpeg": [20, 80]}, progress=False, plot=False)
    with open(out / "bdrate.csv", newline="") as f:
        anchors = {r["anchor"] for r in csv.DictReader(f)}
    assert anchors == {"jpeg"}
    with pytest.raises(UsageError, match="--reference"):
        run_eval("image", data, tmp_path / "out2", models=[], baselines=["jpeg"], settings={"jpeg": [20]},
                 progress=False, plot=False, reference=tmp_path / "missing.json")


def test_run_eval_audio_and_video_on_generated_files(tmp_path: Path) -> None:
    from ncodec.media.audio import AudioData, write_audio
    from ncodec.media.video import VideoData, write_video

    adir, vdir = tmp_path / "audio", tmp_path / "video"
    adir.mkdir()
    vdir.mkdir()
    stereo = np.concatenate([_test_signal(16000), 0.5 * _test_signal(16000)])
    write_audio(adir / "a.wav", AudioData(stereo, 16000))
    report = run_eval("audio", adir, tmp_path / "out_a", models=[], baselines=["opus"], settings={"opus": [24]},
                      progress=False, plot=True)
    (point,) = report.points
    assert point["rate_unit"] == "kbps" and point["length_diff"] == 0
    assert {"pesq", "stoi", "log_mel", "si_sdr"} <= set(point)
    assert (tmp_path / "out_a" / "rd_audio.png").is_file()

    base = _tiny_image(48, 80)
    frames = np.stack([base[:, i: i + 64] for i in range(0, 16, 2)])
    write_video(vdir / "v.mkv", VideoData(frames, Fraction(25)))
    report = run_eval("video", vdir, tmp_path / "out_v", models=[], baselines=["x264"], settings={"x264": [23]},
                      progress=False, plot=False)
    (point,) = report.points
    assert point["psnr_rgb"] > 28 and len(point["psnr_y_frames"]) == 8
    assert point["rate"] == pytest.approx(8 * point["bytes"] / (48 * 64 * 8))
    assert point["bitstream_bytes"] < point["bytes"]


def test_cli_eval_and_results_without_data(tmp_path: Path) -> None:
    from ncodec.eval.cli import add_eval_arguments, eval_main
    from ncodec.eval.results import main as results_main
    from ncodec.media.image import write_image

    data = tmp_path / "imgs"
    data.mkdir()
    write_image(data / "x.png", _tiny_image(32, 32))
    parser = argparse.ArgumentParser()
    add_eval_arguments(parser)
    args = parser.parse_args(["image", str(data), "--models", "--baselines", "jpeg", "--out", str(tmp_path / "o"),
                              "--quiet", "--no-plot"])
    assert eval_main(args) == 0
    assert len(load_results(tmp_path / "o")["points"]) == len(B.BASELINES["jpeg"].settings)  # type: ignore[index]

    missing = str(tmp_path / "absent")
    md = tmp_path / "RESULTS.md"
    from ncodec.eval.results import STANDARD_SETS

    folders = [arg for name, *_ in STANDARD_SETS for arg in (f"--{name}", missing)]
    assert results_main([*folders, "--out", str(md), "--quiet"]) == 0
    assert md.read_text().count("Not run: the folder is absent.") == len(STANDARD_SETS)


def test_bench_with_a_fake_backend(tmp_path: Path) -> None:
    from ncodec.eval.bench import format_bench, run_bench, write_bench
    from ncodec.media.image import write_image

    sample = tmp_path / "s.png"
    write_image(sample, _tiny_image(40, 56))
    result = run_bench(samples={"image": sample}, repeats=1, backend=_fake_backend(FakeCodec()), memory=False,
                       entropy=False)
    (row,) = result["models"]
    assert row["model"] == "fake" and row["encode_s"] > 0 and row["bytes"] > 0
    (ratio,) = result["ratios"]
    assert ratio["versus"] == "avif q50" and ratio["decode_ratio"] > 0
    assert result["environment"]["cpu_count"]
    write_bench(tmp_path / "b.json", result)
    assert json.loads((tmp_path / "b.json").read_text())["repeats"] == 1
    assert "fake q3" in format_bench(result)


def test_match_keeps_only_the_named_part_of_a_folder(tmp_path: Path) -> None:
    from ncodec.eval.runner import list_files

    for name in ("speech__a.flac", "speech__b.wav", "music__c.flac", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in list_files("audio", tmp_path, None, "speech__*")] == ["speech__a.flac", "speech__b.wav"]
    assert [p.name for p in list_files("audio", tmp_path, None, "music__*")] == ["music__c.flac"]
    assert len(list_files("audio", tmp_path, None)) == 3


def test_results_only_refreshes_the_named_sets() -> None:
    from ncodec.eval.results import replace_sections

    old = "# r\n\n## a (image): x\n\nA1\n\n## video-dev (video): y\n\nV1\n\n## c (audio): z\n\nC1\n"
    new = replace_sections(old, ["## video-dev (video): y\n\nV2\n"])
    assert new == old.replace("V1", "V2")
    appended = replace_sections(old, ["## d (video): q\n\nD\n"])
    assert appended.startswith(old.rstrip("\n")) and appended.endswith("## d (video): q\n\nD\n")


def test_effort_variants_are_curves_of_their_own_compared_with_the_one_pass(tmp_path: Path) -> None:
    data, out = tmp_path / "photos", tmp_path / "out"
    _image_set(data)
    seen: list[str] = []
    fake = FakeCodec()

    def encode(media: Any, model: str, quality: int) -> tuple[bytes, float | None]:
        seen.append(model)
        # "effort" here halves the step: another point set, compared with the one pass's curve
        return fake.encode(media, model, quality + (1 if "+effort" in model else 0))

    backend = CallableBackend(encode, fake.decode, [ModelSpec("fake", "image", (1, 2, 3))])
    run_eval("image", data, out, models=["fake", "fake+effort2"], baselines=[], backend=backend, progress=False,
             plot=False)
    assert set(seen) == {"fake", "fake+effort2"}
    with open(out / "bdrate.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["metric"] == "psnr_rgb"]
    row = next(r for r in rows if (r["test"], r["anchor"]) == ("ncodec:fake+effort2", "ncodec:fake"))
    assert row["group"] == "effort vs one pass" and math.isfinite(float(row["bd_rate_pchip_pct"]))
    with pytest.raises(UsageError, match="no image model 'nope'"):
        run_eval("image", data, out, models=["nope+effort1"], baselines=[], backend=backend, progress=False)
