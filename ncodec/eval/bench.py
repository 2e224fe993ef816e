"""``ncodec bench``: speed and memory of every installed model, against a classical codec measured in the same run.

What is measured, and how:

* **Time**: one warm-up round trip (it loads the weights and fills caches), then ``repeats``
  timed encodes and decodes with :func:`time.perf_counter`; the median is reported, with every
  sample kept in the JSON. Encode is media -> ``.nc`` bytes and decode is bytes -> media, through
  :mod:`ncodec.api`, so container writing and parsing are included. Timings depend on the machine
  and on what else runs on it: the JSON records the core count and torch's thread count, and the
  **ratios** against a classical codec measured in the same run (AVIF for images, Opus for audio,
  x264 for video; ncodec time / classical time) are the numbers that carry over between machines.
* **Peak memory**: each measurement runs in a fresh Python subprocess. Two numbers come back:
  ``peak_rss_mb``, the process's high-water mark (``VmHWM``) after one cold call (what a one-shot
  ``ncodec encode`` process needs: interpreter, torch, weights and working memory), and
  ``op_peak_mb``, the working memory of the operation itself: after a warm-up call, the high-water
  mark is reset (``/proc/self/clear_refs``), the operation runs again and the peak above the RSS
  before it is reported. tracemalloc would miss torch's allocations and ``ru_maxrss`` cannot be
  reset, so it would include the imports. Where ``clear_refs`` is unavailable (not Linux) only
  ``peak_rss_mb`` (from ``ru_maxrss``) is reported.
* **Entropy coder**: :func:`ncodec.entropy.bench.run_entropy_bench` (symbols per second and
  coded-size overhead against the ideal information content).
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from ncodec.eval.baselines import Baseline, Encoded
from ncodec.eval.points import ApiBackend, ModelSpec, NcodecBackend

SAMPLE_PATTERNS: dict[str, tuple[str, ...]] = {
    "image": ("rocket.jpg", "*.png", "*.jpg"),
    "audio": ("arctic_a0007.wav", "*.flac", "*.wav"),
    "video": ("*.mkv", "*.mp4", "*.y4m"),
}

#: The classical codec (baseline name, setting) each modality's ncodec models are timed against.
CLASSICAL: dict[str, tuple[str, int]] = {"image": ("avif", 50), "audio": ("opus", 12), "video": ("x264", 27)}

TIMING_METHOD = "median of N timed calls after one warm-up call, time.perf_counter, in-process"
MEMORY_METHOD = ("fresh subprocess per measurement: peak_rss_mb = VmHWM after one cold call; op_peak_mb = "
                 "VmHWM above the pre-call RSS for a warm call, after resetting VmHWM via /proc/self/clear_refs")


def _assets_folders() -> list[Path]:
    """Where shipped sample media can be: the installed ``ncodec.assets`` package, or the
    repository's ``assets/`` folder beside the package (an editable install maps no such package)."""
    folders = []
    try:
        folders.append(Path(str(resources.files("ncodec.assets"))))
    except (ModuleNotFoundError, TypeError):
        pass
    import ncodec

    package = Path(ncodec.__file__).resolve().parent
    folders += [package / "assets", package.parent / "assets"]
    return [f for f in folders if f.is_dir()]


def default_samples() -> dict[str, Path]:
    """Sample media shipped with ncodec, one per modality where one exists."""
    found: dict[str, Path] = {}
    for root in _assets_folders():
        for modality, patterns in SAMPLE_PATTERNS.items():
            for pattern in patterns:
                matches = sorted(root.glob(pattern))
                if modality not in found and matches:
                    found[modality] = matches[0]
    return found


def _median(values: list[float]) -> float:
    return float(statistics.median(values))


def _timed(fn: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    samples = []
    result = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - t0)
    return samples, result


def _describe(modality: str, media: Any) -> str:
    if modality == "image":
        h, w, c = media.pixels.shape
        return f"{w}x{h}x{c}"
    if modality == "audio":
        return f"{media.samples.shape[1] / media.sample_rate:.2f} s, {media.sample_rate} Hz, {media.samples.shape[0]} ch"
    t, h, w, _ = media.frames.shape
    return f"{t} frames {w}x{h} @ {media.fps}"


def run_bench(
    samples: Mapping[str, str | os.PathLike[str]] | None = None,
    repeats: int = 3,
    *,
    backend: NcodecBackend | None = None,
    memory: bool = True,
    entropy: bool = True,
    classical: bool = True,
    progress: bool = False,
) -> dict[str, Any]:
    """Benchmark every installed ncodec model on the sample media; returns a JSON-serialisable dict.

    ``samples`` maps modality -> file and overrides the shipped samples per modality.
    ``backend`` replaces the real API (memory is then not measured: the subprocess can only run
    the real one).
    """
    from ncodec.eval.baselines import BASELINES
    from ncodec.eval.points import media_units, rate_of
    from ncodec.eval.runner import _baseline_input, environment, read_media

    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    paths = {k: Path(v) for k, v in default_samples().items()}
    paths.update({k: Path(v) for k, v in (samples or {}).items()})
    real_api = backend is None
    api: NcodecBackend = backend if backend is not None else ApiBackend()

    def say(msg: str) -> None:
        if progress:
            print(f"bench: {msg}", file=sys.stderr, flush=True)

    result: dict[str, Any] = {
        "environment": environment(), "repeats": repeats, "timing_method": TIMING_METHOD,
        "memory_method": MEMORY_METHOD if memory and real_api else None,
        "samples": {}, "models": [], "classical": [], "ratios": [], "skipped": [],
    }
    for modality in ("image", "audio", "video"):
        registered = api.models(modality)
        specs = [m for m in registered if m.available]
        for m in registered:
            if not m.available:
                result["skipped"].append({"modality": modality, "reason": f"model {m.name} has no installed weights"})
        path = paths.get(modality)
        if modality == "video" and specs and (path is None or not path.is_file()):
            path = _generated_sample_clip()
        if path is None or not path.is_file():
            if specs:
                result["skipped"].append({"modality": modality, "reason": "no sample file"})
            continue
        try:
            media = read_media(modality, path)
        except Exception as exc:  # an unreadable sample is reported, not fatal
            result["skipped"].append({"modality": modality, "reason": f"sample unreadable: {exc}"})
            continue
        units = media_units(modality, media)
        result["samples"][modality] = {"file": path.name, "media": _describe(modality, media)}

        classic_row: dict[str, Any] | None = None
        if classical and specs:
            name, setting = CLASSICAL[modality]
            baseline = BASELINES[name]
            base_media = _baseline_input(modality, media)
            say(f"{modality}: {name} {baseline.label(setting)}")
            encoded = baseline.encode(base_media, setting)
            baseline.decode(encoded, base_media)
            enc_t, dec_t, encoded = _time_baseline(baseline, base_media, setting, repeats)
            classic_row = {"modality": modality, "codec": name, "setting": baseline.label(setting),
                           "bytes": len(encoded.data), "rate": rate_of(modality, 8 * len(encoded.data), units),
                           "encode_s": _median(enc_t), "decode_s": _median(dec_t),
                           "encode_s_all": enc_t, "decode_s_all": dec_t}
            result["classical"].append(classic_row)

        for spec in specs:
            quality = spec.qualities[len(spec.qualities) // 2] if spec.qualities else 1
            say(f"{modality}: {spec.name} q{quality}")
            row = _bench_model(api, modality, media, units, spec, quality, repeats)
            if memory and real_api:
                say(f"{modality}: {spec.name} memory")
                row.update(_memory(modality, path, spec.name, quality))
            result["models"].append(row)
            if classic_row is not None:
                result["ratios"].append({
                    "model": spec.name, "modality": modality,
                    "versus": f"{classic_row['codec']} {classic_row['setting']}",
                    "encode_ratio": row["encode_s"] / classic_row["encode_s"],
                    "decode_ratio": row["decode_s"] / classic_row["decode_s"],
                })
    if entropy:
        say("entropy coder")
        try:
            from ncodec.entropy.bench import run_entropy_bench

            result["entropy"] = run_entropy_bench(repeats=repeats)
        except Exception as exc:  # the coder's own bench failing must not hide the rest
            result["entropy"] = {"error": f"{exc.__class__.__name__}: {exc}"}
    return result


def _time_baseline(baseline: Baseline, media: Any, setting: int, repeats: int
                   ) -> tuple[list[float], list[float], Encoded]:
    enc_t, encoded = _timed(lambda: baseline.encode(media, setting), repeats)
    dec_t, _ = _timed(lambda: baseline.decode(encoded, media), repeats)
    return enc_t, dec_t, encoded


def _bench_model(api: NcodecBackend, modality: str, media: Any, units: dict[str, Any], spec: ModelSpec,
                 quality: int, repeats: int) -> dict[str, Any]:
    from ncodec.eval.points import rate_of

    t0 = time.perf_counter()
    data, estimated = api.encode(media, spec.name, quality)
    cold_encode = time.perf_counter() - t0
    t0 = time.perf_counter()
    api.decode(data)
    cold_decode = time.perf_counter() - t0
    # Video encoding is fitting, minutes per clip and the same work every time: time it once.
    enc_t = [cold_encode] if modality == "video" else _timed(lambda: api.encode(media, spec.name, quality), repeats)[0]
    dec_t, _ = _timed(lambda: api.decode(data), repeats)
    bits = 8 * len(data)
    row: dict[str, Any] = {
        "model": spec.name, "modality": modality, "quality": quality, "bytes": len(data),
        "rate": rate_of(modality, bits, units), "estimated_bits": estimated,
        "encode_s": _median(enc_t), "decode_s": _median(dec_t), "encode_s_all": enc_t,
        "decode_s_all": dec_t, "cold_encode_s": cold_encode, "cold_decode_s": cold_decode,
        "torch_threads": _torch_threads()}
    if modality == "audio" and units.get("seconds"):
        # how many seconds of audio one second of encode + decode handles (median times)
        row["realtime_factor"] = float(units["seconds"]) / max(_median(enc_t) + _median(dec_t), 1e-9)
    if modality == "video":
        row["decode_fps"] = float(units["frames"]) / max(_median(dec_t), 1e-9)
    return row


def _generated_sample_clip() -> Path:
    """The project's sample clip (a pan across the sample photo, 24 frames of 176x144) as a
    lossless file in the temporary folder: ncodec ships no video file."""
    import tempfile

    from ncodec.media.samples import sample_clip
    from ncodec.media.video import VideoData, write_video

    path = Path(tempfile.gettempdir()) / "ncodec-bench-sample-clip.mkv"
    if not path.is_file():
        frames, fps = sample_clip(frames=24, size=(176, 144))
        write_video(path, VideoData(frames, fps))
    return path


def _torch_threads() -> int | None:
    try:
        import torch

        return int(torch.get_num_threads())
    except ImportError:
        return None


# --------------------------------------------------------------------------------------------------
# memory, in a subprocess


def _memory(modality: str, path: Path, model: str, quality: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for op in ("encode", "decode"):
        job = json.dumps({"modality": modality, "path": str(path), "model": model, "quality": quality, "op": op})
        try:
            proc = subprocess.run([sys.executable, "-m", "ncodec.eval.bench", "--worker", job],
                                  capture_output=True, text=True, timeout=1800, check=False)
        except subprocess.TimeoutExpired:
            out[f"{op}_memory_error"] = "timed out"
            continue
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            out[f"{op}_memory_error"] = f"worker failed: {tail}"
            continue
        report = json.loads(lines[-1])
        out[f"{op}_peak_rss_mb"] = report["peak_rss_mb"]
        out[f"{op}_op_peak_mb"] = report["op_peak_mb"]
    return out


def _status_kb(field: str) -> int | None:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    match = re.search(rf"^{field}:\s+(\d+)\s+kB", text, re.MULTILINE)
    return int(match.group(1)) if match else None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _worker(job: dict[str, Any]) -> dict[str, Any]:
    """Runs in the subprocess: one cold call, then one warm call with the high-water mark reset."""
    import resource

    from ncodec.eval.runner import read_media

    api = ApiBackend()
    media = read_media(job["modality"], Path(job["path"]))
    data = api.encode(media, job["model"], int(job["quality"]))[0] if job["op"] == "decode" else b""

    def op() -> None:
        if job["op"] == "encode":
            api.encode(media, job["model"], int(job["quality"]))
        else:
            api.decode(data)

    op()
    hwm = _status_kb("VmHWM")
    peak_rss = hwm / 1024 if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    op_peak = None
    before = _status_kb("VmRSS")
    if before is not None and _reset_peak():
        op()
        after = _status_kb("VmHWM")
        if after is not None:
            op_peak = max(0, after - before) / 1024
    return {"peak_rss_mb": peak_rss, "op_peak_mb": op_peak}


# --------------------------------------------------------------------------------------------------
# output


def write_bench(path: str | os.PathLike[str], result: dict[str, Any]) -> None:
    from ncodec.eval.runner import to_json_safe

    Path(path).write_text(json.dumps(to_json_safe(result), indent=1), encoding="utf-8")


def _ms(v: Any) -> str:
    return "-" if not isinstance(v, int | float) else f"{1000 * v:9.1f}"


def _mb(v: Any) -> str:
    return "-" if not isinstance(v, int | float) else f"{v:8.0f}"


def _rate(row: dict[str, Any]) -> str:
    from ncodec.eval.points import RATE_UNITS

    return f"{row['rate']:.4g} {RATE_UNITS.get(row['modality'], '')}"


def format_bench(result: dict[str, Any]) -> str:
    """The bench as a plain-text table."""
    env = result.get("environment", {})
    lines = [f"ncodec bench: {env.get('cpu_count')} cores, torch threads {env.get('torch_threads')}, "
             f"median of {result.get('repeats')} runs"]
    for modality, s in result.get("samples", {}).items():
        lines.append(f"  {modality} sample: {s['file']} ({s['media']})")
    lines.append("")
    lines.append("peak MB: the whole process after one call; op MB: the call's own working memory")
    lines.append(f"{'codec':24s} {'rate':>10s} {'enc ms':>9s} {'dec ms':>9s} {'enc peak':>8s} {'dec peak':>8s} "
                 f"{'enc op MB':>9s} {'dec op MB':>9s}")
    for r in result.get("classical", []):
        lines.append(f"{r['codec'] + ' ' + r['setting']:24s} {_rate(r):>10s} {_ms(r['encode_s'])} "
                     f"{_ms(r['decode_s'])} {'-':>8s} {'-':>8s} {'-':>9s} {'-':>9s}")
    for r in result.get("models", []):
        lines.append(f"{r['model'] + ' q' + str(r['quality']):24s} {_rate(r):>10s} {_ms(r['encode_s'])} "
                     f"{_ms(r['decode_s'])} {_mb(r.get('encode_peak_rss_mb'))} {_mb(r.get('decode_peak_rss_mb'))} "
                     f"{_mb(r.get('encode_op_peak_mb')):>9s} {_mb(r.get('decode_op_peak_mb')):>9s}")
    for r in result.get("models", []):
        if r.get("realtime_factor"):
            lines.append(f"  {r['model']} q{r['quality']}: encode + decode {r['realtime_factor']:.1f}x faster "
                         "than real time")
        if r.get("decode_fps"):
            lines.append(f"  {r['model']} q{r['quality']}: decodes {r['decode_fps']:.1f} frames/s "
                         f"({result.get('samples', {}).get('video', {}).get('media', '')}); encoding fits once")
    for r in result.get("ratios", []):
        lines.append(f"  {r['model']} / {r['versus']}: encode x{r['encode_ratio']:.1f}, decode x{r['decode_ratio']:.1f}")
    for s in result.get("skipped", []):
        lines.append(f"  skipped {s['modality']}: {s['reason']}")
    ent = result.get("entropy")
    if isinstance(ent, dict):
        if "error" in ent:
            lines.append(f"entropy coder: {ent['error']}")
        else:
            for mode, m in ent.get("modes", {}).items():
                parts = [f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in m.items()
                         if isinstance(v, int | float)]
                lines.append(f"entropy {mode}: {', '.join(parts)}")
    return "\n".join(lines)


def _main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--worker":
        print(json.dumps(_worker(json.loads(argv[1]))), flush=True)
        return 0
    print("usage: python -m ncodec.eval.bench --worker JSON (internal); use `ncodec bench`", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))


__all__ = ["CLASSICAL", "default_samples", "format_bench", "run_bench", "write_bench"]
