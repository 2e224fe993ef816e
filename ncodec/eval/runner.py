"""``run_eval``: every file x every codec x every setting, written as JSON, CSV, BD-rate tables and a plot.

Outputs in ``out_dir``:

* ``results.json``: every point (file, codec, setting, bytes, rate, every metric, encode/decode
  seconds, ncodec's estimated bits and the gap to the real size), the files skipped with their
  reason, the points that failed with theirs, and the software versions and core count. JSON has
  no NaN or infinity: ``nan`` is written as ``null`` and ``inf`` as the string ``"inf"``.
* ``summary.csv``: per codec x setting, the mean over files of every number.
* ``bdrate.csv`` / ``bdrate.md``: BD-rate of each ncodec model against each baseline, of each
  baseline against the modality's classic anchor (JPEG, Opus, x264) for context, and on Kodak
  against CompressAI's published curves. Curves are averaged over the files both codecs have
  complete (rate and quality averaged per setting, then fitted: CompressAI's convention for Kodak,
  so the published curves compare like for like).
* ``rd_<modality>.png``: the averaged curves; published curves dashed.

The run is resumable: points already in ``results.json`` are not measured again, and the file is
rewritten after every new point, so an interrupted run loses at most one point. Files that cannot
be read are listed as skipped (with the :class:`~ncodec.errors.InputError` message), never fatal.
"""

from __future__ import annotations

import csv
import dataclasses
import fnmatch
import json
import math
import os
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ncodec.errors import InputError, NcodecError, UsageError
from ncodec.eval.baselines import ANCHORS, BASELINES, Baseline, baselines_for
from ncodec.eval.bdrate import bd_compare
from ncodec.eval.points import (
    RATE_UNITS,
    ApiBackend,
    ModelSpec,
    NcodecBackend,
    Point,
    is_finite_number,
    measure_baseline,
    measure_ncodec,
    split_effort,
)

MODALITIES = ("image", "audio", "video")

#: File extensions an evaluation picks up in a data folder (anything else, e.g. MANIFEST.tsv, is ignored).
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "image": (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".ppm", ".pgm", ".webp"),
    "audio": (".flac", ".wav", ".ogg", ".opus", ".mp3", ".m4a"),
    "video": (".mkv", ".mp4", ".y4m", ".avi", ".mov", ".webm"),
}

#: Metrics used for BD tables and plots: (key, sign, label). sign -1: lower is better (negated for BD).
BD_METRICS: dict[str, list[tuple[str, int, str]]] = {
    "image": [("psnr_rgb", 1, "PSNR-RGB (dB)"), ("ms_ssim_db", 1, "MS-SSIM (dB)")],
    "audio": [("pesq", 1, "PESQ-WB"), ("stoi", 1, "STOI"), ("log_mel", -1, "log-mel distance")],
    "video": [("psnr_rgb", 1, "PSNR-RGB (dB)"), ("psnr_y", 1, "PSNR-Y (dB)")],
}

RATE_LABELS = {"image": "bits per pixel", "audio": "kbit/s", "video": "bits per pixel per frame"}

#: Per-point numbers averaged in summary.csv, in column order (only those present are written).
SUMMARY_FIELDS = (
    "rate", "bytes", "bitstream_rate", "estimated_rate", "estimate_gap_pct",
    "psnr_rgb", "psnr_y", "ms_ssim", "ms_ssim_db", "pesq", "stoi", "log_mel", "si_sdr",
    "encode_s", "decode_s",
)

KODAK_NAMES = {f"kodim{i:02d}.png" for i in range(1, 25)}
PUBLISHED_PREFIX = "published:"
RESULTS_VERSION = 1


#: Where the published Kodak curves (CompressAI's results JSON) are read from when ``--reference``
#: is not given: the project's read-only reference folder beside the checkout. The package ships
#: no copy of them; without the file, evaluation simply omits the published rows.
DEFAULT_REFERENCE = Path("../shared/reference/kodak_published.json")


def default_reference() -> Path | None:
    """The published Kodak curves to compare with by default, or None when they are not at hand."""
    return DEFAULT_REFERENCE if DEFAULT_REFERENCE.is_file() else None


@dataclass
class EvalReport:
    """What a run did; everything in it is also in ``results.json``."""

    modality: str
    out_dir: Path
    points: list[Point]
    new_points: int
    skipped: list[dict[str, str]]
    failures: list[dict[str, str]]
    models: list[str]
    baselines: list[str]
    models_unavailable: list[str] = field(default_factory=list)
    summary: list[dict[str, Any]] = field(default_factory=list)
    bdrate: list[dict[str, Any]] = field(default_factory=list)
    published: bool = False


# --------------------------------------------------------------------------------------------------
# JSON without NaN / inf


def to_json_safe(obj: Any) -> Any:
    """Replace NaN by None and +-inf by "inf"/"-inf", recursively (strict JSON has neither)."""
    if isinstance(obj, float):
        if math.isnan(obj):
            return None
        if math.isinf(obj):
            return "inf" if obj > 0 else "-inf"
        return obj
    if isinstance(obj, np.floating | np.integer):
        return to_json_safe(obj.item())
    if isinstance(obj, dict):
        return {str(k): to_json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_json_safe(v) for v in obj]
    return obj


def from_json_safe(obj: Any) -> Any:
    """Inverse of :func:`to_json_safe` for numbers: "inf"/"-inf" back to floats (None stays None)."""
    if obj == "inf":
        return math.inf
    if obj == "-inf":
        return -math.inf
    if isinstance(obj, dict):
        return {k: from_json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [from_json_safe(v) for v in obj]
    return obj


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def load_results(out_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The contents of ``out_dir/results.json`` (numbers restored), or None when absent."""
    path = Path(out_dir) / "results.json"
    if not path.is_file():
        return None
    data: dict[str, Any] = from_json_safe(json.loads(path.read_text(encoding="utf-8")))
    return data


def environment() -> dict[str, Any]:
    """Software versions and core count: what a reader needs to compare timings across runs."""
    import platform

    import av
    import PIL

    env: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pyav": av.__version__,
        "pillow": PIL.__version__,
    }
    try:
        env["ffmpeg_libavcodec"] = ".".join(str(v) for v in av.library_versions["libavcodec"])
    except Exception:  # informative only
        pass
    try:
        import torch

        env["torch"] = torch.__version__
        env["torch_threads"] = torch.get_num_threads()
    except ImportError:
        pass
    return env


# --------------------------------------------------------------------------------------------------
# inputs


def list_files(modality: str, data_dir: Path, max_files: int | None, match: str | None = None) -> list[Path]:
    """Media files of ``modality`` directly in ``data_dir``, sorted by name, at most ``max_files``.

    ``match`` keeps only names matching that shell pattern (e.g. ``speech__*``), so one folder can be
    reported in parts (speech and music apart).
    """
    exts = EXTENSIONS[modality]
    files = sorted(p for p in data_dir.iterdir()
                   if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in exts
                   and (match is None or fnmatch.fnmatchcase(p.name, match)))
    return files if max_files is None else files[:max_files]


def read_media(modality: str, path: Path) -> Any:
    """Read one input with :mod:`ncodec.media`; raises InputError for anything unreadable."""
    if modality == "image":
        from ncodec.media.image import read_image

        return read_image(path)
    if modality == "audio":
        from ncodec.media.audio import read_audio

        return read_audio(path)
    from ncodec.media.video import read_video

    return read_video(path)


def _baseline_input(modality: str, media: Any) -> Any:
    """What the baselines code: for audio the mono downmix, since every audio metric scores the
    downmix, and coding stereo would spend a baseline's bits on a difference no metric sees."""
    if modality == "audio" and media.samples.shape[0] > 1:
        from ncodec.media.audio import AudioData, to_mono

        return AudioData(to_mono(media.samples), media.sample_rate, media.source_format)
    return media


def _resolve_models(modality: str, backend: NcodecBackend, models: Sequence[str] | None
                    ) -> tuple[list[ModelSpec], list[str]]:
    registered = backend.models(modality)
    if models is None:
        chosen = [m for m in registered if m.available]
        return chosen, [m.name for m in registered if not m.available]
    by_name = {m.name: m for m in registered}
    out: list[ModelSpec] = []
    for name in models:
        base, effort = split_effort(name)
        if base not in by_name:
            known = ", ".join(sorted(by_name)) or "none"
            raise UsageError(f"no {modality} model '{base}' (registered: {known})")
        if not by_name[base].available:
            raise UsageError(f"model '{base}' has no installed weights")
        out.append(dataclasses.replace(by_name[base], name=name) if effort else by_name[base])
    return out, []


def _resolve_baselines(modality: str, baselines: Sequence[str] | None) -> list[Baseline]:
    if baselines is None:
        return baselines_for(modality)
    out = []
    for name in baselines:
        b = BASELINES.get(name)
        if b is None or b.modality != modality:
            known = ", ".join(b.name for b in baselines_for(modality))
            raise UsageError(f"no {modality} baseline '{name}' (choose from {known})")
        out.append(b)
    return out


# --------------------------------------------------------------------------------------------------
# the run


def run_eval(
    modality: str,
    data_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    models: Sequence[str] | None = None,
    baselines: Sequence[str] | None = None,
    max_files: int | None = None,
    *,
    backend: NcodecBackend | None = None,
    settings: Mapping[str, Sequence[int]] | None = None,
    reference: str | os.PathLike[str] | None = None,
    progress: bool = True,
    resume: bool = True,
    plot: bool = True,
    match: str | None = None,
) -> EvalReport:
    """Evaluate ncodec ``models`` and classical ``baselines`` on every file of ``data_dir``.

    ``models`` / ``baselines``: names, or None for all (models whose weights are not installed are
    then left out and listed in the report); an empty list runs none. ``settings`` overrides a
    baseline's sweep (``{"jpeg": [20, 80]}``) or a model's qualities. ``reference`` is the JSON of
    published curves used when ``data_dir`` is Kodak (default: :data:`DEFAULT_REFERENCE` when it
    exists). ``match`` keeps only file names matching a shell pattern.
    ``backend`` replaces the real ncodec API (tests inject a fake codec through it).
    """
    if modality not in MODALITIES:
        raise UsageError(f"modality must be one of {', '.join(MODALITIES)}, got '{modality}'")
    data = Path(data_dir)
    if not data.is_dir():
        raise UsageError(f"data folder '{data_dir}' does not exist")
    if max_files is not None and max_files < 1:
        raise UsageError("max_files must be at least 1")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    settings = dict(settings or {})

    model_specs: list[ModelSpec] = []
    unavailable: list[str] = []
    if models is None or len(models) > 0:
        model_specs, unavailable = _resolve_models(modality, backend or ApiBackend(), models)
    if model_specs and backend is None:
        backend = ApiBackend()
    chosen_baselines = _resolve_baselines(modality, baselines)

    tasks: list[tuple[str, Any, int]] = []  # (kind, codec object, setting)
    for spec in model_specs:
        for q in settings.get(spec.name, spec.qualities):
            tasks.append(("ncodec", spec, int(q)))
    for b in chosen_baselines:
        for s in settings.get(b.name, b.settings):
            tasks.append(("baseline", b, int(s)))

    previous = load_results(out) if resume else None
    points: list[Point] = []
    if previous and previous.get("modality") == modality:
        # A point measured with other weights than those installed now is stale: measure it again.
        current = {f"ncodec:{s.name}": s.weights for s in model_specs}
        points = [p for p in previous.get("points", [])
                  if p["codec"] not in current or p.get("weights_sha256", "") == current[p["codec"]]]
    done = {(p["file"], p["codec"], p["setting"]) for p in points}

    files = list_files(modality, data, max_files, match)
    skipped: list[dict[str, str]] = []
    failures: list[dict[str, str]] = []
    env = environment()
    header = {"version": RESULTS_VERSION, "modality": modality, "data_dir": data.name,
              "rate_unit": RATE_UNITS[modality], "environment": env}

    def save() -> None:
        payload = dict(header, points=points, skipped=skipped, failures=failures)
        _write_atomic(out / "results.json", json.dumps(to_json_safe(payload), indent=1))

    from tqdm import tqdm

    new_points = 0
    bar = tqdm(total=len(files) * len(tasks), file=sys.stderr, disable=not progress, unit="pt",
               dynamic_ncols=True)
    try:
        for path in files:
            name = path.name
            todo = [t for t in tasks if (name, _codec_name(t), _setting_label(t)) not in done]
            bar.update(len(tasks) - len(todo))
            if not todo:
                continue
            bar.set_postfix_str(f"{name} (reading)")
            try:
                media = read_media(modality, path)
            except InputError as exc:
                # the message quotes the path as given; keep only the name (outputs carry no local paths)
                skipped.append({"file": name, "reason": str(exc).replace(str(path), name)})
                bar.update(len(todo))
                save()
                continue
            base_media = _baseline_input(modality, media)
            for kind, codec, setting in todo:
                bar.set_postfix_str(f"{name} {_codec_name((kind, codec, setting))} {_setting_label((kind, codec, setting))}")
                try:
                    if kind == "ncodec":
                        assert backend is not None
                        point = measure_ncodec(backend, modality, name, media, codec.name, setting)
                        point["weights_sha256"] = codec.weights
                    else:
                        point = measure_baseline(codec, modality, name, base_media, setting)
                except (NcodecError, ValueError) as exc:
                    failures.append({"file": name, "codec": _codec_name((kind, codec, setting)),
                                     "setting": _setting_label((kind, codec, setting)),
                                     "reason": f"{exc.__class__.__name__}: {exc}"})
                    bar.write(f"ncodec eval: {name} {_codec_name((kind, codec, setting))}: {exc}", file=sys.stderr)
                else:
                    points.append(point)
                    done.add((name, point["codec"], point["setting"]))
                    new_points += 1
                bar.update(1)
                save()
    finally:
        bar.close()
    save()

    published = _load_published(reference) if modality == "image" and _is_kodak(files) else None
    summary = summarize(points)
    write_summary_csv(out / "summary.csv", summary, modality)
    bd_rows = bd_table(modality, points, [s.name for s in model_specs], [b.name for b in chosen_baselines],
                       published)
    write_bdrate(out, modality, bd_rows, n_inputs=len(files))
    if plot:
        plot_rd(out / f"rd_{modality}.png", modality, summary, published)
    return EvalReport(modality, out, points, new_points, skipped, failures,
                      [s.name for s in model_specs], [b.name for b in chosen_baselines], unavailable,
                      summary, bd_rows, published is not None)


def _codec_name(task: tuple[str, Any, int]) -> str:
    kind, codec, _ = task
    return f"ncodec:{codec.name}" if kind == "ncodec" else str(codec.name)


def _setting_label(task: tuple[str, Any, int]) -> str:
    kind, codec, setting = task
    return f"q{setting}" if kind == "ncodec" else str(codec.label(setting))


# --------------------------------------------------------------------------------------------------
# summary


def _mean(values: Iterable[Any]) -> float:
    """Mean of the finite numbers; +inf if any is +inf (a lossless point), NaN if there are none."""
    vals = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if any(v == math.inf for v in vals):
        return math.inf
    finite = [v for v in vals if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def _codec_order(codec: str) -> tuple[int, int, str]:
    if codec.startswith("ncodec:"):
        return (0, 0, codec)
    names = list(BASELINES)
    return (1, names.index(codec), codec) if codec in BASELINES else (2, 0, codec)


def summarize(points: Sequence[Point]) -> list[dict[str, Any]]:
    """Per codec x setting: means over files of every number in :data:`SUMMARY_FIELDS`."""
    groups: dict[tuple[str, str], list[Point]] = defaultdict(list)
    for p in points:
        groups[(p["codec"], p["setting"])].append(p)
    rows = []
    for (codec, setting), pts in groups.items():
        row: dict[str, Any] = {"codec": codec, "kind": pts[0]["kind"], "setting": setting,
                               "setting_value": pts[0]["setting_value"], "n_files": len(pts),
                               "rate_unit": pts[0]["rate_unit"]}
        for key in SUMMARY_FIELDS:
            if key == "estimated_rate":
                vals = [p["rate"] * p["estimated_bits"] / p["bits"] for p in pts
                        if is_finite_number(p.get("estimated_bits")) and p["bits"]]
                if vals:
                    row[key] = _mean(vals)
                continue
            if any(key in p for p in pts):
                row[key] = _mean(p.get(key) for p in pts)
        rows.append(row)
    rows.sort(key=lambda r: (_codec_order(r["codec"]), r["setting_value"]))
    return rows


def write_summary_csv(path: Path, rows: Sequence[dict[str, Any]], modality: str) -> None:
    keys = ["codec", "kind", "setting", "setting_value", "n_files", "rate_unit"]
    keys += [k for k in SUMMARY_FIELDS if any(k in r for r in rows)]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(keys)
        for r in rows:
            writer.writerow([_fmt_csv(r.get(k)) for k in keys])


def _fmt_csv(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return "inf" if math.isinf(value) else f"{value:.6g}"
    return str(value)


# --------------------------------------------------------------------------------------------------
# BD-rate tables


def _is_kodak(files: Sequence[Path]) -> bool:
    return bool(files) and all(p.name.lower() in KODAK_NAMES for p in files)


def _load_published(reference: str | os.PathLike[str] | None) -> dict[str, dict[str, list[float]]] | None:
    path = Path(reference) if reference is not None else default_reference()
    if path is None:
        return None
    if not path.is_file():
        raise UsageError(f"--reference: '{reference}' does not exist or is not a file")
    raw = json.loads(path.read_text(encoding="utf-8"))
    curves = {}
    for name, value in raw.items():
        if isinstance(value, dict) and "bpp" in value and "psnr" in value:
            curves[name] = {"bpp": [float(v) for v in value["bpp"]], "psnr": [float(v) for v in value["psnr"]]}
    return curves or None


def _curve(points: Sequence[Point], codec: str, files: set[str], metric: str, sign: int
           ) -> tuple[list[float], list[float]]:
    """(rates, metric values) averaged over ``files``, for the settings every one of them has."""
    by_setting: dict[str, dict[str, Point]] = defaultdict(dict)
    for p in points:
        if p["codec"] == codec and p["file"] in files:
            by_setting[p["setting"]][p["file"]] = p
    rates, values = [], []
    for per_file in by_setting.values():
        if set(per_file) != files:
            continue
        rate = _mean(p["rate"] for p in per_file.values())
        value = _mean(p.get(metric) for p in per_file.values())
        if math.isfinite(rate) and math.isfinite(value):
            rates.append(rate)
            values.append(sign * value)
    return rates, values


def _files_of(points: Sequence[Point], codec: str) -> set[str]:
    return {p["file"] for p in points if p["codec"] == codec}


def bd_table(modality: str, points: Sequence[Point], models: Sequence[str], baselines: Sequence[str],
             published: dict[str, dict[str, list[float]]] | None) -> list[dict[str, Any]]:
    """Rows of the BD table: (test, anchor, metric) with both BD-rates and the BD-metric."""
    present = {p["codec"] for p in points}
    model_codecs = [f"ncodec:{m}" for m in models if f"ncodec:{m}" in present]
    # ncodec models found in results.json from an earlier run are compared too
    model_codecs += sorted(c for c in present if c.startswith("ncodec:") and c not in model_codecs)
    base = [b for b in baselines if b in present] + sorted(
        c for c in present if c in BASELINES and c not in baselines)
    anchor = ANCHORS[modality]
    pairs: list[tuple[str, str, str]] = [(m, b, "ncodec vs baseline") for m in model_codecs for b in base]
    pairs += [(b, anchor, "baseline vs anchor") for b in base if b != anchor and anchor in present]
    # Each encode effort against the same model's one pass: what the extra encoding time buys.
    pairs += [(m, f"ncodec:{split_effort(m[len('ncodec:'):])[0]}", "effort vs one pass") for m in model_codecs
              if split_effort(m[len("ncodec:"):])[1] and f"ncodec:{split_effort(m[len('ncodec:'):])[0]}" in present]
    rows: list[dict[str, Any]] = []
    for metric, sign, label in BD_METRICS[modality]:
        for test, anc, group in pairs:
            files = _files_of(points, test) & _files_of(points, anc)
            if not files:
                continue
            rt, qt = _curve(points, test, files, metric, sign)
            ra, qa = _curve(points, anc, files, metric, sign)
            rows.append(_bd_row(modality, metric, label, sign, test, anc, group, len(files), ra, qa, rt, qt))
        if published and metric == "psnr_rgb":
            for name, curve in published.items():
                pub = f"{PUBLISHED_PREFIX}{name}"
                for test in model_codecs:
                    files = _files_of(points, test)
                    rt, qt = _curve(points, test, files, metric, sign)
                    rows.append(_bd_row(modality, metric, label, sign, test, pub, "ncodec vs published",
                                        len(files), curve["bpp"], curve["psnr"], rt, qt))
                if anchor in present:
                    files = _files_of(points, anchor)
                    ra, qa = _curve(points, anchor, files, metric, sign)
                    rows.append(_bd_row(modality, metric, label, sign, pub, anchor, "published vs anchor",
                                        len(files), ra, qa, curve["bpp"], curve["psnr"]))
    return rows


def _bd_row(modality: str, metric: str, label: str, sign: int, test: str, anchor: str, group: str,
            n_files: int, ra: Sequence[float], qa: Sequence[float], rt: Sequence[float], qt: Sequence[float]
            ) -> dict[str, Any]:
    res = bd_compare(ra, qa, rt, qt)
    note = res.note
    if anchor.startswith(PUBLISHED_PREFIX) or test.startswith(PUBLISHED_PREFIX):
        if n_files != len(KODAK_NAMES):
            note = "; ".join(x for x in (note, f"published curve is over all 24 Kodak images, ours over {n_files}")
                             if x)
    return {"modality": modality, "metric": metric, "metric_label": label, "test": test, "anchor": anchor,
            "group": group, "n_files": n_files, "bd_rate_pchip_pct": res.bd_rate_pchip,
            "bd_rate_cubic_pct": res.bd_rate_cubic, "bd_metric_pchip": sign * res.bd_metric_pchip,
            "points_test": res.points_test, "points_anchor": res.points_anchor,
            "overlap_lo": sign * res.overlap_lo if math.isfinite(res.overlap_lo) else math.nan,
            "overlap_hi": sign * res.overlap_hi if math.isfinite(res.overlap_hi) else math.nan,
            "note": note}


BD_COLUMNS = ("modality", "metric", "group", "test", "anchor", "n_files", "bd_rate_pchip_pct", "bd_rate_cubic_pct",
              "bd_metric_pchip", "points_test", "points_anchor", "overlap_lo", "overlap_hi", "note")


def write_bdrate(out: Path, modality: str, rows: Sequence[dict[str, Any]], n_inputs: int) -> None:
    """``bdrate.csv`` (every number) and ``bdrate.md`` (the same, readable)."""
    with open(out / "bdrate.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(BD_COLUMNS)
        for r in rows:
            writer.writerow([_fmt_csv(r.get(k)) for k in BD_COLUMNS])
    (out / "bdrate.md").write_text(bdrate_markdown(modality, rows), encoding="utf-8")


def _pct(v: Any) -> str:
    return "n/a" if not is_finite_number(v) else f"{v:+.1f} %"


def _num(v: Any, digits: int = 3) -> str:
    return "n/a" if not is_finite_number(v) else f"{v:+.{digits}f}"


def bdrate_markdown(modality: str, rows: Sequence[dict[str, Any]]) -> str:
    """BD tables as Markdown, one table per metric (used in bdrate.md and RESULTS.md)."""
    lines = [f"BD-rate, {modality} (negative: the test codec needs fewer bits than the anchor for the same "
             "quality). PCHIP is the primary figure (JCT-VC/JVET convention), the cubic fit of VCEG-M33 is "
             "shown for comparison. BD-quality is the average metric difference, test minus anchor, at the same "
             "rate (PCHIP), in the metric's own units (for the log-mel distance, lower is better).", ""]
    if not rows:
        return "\n".join([*lines, "No comparisons could be made (no pairs of codecs with common files).", ""])
    metrics = list(dict.fromkeys(r["metric"] for r in rows))
    for metric in metrics:
        mrows = [r for r in rows if r["metric"] == metric]
        lines += [f"### {mrows[0]['metric_label']}", "",
                  "| test | anchor | BD-rate (PCHIP) | BD-rate (cubic) | BD-quality | files | note |",
                  "|---|---|---:|---:|---:|---:|---|"]
        for r in mrows:
            lines.append(f"| {r['test']} | {r['anchor']} | {_pct(r['bd_rate_pchip_pct'])} | "
                         f"{_pct(r['bd_rate_cubic_pct'])} | {_num(r['bd_metric_pchip'])} | {r['n_files']} | "
                         f"{r['note']} |")
        lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# plot


def plot_rd(path: Path, modality: str, summary: Sequence[dict[str, Any]],
            published: dict[str, dict[str, list[float]]] | None) -> None:
    """Rate-quality curves averaged over files, one per codec; published curves dashed."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    metrics = BD_METRICS[modality][:2] if modality != "audio" else [BD_METRICS["audio"][0], BD_METRICS["audio"][2]]
    fig, axes = plt.subplots(1, len(metrics), figsize=(6.2 * len(metrics), 4.6), squeeze=False)
    codecs = list(dict.fromkeys(r["codec"] for r in summary))
    for ax, (metric, _, label) in zip(axes[0], metrics, strict=True):
        for codec in codecs:
            rows = sorted((r for r in summary if r["codec"] == codec), key=lambda r: r["rate"])
            xs = [r["rate"] for r in rows if is_finite_number(r.get(metric)) and is_finite_number(r["rate"])]
            ys = [r[metric] for r in rows if is_finite_number(r.get(metric)) and is_finite_number(r["rate"])]
            if xs:
                style = "o-" if codec.startswith("ncodec:") else ".-"
                ax.plot(xs, ys, style, label=codec, linewidth=2.0 if codec.startswith("ncodec:") else 1.2)
        if published and metric == "psnr_rgb":
            for name, curve in published.items():
                ax.plot(curve["bpp"], curve["psnr"], "--", label=f"{name} (published)", linewidth=1.0)
        ax.set_xlabel(RATE_LABELS[modality])
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        if modality == "audio":
            ax.set_xscale("log")
    axes[0][0].legend(fontsize=7, loc="best")
    n_files = max((r["n_files"] for r in summary), default=0)
    fig.suptitle(f"ncodec eval, {modality}: mean over {n_files} file(s)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def format_report(report: EvalReport) -> str:
    """A short human summary of a run (printed by ``ncodec eval``)."""
    lines = [f"{report.modality}: {len(report.points)} points ({report.new_points} new) in {report.out_dir}"]
    if report.models_unavailable:
        lines.append(f"  models without installed weights (left out): {', '.join(report.models_unavailable)}")
    for s in report.skipped:
        lines.append(f"  skipped {s['file']}: {s['reason']}")
    for f in report.failures:
        lines.append(f"  failed {f['file']} {f['codec']} {f['setting']}: {f['reason']}")
    primary = BD_METRICS[report.modality][0][0]
    for r in report.bdrate:
        if r["metric"] == primary:
            lines.append(f"  BD-rate {r['test']} vs {r['anchor']} ({r['metric']}): {_pct(r['bd_rate_pchip_pct'])}")
    return "\n".join(lines)


__all__ = [
    "BD_METRICS",
    "EXTENSIONS",
    "MODALITIES",
    "EvalReport",
    "bd_table",
    "bdrate_markdown",
    "default_reference",
    "format_report",
    "from_json_safe",
    "list_files",
    "load_results",
    "plot_rd",
    "run_eval",
    "summarize",
    "to_json_safe",
]
