"""``python -m ncodec.eval.results``: run (or resume) the standard evaluations and write RESULTS.md.

The standard sets are the project's dev images, Kodak, dev audio (speech and music apart) and dev
video. Their default
locations are given relative to the repository root (``../shared/data/...``); a set whose folder
is absent is skipped with a line saying so, so the command also works on a checkout without the
data. Evaluation outputs go to ``out/results/<set>/`` (resumable: a second run only measures what
is missing) and RESULTS.md is regenerated from them.

RESULTS.md quotes folders as they were given (relative), never resolved absolute paths.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ncodec.eval.runner import (
    BD_METRICS,
    RATE_LABELS,
    EvalReport,
    bdrate_markdown,
    run_eval,
)

REPO_ROOT = Path(__file__).resolve().parents[2]

#: (set name, modality, default folder relative to the repository root, what it is, file-name pattern)
STANDARD_SETS: tuple[tuple[str, str, str, str, str | None], ...] = (
    ("images-dev", "image", "../shared/data/images/dev", "10 photos, 832x576 crops (tuning set)", None),
    ("kodak", "image", "../shared/data/images/kodak", "Kodak PhotoCD, 24 images, 768x512", None),
    ("audio-dev-speech", "audio", "../shared/data/audio/dev",
     "12 speech clips (12 speakers, 5 languages), 5-15 s, 16-44.1 kHz", "speech__*"),
    ("audio-dev-music", "audio", "../shared/data/audio/dev", "3 music clips, 5-15 s, 16-44.1 kHz", "music__*"),
    ("images-dev-effort", "image", "../shared/data/images/dev",
     "the encode-effort ladder on the tuning set: efforts 0 to 3 at qualities 1, 3, 5 and 7 on the first five "
     "photos (each effort its own curve, named MODEL+effortE; `enc s` ran beside other work)", None),
    ("kodak-effort", "image", "../shared/data/images/kodak",
     "the encode-effort ladder: efforts 0 to 3 at qualities 1, 3, 5 and 7 on kodim01-05 (each effort "
     "its own curve, named MODEL+effortE; `enc s` ran beside other work)", "kodim0[1-5].png"),
    ("video-dev", "video", "../shared/data/video/dev",
     "6 clips, 64 frames, 352x288 / 352x192; the video codec at qualities 1, 3 and 5 (600 fitting steps per "
     "group, temporal strides 1,1,1,2,2,4,4, chained groups, global motion, checkerboard contexts; its points "
     "were measured two at a time, one torch thread each, so its `enc s` and `dec s` are single-thread times "
     "beside another fit: docs/VIDEO.md gives the 2-core times)",
     None),
)


#: The effort ladder's curves (effort 0 is the plain model name) and the sets that measure it.
_EFFORT_LADDER = ("", "+effort1", "+effort2", "+effort3")
_EFFORT_SETS = ("images-dev-effort", "kodak-effort")

#: Settings a set evaluates instead of everything: fitting a video takes minutes per point, so the
#: video codec is measured at three of its six qualities.
SET_SETTINGS: dict[str, dict[str, list[int]]] = {
    "video-dev": {"video-latent-grid": [1, 3, 5]},
    **{name: {f"image-hyperprior{e}": [1, 3, 5, 7] for e in _EFFORT_LADDER} for name in _EFFORT_SETS},
}

#: Sets measured on their first files only (sorted by name): the effort ladder takes minutes per photo.
SET_MAX_FILES: dict[str, int] = {"images-dev-effort": 5}

#: Models a set evaluates instead of every installed model of its modality (None: all of them).
SET_MODELS: dict[str, list[str]] = {
    **{name: [f"image-hyperprior{e}" for e in _EFFORT_LADDER] for name in _EFFORT_SETS},
}


def _resolve(path: str) -> Path:
    """Relative paths are taken relative to the repository root, as documented."""
    p = Path(path)
    return p if p.is_absolute() else REPO_ROOT / p


def _fmt(v: Any, digits: int) -> str:
    if not isinstance(v, int | float) or isinstance(v, bool) or math.isnan(v):
        return "n/a"
    if math.isinf(v):
        return "inf"
    return f"{v:.{digits}f}"


def summary_markdown(report: EvalReport) -> str:
    """The summary table (per codec x setting means) as Markdown."""
    modality = report.modality
    metric_keys = [m for m, _, _ in BD_METRICS[modality]]
    extra = ["si_sdr"] if modality == "audio" else []
    cols = ["codec", "setting", "files", f"rate ({RATE_LABELS[modality]})", *metric_keys, *extra, "est. gap %",
            "enc s", "dec s"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in report.summary:
        digits = 4 if modality != "audio" else 2
        cells = [r["codec"], r["setting"], str(r["n_files"]), _fmt(r.get("rate"), digits)]
        cells += [_fmt(r.get(k), 3 if k in ("stoi", "log_mel", "pesq") else 2) for k in [*metric_keys, *extra]]
        cells += [_fmt(r.get("estimate_gap_pct"), 2), _fmt(r.get("encode_s"), 3), _fmt(r.get("decode_s"), 3)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def section(name: str, folder: str, description: str, report: EvalReport, plot: str | None = None) -> str:
    parts = [f"## {name} ({report.modality}): `{folder}`", "", description + ".", ""]
    if report.models_unavailable:
        parts += [f"Models without installed weights, not evaluated: {', '.join(report.models_unavailable)}.", ""]
    if report.skipped:
        parts += ["Skipped files: " + "; ".join(f"{s['file']} ({s['reason']})" for s in report.skipped) + ".", ""]
    if report.failures:
        parts += ["Failed points: " + "; ".join(f"{f['file']} {f['codec']} {f['setting']} ({f['reason']})"
                                                for f in report.failures) + ".", ""]
    parts += ["### Mean over files, per codec and setting", "", summary_markdown(report), ""]
    parts += [bdrate_markdown(report.modality, report.bdrate).replace("### ", "#### "), ""]
    if plot:
        parts += [f"![rate-distortion, {name}]({plot})", ""]
    else:
        parts += [f"Plot: `rd_{report.modality}.png` in this set's output folder.", ""]
    return "\n".join(parts)


def header(env: dict[str, Any]) -> str:
    today = datetime.date.today().isoformat()
    versions = ", ".join(f"{k} {env[k]}" for k in ("python", "numpy", "torch", "pyav", "ffmpeg_libavcodec", "pillow")
                         if k in env)
    return "\n".join([
        "# ncodec results",
        "",
        f"Regenerated by `python -m ncodec.eval.results` on {today}; machine: {env.get('cpu_count')} cores "
        f"({env.get('machine')}), {versions}.",
        "",
        "Rates are real file sizes: the `.nc` file for ncodec, the JPEG/WebP/AVIF, Ogg Opus, MP3 or MP4 file "
        "for the classical codecs, headers included. Every codec is scored by the same metric code "
        "(`ncodec/eval/metrics.py`). Audio metrics score the mono downmix at the input's rate (PESQ at 16 kHz). "
        "`est. gap %` is how much larger the real `.nc` file is than the model's own estimate of its bits. "
        "Encode/decode seconds are wall time on this machine and depend on its load.",
        "",
    ])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ncodec.eval.results", description=__doc__.split("\n")[0])
    for name, _, default, _, _ in STANDARD_SETS:
        parser.add_argument(f"--{name}", default=default, metavar="DIR",
                            help=f"folder of the {name} set, relative to the repository root (default: {default})")
    parser.add_argument("--out", default="RESULTS.md", help="Markdown output, relative to the repository root")
    parser.add_argument("--work", default="out/results", help="evaluation outputs, relative to the repository root")
    parser.add_argument("--max-files", type=int, default=None, help="at most N files per set (quick runs)")
    parser.add_argument("--only", nargs="*", default=None, metavar="SET", help="only these sets")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--plots", default="docs/results", help="where the plots that RESULTS.md shows are copied")
    args = parser.parse_args(argv)

    sections: list[str] = []
    env: dict[str, Any] = {}
    for name, modality, _, description, match in STANDARD_SETS:
        if args.only is not None and name not in args.only:
            continue
        folder = getattr(args, name.replace("-", "_"))
        data = _resolve(folder)
        if not data.is_dir():
            print(f"results: {name}: '{folder}' not found, skipped", file=sys.stderr)
            sections.append(f"## {name} ({modality}): `{folder}`\n\nNot run: the folder is absent.\n")
            continue
        print(f"results: {name} ({modality}) from '{folder}'", file=sys.stderr)
        limits = [n for n in (args.max_files, SET_MAX_FILES.get(name)) if n is not None]
        report = run_eval(modality, data, _resolve(args.work) / name, max_files=min(limits, default=None),
                          progress=not args.quiet, match=match, settings=SET_SETTINGS.get(name),
                          models=SET_MODELS.get(name))
        env = env or _environment_of(report)
        plot = _copy_plot(report, name, args.plots)
        sections.append(section(name, folder, description, report, plot))
    out = _resolve(args.out)
    if args.only is not None and out.is_file():
        text = replace_sections(out.read_text(encoding="utf-8"), sections)
    else:
        text = header(env) + "\n" + "\n".join(sections)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out)
    print(f"results: wrote {args.out}", file=sys.stderr)
    return 0


def replace_sections(existing: str, sections: Sequence[str]) -> str:
    """``existing`` RESULTS.md with the sets in ``sections`` replaced (or appended), the rest kept.

    A set's section runs from its ``## <set> (`` heading to the next ``## `` heading; this is how
    ``--only`` refreshes one set without measuring the others again.
    """
    text = existing
    for new in sections:
        title = new.split(" (", 1)[0] + " ("
        start = text.find("\n" + title)
        if start < 0:
            text = text.rstrip("\n") + "\n\n" + new
            continue
        end = text.find("\n## ", start + 1)
        text = text[:start + 1] + new + ("\n" + text[end + 1:] if end >= 0 else "")
    return text


def _copy_plot(report: EvalReport, name: str, plots: str) -> str | None:
    """Copy a set's plot into the repository (RESULTS.md must show it without running anything)."""
    source = Path(report.out_dir) / f"rd_{report.modality}.png"
    if not source.is_file():
        return None
    target_dir = _resolve(plots)
    target_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target_dir / f"{name}.png")
    return f"{plots.rstrip('/')}/{name}.png"


def _environment_of(report: EvalReport) -> dict[str, Any]:
    from ncodec.eval.runner import load_results

    data = load_results(report.out_dir) or {}
    env: dict[str, Any] = data.get("environment", {})
    return env


if __name__ == "__main__":
    sys.exit(main())
