"""``make demo``: encode and decode the sample photo at every quality, with real sizes and PSNR.

Writes ``out/demo/rocket_q<Q>.nc`` and the decoded PNGs, and prints one line per quality next to
JPEG and WebP files of about the same size, so a new user sees what the codec does in seconds.
The photo is ``assets/rocket.jpg`` (see ``assets/README.md``), which no training set contained.
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

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
    return 0


if __name__ == "__main__":
    sys.exit(main())
