"""The ``ncodec`` command line: a thin layer over :mod:`ncodec.api`.

Every failure a user can cause prints one line on stderr and exits 1 (2 for usage errors); no
traceback unless ``NCODEC_DEBUG=1``. Heavy modules (torch, the codecs) are imported only by the
sub-commands that need them, so ``ncodec info`` and ``ncodec models`` answer at once.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ncodec.errors import NcodecError, UsageError

if TYPE_CHECKING:
    from ncodec.limits import Limits

PROG = "ncodec"


def _fail(message: str, code: int = 1) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return code


def _human_rate(info: dict[str, object]) -> str:
    rate = info.get("rate")
    return f", {rate}" if rate else ""


def cmd_encode(args: argparse.Namespace) -> int:
    from ncodec import api

    result = api.encode_file(args.input, args.output, model=args.model, quality=args.quality,
                             bitrate_kbps=args.bitrate, overwrite=args.force, time_limit=args.time_limit,
                             device=args.device, max_bytes=args.max_bytes, target_bpp=args.target_bpp,
                             target_psnr=args.target_psnr, effort=args.effort, limits=_limits(args))
    for line in result.warnings:
        print(f"{PROG}: warning: {line}", file=sys.stderr)
    if result.chosen:
        print(f"{args.output}: chose {result.chosen}")
    summary = api.info(result.data)
    setting = f"q{result.quality:g}" if result.quality is not None else f"{result.bitrate_kbps:g} kbps"
    print(f"{args.output}: {summary['modality']} {summary['media']}, model {summary['model']} "
          f"{setting}, {len(result.data):,} bytes{_human_rate(summary)}")
    return 0


def cmd_decode(args: argparse.Namespace) -> int:
    from ncodec import api

    api.decode_file(args.input, args.output, overwrite=args.force, limits=_limits(args))
    print(f"{args.output}: decoded from {args.input}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from ncodec import api

    summary = api.info_file(args.input)
    if args.json:
        print(json.dumps(summary, indent=2, sort_keys=True))
        return 0
    for key in ("modality", "model", "quality", "media", "rate", "kbps", "file_bytes", "payload_bytes", "version",
                "weights_sha256"):
        if key in summary:
            print(f"{key:15s} {summary[key]}")
    chunks = summary.get("chunks", [])
    assert isinstance(chunks, list)
    for c in chunks:
        print(f"chunk {c['tag']:9s} {c['bytes']:>12,} bytes  crc32 {c['crc32']}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from ncodec.registry import list_models

    models = list_models(include_test=args.all)
    rows = [{"name": m.name, "id": m.model_id, "modality": m.modality, "qualities": m.qualities,
             **({"bitrates": m.bitrates} if m.modality == "audio" else {}),
             "fractional_quality": m.fractional_quality,
             "default_quality": m.default_quality, "installed": m.is_available(), "description": m.description,
             "rd": (m.read_card() or {}).get("evaluation", {}).get("kodak_per_quality")} for m in models]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        qs = r["qualities"]
        assert isinstance(qs, list)
        q = f"qualities {qs[0]}..{qs[-1]}" if qs else "qualities -"
        rates = r.get("bitrates")
        if isinstance(rates, list) and rates:
            q = "kbps " + "/".join(f"{b:g}" for b in rates)
        state = "" if r["installed"] else "  (weights not installed)"
        print(f"{r['name']:18s} {r['modality']:6s} {q:16s} {r['description']}{state}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from ncodec.train.cli import train_main

    return train_main(args)


def _limits(args: argparse.Namespace) -> Limits:
    from ncodec.limits import Limits

    given = {k: v for k, v in (("max_pixels", args.max_pixels), ("max_samples", args.max_samples),
                               ("max_frames", args.max_frames)) if v is not None}
    return Limits(**given)


def _add_limit_arguments(p: argparse.ArgumentParser) -> None:
    from ncodec.limits import DEFAULT_MAX_FRAMES, DEFAULT_MAX_PIXELS, DEFAULT_MAX_SAMPLES

    p.add_argument("--max-pixels", type=int, metavar="N",
                   help=f"refuse images (and video frames) above N pixels (default {DEFAULT_MAX_PIXELS:,})")
    p.add_argument("--max-samples", type=int, metavar="N",
                   help=f"refuse audio above N samples per channel (default {DEFAULT_MAX_SAMPLES:,})")
    p.add_argument("--max-frames", type=int, metavar="N",
                   help=f"refuse video above N frames (default {DEFAULT_MAX_FRAMES:,})")


def _quality_arg(text: str) -> int | float:
    """A quality level: a whole number, or (image codec) a value between two levels."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    return int(value) if value.is_integer() else value


def _effort_arg(text: str) -> int | str:
    if text == "max":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an effort level (a whole number or 'max')") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Neural media codecs for images, audio and video.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("encode", help="encode an image (or other media) into a .nc file")
    p.add_argument("input")
    p.add_argument("output")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--quality", "-q", type=_quality_arg,
                      help="quality level (see `ncodec models`); the image codec also takes values between "
                           "levels, e.g. 3.5")
    rate.add_argument("--bitrate", type=float, help="target bitrate in kbit/s (audio codec)")
    rate.add_argument("--max-bytes", type=int, metavar="N",
                      help="image: the highest quality whose whole file is at most N bytes")
    rate.add_argument("--target-bpp", type=float, metavar="X",
                      help="image: the highest quality whose file is at most X bits per pixel")
    rate.add_argument("--target-psnr", type=float, metavar="DB",
                      help="image: the lowest quality whose decoding reaches DB dB RGB PSNR")
    p.add_argument("--effort", type=_effort_arg, default=0, metavar="N|max",
                   help="image: refine the latent for smaller files at the same quality "
                        "(0 = one pass, the default; 1..3 or max take longer)")
    p.add_argument("--model", "-m", help="model name (default: the modality's default model)")
    p.add_argument("-f", "--force", action="store_true", help="overwrite the output")
    p.add_argument("--time-limit", type=float, metavar="SECONDS",
                   help="video: stop fitting early to finish within this time (the file stays valid)")
    p.add_argument("--device", help="video: fit on this torch device (default: cuda when present, else cpu)")
    _add_limit_arguments(p)
    p.set_defaults(func=cmd_encode)

    p = sub.add_parser("decode", help="decode a .nc file; the output format follows the extension")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("-f", "--force", action="store_true", help="overwrite the output")
    _add_limit_arguments(p)
    p.set_defaults(func=cmd_decode)

    p = sub.add_parser("info", help="describe a .nc file (no decoding)")
    p.add_argument("input")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("models", help="list the registered models and their qualities")
    p.add_argument("--json", action="store_true")
    p.add_argument("--all", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_models)

    from ncodec.eval.cli import add_bench_arguments, add_eval_arguments, bench_main, eval_main

    p = sub.add_parser("eval", help="rate-distortion evaluation against the classical codecs")
    add_eval_arguments(p)
    p.set_defaults(func=eval_main)

    p = sub.add_parser("bench", help="speed, memory and coder-overhead benchmarks")
    add_bench_arguments(p)
    p.set_defaults(func=bench_main)

    from ncodec.train.cli import add_train_arguments

    p = sub.add_parser("train", help="train a codec's networks")
    add_train_arguments(p)
    p.set_defaults(func=cmd_train)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    import signal

    parser = build_parser()
    args = parser.parse_args(argv)
    if hasattr(signal, "SIGXFSZ"):
        # Over a file-size limit (ulimit -f), the default action kills the process mid-write and
        # leaves the temporary file behind; ignored, the write fails with EFBIG instead, and the
        # error path removes the temporary file and reports one line.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        code: int = args.func(args)
        return code
    except UsageError as exc:
        return _fail(str(exc), 2)
    except NcodecError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except (OSError, MemoryError) as exc:
        return _fail(f"{exc.__class__.__name__}: {exc}")
    except Exception as exc:  # a bug: say so in one line, unless debugging
        if os.environ.get("NCODEC_DEBUG"):
            traceback.print_exc()
        return _fail(f"internal error ({exc.__class__.__name__}: {exc}); set NCODEC_DEBUG=1 for details")


if __name__ == "__main__":
    sys.exit(main())
