"""The video codec's GPU check, in one command: what more fitting buys when a GPU does the fitting.

Fitting is the video codec's encoder, and two CPU cores give it only the default 600 steps per
group; published latent-grid codecs fit 100k+ steps on a GPU. This script fits each staged clip
on a GPU at growing multiples of the default steps (``steps_scale``), decodes every file on the
CPU (as users will), and writes one JSON line per fit: real bpp from the file's bytes, RGB PSNR,
fitting and decoding seconds, and whether two CPU decodings gave the same frames. Each fit gets
the codec's own time limit (what is left of the budget), so a long fit stops early and still
writes a valid file, and a lent GPU's minutes always end with results.

    python scripts/gpu-video.py --stage                 # copy the dev clips into data/video-stage/
    python scripts/gpu-video.py --out "$OUT"            # on the GPU machine (data/video-stage carried)

The staged clips are the dev set's lossless files (about 17 MB), never committed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEV = ROOT.parent / "shared" / "data" / "video" / "dev"
STAGE = ROOT / "data" / "video-stage"
MODEL = "video-latent-grid"


def stage(source: Path, target: Path) -> None:
    """Copy the dev clips next to the code, where a GPU run can carry them."""
    if not source.is_dir():
        sys.exit(f"gpu-video: no dev clips at {source}")
    target.mkdir(parents=True, exist_ok=True)
    for clip in sorted(source.glob("*.mkv")):
        shutil.copyfile(clip, target / clip.name)
    total = sum(p.stat().st_size for p in target.glob("*.mkv"))
    print(f"staged {len(list(target.glob('*.mkv')))} clips, {total / 1e6:.1f} MB, in {target}")


def fit_one(clip: Path, frames: int, quality: int, scale: float, device: str,
            time_limit: float) -> dict[str, object]:
    """Fit one clip at ``scale`` times the default steps within ``time_limit`` seconds; decode on
    the CPU twice; measure."""
    import numpy as np
    import torch

    from ncodec import api
    from ncodec.codecs.video.codec import EncodeOptions
    from ncodec.eval.metrics import psnr_rgb
    from ncodec.media.video import read_video
    from ncodec.registry import by_name, load_codec

    video = read_video(clip, max_frames=frames)
    info = by_name(MODEL)
    codec, digest = load_codec(info)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    began = time.perf_counter()
    payload = codec.encode(video, quality, EncodeOptions(device=device, steps_scale=scale, time_limit=time_limit,
                                                               progress=False))
    fit_s = time.perf_counter() - began
    data = api._container_bytes(info, digest, payload)
    began = time.perf_counter()
    first = api.decode(data)
    decode_s = time.perf_counter() - began
    second = api.decode(data)
    t, h, w = video.frames.shape[:3]
    _, mean_psnr = psnr_rgb(video.frames, first.frames)
    return {
        "clip": clip.name, "frames": int(t), "size": f"{w}x{h}", "quality": quality, "steps_scale": scale,
        "device": device, "bytes": len(data), "bpp": 8 * len(data) / (t * h * w), "psnr_rgb": mean_psnr,
        "fit_s": round(fit_s, 2), "time_limit_s": round(time_limit, 1), "decode_s_cpu": round(decode_s, 3),
        "cpu_decode_repeatable": bool(np.array_equal(first.frames, second.frames)),
        "decoded_sha256": hashlib.sha256(first.frames.tobytes()).hexdigest(),
        "gpu_peak_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1) if device.startswith("cuda") else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", action="store_true", help="copy the dev clips into data/video-stage and stop")
    parser.add_argument("--data", type=Path, default=STAGE, help="folder of clips (default: data/video-stage)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "gpu-video")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--frames", type=int, default=64, help="first N frames of each clip")
    parser.add_argument("--quality", type=int, default=3)
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 4.0, 16.0],
                        help="multiples of the default fitting steps, run in this order over all clips")
    parser.add_argument("--clips", type=int, default=None, help="only the first N clips")
    parser.add_argument("--budget-s", type=float, default=510.0, help="wall-clock seconds for all fits")
    parser.add_argument("--min-fit-s", type=float, default=20.0, help="start no fit with less time left")
    args = parser.parse_args()
    if args.stage:
        stage(DEV, args.data)
        return

    import torch

    clips = sorted(args.data.glob("*.mkv"))[: args.clips]
    if not clips:
        sys.exit(f"gpu-video: no clips in {args.data} (run with --stage first)")
    args.out.mkdir(parents=True, exist_ok=True)
    log = args.out / "gpu-video.jsonl"
    began = time.perf_counter()
    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    print(f"gpu-video: {len(clips)} clips on {device_name}, scales {args.scales}, budget {args.budget_s:.0f} s")
    with open(log, "a", encoding="utf-8") as out:
        for scale in args.scales:
            for clip in clips:
                left = args.budget_s - (time.perf_counter() - began)
                if left < args.min_fit_s:
                    print(f"gpu-video: {left:.0f} s left; stopping before {clip.name} x{scale:g}")
                    return
                row = fit_one(clip, args.frames, args.quality, scale, args.device, left)
                row["gpu"] = device_name
                out.write(json.dumps(row) + "\n")
                out.flush()
                print(f"{clip.name:28s} x{scale:<4g} {row['bpp']:.4f} bpp {row['psnr_rgb']:.2f} dB "
                      f"fit {row['fit_s']} s decode {row['decode_s_cpu']} s repeatable {row['cpu_decode_repeatable']}")


if __name__ == "__main__":
    main()
