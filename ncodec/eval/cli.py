"""``ncodec eval`` and ``ncodec bench``: argument definitions and entry points for the main CLI.

Kept free of heavy imports: the main parser imports this module to build its sub-commands, and
``ncodec info`` must not pay for torch, matplotlib or PyAV.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """``ncodec eval image|audio|video DATA_DIR [--models ...] [--baselines ...] [--out DIR] [--max-files N]``."""
    parser.add_argument("modality", choices=("image", "audio", "video"))
    parser.add_argument("data_dir", help="folder of media files (every readable file of the modality)")
    parser.add_argument("--models", nargs="*", metavar="MODEL", default=None,
                        help="ncodec models to evaluate (default: all installed; give the flag alone for none)")
    parser.add_argument("--baselines", nargs="*", metavar="CODEC", default=None,
                        help="classical codecs: image jpeg webp avif, audio opus mp3, video x264 x265 svtav1 "
                             "(default: all of the modality; give the flag alone for none)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="output folder (default: eval-<modality>-<data folder name>); "
                             "points already there are kept and not measured again")
    parser.add_argument("--max-files", type=int, default=None, metavar="N", help="only the first N files (by name)")
    parser.add_argument("--qualities", type=int, nargs="+", default=None, metavar="Q",
                        help="only these qualities of the ncodec models (default: all they offer)")
    parser.add_argument("--efforts", type=int, nargs="+", default=None, metavar="E",
                        help="image: evaluate the models at these encode efforts, each its own curve "
                             "(named MODEL+effortE; default: effort 0 only)")
    parser.add_argument("--match", default=None, metavar="PATTERN",
                        help="only files whose names match this shell pattern (e.g. 'speech__*')")
    parser.add_argument("--reference", default=None, metavar="JSON",
                        help="published curves compared with on Kodak, CompressAI's results JSON (default: "
                             "../shared/reference/kodak_published.json when it exists; without it the "
                             "published rows are omitted)")
    parser.add_argument("--no-resume", action="store_true", help="measure everything again")
    parser.add_argument("--no-plot", action="store_true", help="skip the matplotlib plot")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def eval_main(args: argparse.Namespace) -> int:
    from ncodec.errors import UsageError
    from ncodec.eval.runner import format_report, run_eval

    if args.max_files is not None and args.max_files < 1:
        raise UsageError("--max-files must be at least 1")
    out = args.out or f"eval-{args.modality}-{Path(args.data_dir).resolve().name}"
    settings = None
    models = args.models
    if args.efforts:
        from ncodec import registry
        from ncodec.eval.points import with_effort

        if args.modality != "image":
            raise UsageError("--efforts applies to image evaluation")
        names = models if models is not None else [m.name for m in registry.list_models("image")
                                                   if not m.test_only and m.is_available()]
        models = [with_effort(name, e) for name in names for e in args.efforts]
    if args.qualities:
        from ncodec import registry

        names = models if models is not None else [m.name for m in registry.list_models(args.modality)]
        settings = {name: list(args.qualities) for name in names}
    report = run_eval(args.modality, args.data_dir, out, models=models, baselines=args.baselines,
                      max_files=args.max_files, reference=args.reference, progress=not args.quiet,
                      resume=not args.no_resume, plot=not args.no_plot, match=args.match,
                      settings=settings)
    print(format_report(report))
    return 0


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """``ncodec bench [--out FILE] [--repeats N]``."""
    parser.add_argument("--out", default="bench.json", metavar="FILE", help="JSON output (default: bench.json)")
    parser.add_argument("--repeats", type=int, default=3, metavar="N", help="timed repeats per measurement (median)")
    parser.add_argument("--image", default=None, metavar="FILE", help="sample image (default: the shipped one)")
    parser.add_argument("--audio", default=None, metavar="FILE", help="sample audio (default: the shipped one)")
    parser.add_argument("--video", default=None, metavar="FILE", help="sample video (default: the shipped one)")
    parser.add_argument("--no-memory", action="store_true",
                        help="skip the peak-memory measurements (one subprocess each)")
    parser.add_argument("--no-entropy", action="store_true", help="skip the entropy-coder throughput")


def bench_main(args: argparse.Namespace) -> int:
    from ncodec.errors import UsageError
    from ncodec.eval.bench import format_bench, run_bench, write_bench

    if args.repeats < 1:
        raise UsageError("--repeats must be at least 1")
    samples = {k: getattr(args, k) for k in ("image", "audio", "video") if getattr(args, k)}
    result = run_bench(samples=samples or None, repeats=args.repeats, memory=not args.no_memory,
                       entropy=not args.no_entropy, progress=sys.stderr.isatty())
    write_bench(args.out, result)
    print(format_bench(result))
    print(f"written to {args.out}")
    return 0


__all__ = ["add_bench_arguments", "add_eval_arguments", "bench_main", "eval_main"]
