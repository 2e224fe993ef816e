"""``make demo``: the sample photo at every quality, the sample speech at every bitrate, the sample clip.

Writes ``out/demo/rocket_q<Q>.nc`` with the decoded PNGs, ``out/demo/arctic_a0007_<R>k.nc``
with the decoded WAVs and ``out/demo/sample_clip.nc`` with its decoded MP4, and prints real sizes
and quality next to JPEG and WebP files of about the same size (images), Opus at its lowest rate
(speech) and x264 at about the same size (video), so a new user sees what the codecs do in a
minute or two. The samples (``assets/rocket.jpg``, ``assets/arctic_a0007.wav``; see ``assets/README.md``)
were in no training set.
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from ncodec import api
from ncodec.eval.metrics import psnr
from ncodec.media.image import read_image, write_image
from ncodec.media.samples import sample_photo_path
from ncodec.registry import default_model

OUT = Path("out/demo")


def _closest_pillow(rgb: Image.Image, fmt: str, target_bytes: int) -> tuple[int, float]:
    """(bytes, PSNR) of the Pillow-coded file whose size is closest to ``target_bytes``."""
    best: tuple[int, float] | None = None
    ref = read_image(rgb).pixels
    for q in range(5, 100, 5):
        buf = io.BytesIO()
        rgb.save(buf, format=fmt, quality=q, **({"method": 6} if fmt == "WEBP" else {"optimize": True}))
        size = buf.tell()
        decoded = read_image(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")).pixels
        if best is None or abs(size - target_bytes) < abs(best[0] - target_bytes):
            best = (size, psnr(ref, decoded))
    assert best is not None
    return best


def main() -> int:
    sample = sample_photo_path()
    image = read_image(sample)
    h, w = image.pixels.shape[:2]
    info = default_model("image")
    if not info.is_available():
        print(f"the weights of '{info.name}' are not installed", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    rgb = Image.open(sample).convert("RGB")
    print(f"{sample.name} ({w}x{h}) through '{info.name}'; JPEG and WebP at the closest size for comparison")
    print(f"{'quality':>7} {'bytes':>8} {'bpp':>7} {'PSNR dB':>8} {'enc s':>6} {'dec s':>6} | "
          f"{'JPEG bpp':>8} {'dB':>6} | {'WebP bpp':>8} {'dB':>6}")
    for q in info.qualities:
        t0 = time.perf_counter()
        data = api.encode(image, model=info.name, quality=q)
        t1 = time.perf_counter()
        decoded = api.decode(data)
        t2 = time.perf_counter()
        (OUT / f"{sample.stem}_q{q}.nc").write_bytes(data)
        write_image(OUT / f"{sample.stem}_q{q}.png", decoded.pixels)
        bpp = 8 * len(data) / (w * h)
        jpeg = _closest_pillow(rgb, "JPEG", len(data))
        webp = _closest_pillow(rgb, "WEBP", len(data))
        print(f"{q:>7} {len(data):>8} {bpp:>7.3f} {psnr(image.pixels, decoded.pixels):>8.2f} {t1 - t0:>6.2f} "
              f"{t2 - t1:>6.2f} | {8 * jpeg[0] / (w * h):>8.3f} {jpeg[1]:>6.2f} | "
              f"{8 * webp[0] / (w * h):>8.3f} {webp[1]:>6.2f}")
    print(f"files in {OUT}/ ; try: ncodec info {OUT}/{sample.stem}_q4.nc")
    print()
    return speech_demo()


def speech_demo() -> int:
    """The sample speech through the audio codec at every bitrate, with Opus 6 kbps alongside."""
    from ncodec.eval import baselines
    from ncodec.eval.metrics import log_mel_distance, pesq_wb, stoi
    from ncodec.media.audio import read_audio, write_audio
    from ncodec.media.samples import sample_speech_path

    sample = sample_speech_path()
    audio = read_audio(sample)
    info = default_model("audio")
    if not info.is_available():
        print(f"the weights of '{info.name}' are not installed", file=sys.stderr)
        return 1
    ref = audio.samples[0]
    rate = audio.sample_rate
    print(f"{sample.name} ({audio.duration:.1f} s, {rate} Hz) through '{info.name}'")
    print(f"{'codec':>14} {'bytes':>7} {'real kbps':>9} {'PESQ-wb':>7} {'STOI':>6} {'log-mel':>7} {'enc s':>6} {'dec s':>6}")

    def row(label: str, nbytes: int, decoded: np.ndarray, enc: float, dec: float) -> None:
        kbps = 8 * nbytes / audio.duration / 1000
        print(f"{label:>14} {nbytes:>7} {kbps:>9.2f} {pesq_wb(ref, decoded, rate):>7.2f} "
              f"{stoi(ref, decoded, rate):>6.3f} {log_mel_distance(ref, decoded, rate):>7.3f} {enc:>6.2f} {dec:>6.2f}")

    for kbps in info.bitrates:
        t0 = time.perf_counter()
        data = api.encode(audio, model=info.name, bitrate_kbps=kbps)
        t1 = time.perf_counter()
        decoded = api.decode(data)
        t2 = time.perf_counter()
        stem = f"{sample.stem}_{kbps:g}k"
        (OUT / f"{stem}.nc").write_bytes(data)
        write_audio(OUT / f"{stem}.wav", decoded)
        row(f"ncodec {kbps:g}k", len(data), decoded.samples[0], t1 - t0, t2 - t1)
    t0 = time.perf_counter()
    opus = baselines.opus_encode(audio, 6)
    t1 = time.perf_counter()
    opus_out = baselines.audio_decode(opus, audio)
    row("opus 6k", len(opus.data), opus_out.samples[0], t1 - t0, time.perf_counter() - t1)
    print(f"files in {OUT}/ ; try: ncodec info {OUT}/{sample.stem}_6k.nc")
    print()
    return video_demo()


def video_demo(quality: int = 2, time_limit: float = 60.0) -> int:
    """The project's sample clip (a pan across the sample photo) fitted for about a minute, with
    x264 (preset medium) at the closest file size alongside."""
    from ncodec.eval import baselines
    from ncodec.eval.metrics import psnr_rgb
    from ncodec.media.samples import sample_clip
    from ncodec.media.video import VideoData, write_video

    frames, fps = sample_clip(frames=24, size=(176, 144))
    video = VideoData(frames, fps)
    info = default_model("video")
    t, h, w = frames.shape[:3]
    print(f"sample clip ({w}x{h}, {t} frames at {fps} fps) through '{info.name}' q{quality}, "
          f"fitting for at most {time_limit:g} s; x264 at the closest size alongside")
    t0 = time.perf_counter()
    data = api.encode(video, model=info.name, quality=quality, time_limit=time_limit)
    t1 = time.perf_counter()
    decoded = api.decode(data)
    t2 = time.perf_counter()
    (OUT / "sample_clip.nc").write_bytes(data)
    write_video(OUT / "sample_clip.mp4", decoded)
    pixels = t * h * w
    best = None
    for crf in range(20, 52, 2):
        encoded = baselines.x264_encode(video, crf)
        if best is None or abs(len(encoded.data) - len(data)) < abs(len(best.data) - len(data)):
            best = encoded
    assert best is not None
    x264_frames = baselines.video_decode(best, video).frames
    print(f"{'codec':>10} {'bytes':>7} {'bpp':>7} {'PSNR dB':>8} {'enc s':>6} {'dec s':>6}")
    print(f"{'ncodec':>10} {len(data):>7} {8 * len(data) / pixels:>7.4f} {psnr_rgb(frames, decoded.frames)[1]:>8.2f} "
          f"{t1 - t0:>6.1f} {t2 - t1:>6.2f}")
    print(f"{'x264':>10} {len(best.data):>7} {8 * len(best.data) / pixels:>7.4f} "
          f"{psnr_rgb(frames, x264_frames)[1]:>8.2f}")
    print(f"files in {OUT}/ ; try: ncodec info {OUT}/sample_clip.nc")
    return 0


if __name__ == "__main__":
    sys.exit(main())
