"""``python -m ncodec.fuzz``: fuzz the reader and decoder of every registered model.

    python -m ncodec.fuzz --runs 100000 --engine atheris --out runs/fuzz     # the documented run
    python -m ncodec.fuzz --runs 2000 --engine random --models image-hyperprior

Seeds are the golden files (``tests/golden/models``) of each registered model, or freshly made
ones for a model that has none there. Prints one line per model and writes ``summary.json``;
exits 1 when any input crashed, hung or blew the memory bound.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from .runner import fuzz_atheris, fuzz_random
from .seeds import MANIFEST, make_seeds

DEFAULT_SEEDS = Path(__file__).resolve().parents[2] / "tests" / "golden" / "models"


def seeds_by_model(models: Sequence[str], folder: Path) -> dict[str, list[bytes]]:
    """Seed files per model: from ``folder``'s manifest, made on the spot where it has none."""
    out: dict[str, list[bytes]] = {m: [] for m in models}
    manifest = folder / MANIFEST
    if manifest.is_file():
        for name, entry in json.loads(manifest.read_text())["files"].items():
            if entry["model"] in out and (folder / name).is_file():
                out[entry["model"]].append((folder / name).read_bytes())
    missing = [m for m, s in out.items() if not s]
    for seed in make_seeds(missing) if missing else []:
        out[seed.model].append(seed.data)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    from ncodec.registry import list_models

    parser = argparse.ArgumentParser(prog="python -m ncodec.fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", help="default: every registered model with installed weights")
    parser.add_argument("--runs", type=int, default=10_000, help="inputs per model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--engine", choices=("random", "atheris"), default="random")
    parser.add_argument("--seeds", type=Path, default=DEFAULT_SEEDS, help="folder of seed files and manifest.json")
    parser.add_argument("--out", type=Path, default=Path("runs/fuzz"))
    parser.add_argument("--time-bound", type=float, default=10.0, help="seconds one input may take")
    parser.add_argument("--memory-mb", type=float, default=1024.0,
                        help="how far one input may raise the peak memory above the first input's")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)  # one model under libFuzzer
    args = parser.parse_args(argv)

    models = args.models or [m.name for m in list_models(include_test=True) if m.is_available()]
    args.out.mkdir(parents=True, exist_ok=True)
    reports: list[dict[str, object]] = []
    if args.engine == "atheris" and len(models) == 1 and args.child:
        seeds = seeds_by_model(models, args.seeds)[models[0]]
        fuzz_atheris(models[0], seeds, args.runs, args.seed, args.time_bound, args.memory_mb, args.out)
        return 0
    for model in models:
        if args.engine == "atheris":
            # libFuzzer ends its process when the runs are done: one child process per model.
            cmd = [sys.executable, "-m", "ncodec.fuzz", "--engine", "atheris", "--models", model, "--runs",
                   str(args.runs), "--seed", str(args.seed), "--seeds", str(args.seeds), "--out", str(args.out),
                   "--time-bound", str(args.time_bound), "--memory-mb", str(args.memory_mb), "--child"]
            subprocess.run(cmd, check=False)
            result_path = args.out / f"{model}.json"
            report = json.loads(result_path.read_text()) if result_path.is_file() else \
                {"model": model, "engine": "atheris", "findings": [{"kind": "crash", "detail": "no report"}]}
        else:
            seeds = seeds_by_model([model], args.seeds)[model]
            result = fuzz_random(model, seeds, args.runs, args.seed, args.time_bound, args.memory_mb,
                                 args.out / "findings")
            report = result.to_dict()
            (args.out / f"{model}.json").write_text(json.dumps(report, indent=1) + "\n")
        reports.append(report)
        print(_line(report), flush=True)
    (args.out / "summary.json").write_text(json.dumps(reports, indent=1) + "\n")
    return 0 if all(not r.get("findings") for r in reports) else 1


def _line(report: dict[str, object]) -> str:
    outcomes = report.get("outcomes") or {}
    assert isinstance(outcomes, dict)
    findings = report.get("findings") or []
    assert isinstance(findings, list)
    return (f"{report['model']:20s} {report.get('inputs', 0):>8} inputs  decoded {outcomes.get('decoded', 0):>7}  "
            f"refused {outcomes.get('refused', 0):>7}  crashes {outcomes.get('crash', 0)}  hangs "
            f"{outcomes.get('hang', 0)}  findings {len(findings)}  {report.get('inputs_per_s')} inputs/s  "
            f"peak {report.get('peak_rss_mb', 0):.0f} MB")


if __name__ == "__main__":
    sys.exit(main())
