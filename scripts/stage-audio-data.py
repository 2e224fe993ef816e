#!/usr/bin/env python3
"""Stage the audio training data for a GPU run: 16 kHz mono FLAC copies, 30 MB by default.

The GPU machine sees only the repository (plus up to 64 MiB of git-ignored folders named in the
run's carry list), so the training audio travels as a compact copy: every file of the training
folders, decoded, mixed to mono, resampled to the model's 16 kHz and written as 16-bit FLAC into
``data/audio-stage/`` (git-ignored). Files are taken speech first, then music, until the budget.
The default budget leaves room for the repository itself (about 30 MB, most of it shipped
weights) within what travels to the GPU machine (64 MiB in all); the issue's ceiling is 50 MB.

    python scripts/stage-audio-data.py [--out data/audio-stage] [--max-mb 30] [TRAIN_DIR ...]

Then, on the GPU machine:

    ncodec train audio --profile gpu --data data/audio-stage --batch-size 128 --crop 32000 \\
        --time-budget 9 --init-from assets/audio_rvq.safetensors --out runs/audio-gpu --export $OUT
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_DIRS = [f"../shared/data/audio/train/{d}" for d in ("speech", "speech_ljlike", "music")]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="*", default=DEFAULT_DIRS)
    parser.add_argument("--out", default="data/audio-stage")
    parser.add_argument("--max-mb", type=float, default=30.0)
    args = parser.parse_args(argv)

    from ncodec.media.audio import AudioData, write_audio
    from ncodec.train.audio_data import list_audio, load_mono

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    budget = int(args.max_mb * 1e6)
    used = files = 0
    for path in [p for d in args.dirs for p in list_audio([d])]:  # folder order: speech first
        target = out / f"{path.parent.name}__{path.stem}.flac"
        write_audio(target, AudioData(load_mono(path, 16_000)[None], 16_000))
        size = target.stat().st_size
        if used + size > budget:
            target.unlink()
            continue
        used += size
        files += 1
    print(f"staged {files} files, {used / 1e6:.1f} MB, in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
