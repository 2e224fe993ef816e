#!/usr/bin/env python3
"""Stage the image training data for a GPU run: lossless WebP copies, 34 MB by default.

The GPU machine sees only the repository (plus up to 64 MiB of git-ignored folders carried with
it), so the photos travel as a compact lossless copy in the git-ignored ``data/image-stage/``:
``dev/`` first (validation and the export's scale calibration; never trained on), then
``train/`` with the training folders' images in a fixed order until the budget is spent.
Lossless, because the high qualities are trained to reproduce fine detail that a lossy copy
would already have removed. The default budget keeps the repository (about 30 MB) and the staged
data within 64 MiB together, a common limit on what a remote GPU job may carry; 34 MB holds the
10 dev photos and 115 of the 164 training photos.

    python scripts/stage-image-data.py [--out data/image-stage] [--max-mb 34]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

TRAIN_DIRS = ["../shared/data/images/train", "../shared/data/images/train_wiki"]
DEV_DIR = "../shared/data/images/dev"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--train", nargs="*", default=TRAIN_DIRS)
    parser.add_argument("--dev", default=DEV_DIR)
    parser.add_argument("--out", default="data/image-stage")
    parser.add_argument("--max-mb", type=float, default=34.0)
    args = parser.parse_args(argv)

    from PIL import Image

    from ncodec.train.data import list_images

    out = Path(args.out)
    budget = int(args.max_mb * 1e6)
    used = 0
    counts = {"dev": 0, "train": 0}
    for split, sources in (("dev", [args.dev]), ("train", args.train)):
        folder = out / split
        folder.mkdir(parents=True, exist_ok=True)
        for path in list_images(sources):
            target = folder / f"{path.parent.name}__{path.stem}.webp"
            with Image.open(path) as im:
                im.convert("RGB").save(target, format="WEBP", lossless=True, quality=100, method=4)
            size = target.stat().st_size
            if used + size > budget:
                target.unlink()
                continue
            used += size
            counts[split] += 1
    print(f"staged {counts['dev']} dev and {counts['train']} training images, {used / 1e6:.1f} MB, in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
