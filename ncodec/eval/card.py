"""Copy evaluation results into a model card, so the card states what the shipped weights measure.

``python -m ncodec.eval.card CARD.json NAME=EVAL_DIR [NAME=EVAL_DIR ...]`` reads the ``summary.csv``
and ``bdrate.csv`` that ``ncodec eval`` wrote in each folder and stores, per set, the model's mean
rate and quality at every setting and its BD-rates (PSNR, PCHIP) against every anchor.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _float(v: str | None) -> float | None:
    try:
        return round(float(v), 4) if v not in (None, "") else None
    except ValueError:
        return None


def evaluation_of(eval_dir: Path, codec: str) -> dict[str, Any]:
    """Per-setting means and BD-rates of ``codec`` (e.g. 'ncodec:image-hyperprior') in one eval folder."""
    per_setting = []
    with open(eval_dir / "summary.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["codec"] == codec:
                per_setting.append({"setting": row["setting"], "files": int(row.get("n_files") or 0),
                                    "bpp": _float(row.get("rate")), "psnr_rgb": _float(row.get("psnr_rgb")),
                                    "ms_ssim_db": _float(row.get("ms_ssim_db")),
                                    "estimate_gap_pct": _float(row.get("estimate_gap_pct"))})
    bd: dict[str, Any] = {}
    with open(eval_dir / "bdrate.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["test"] == codec and row["metric"] == "psnr_rgb":
                bd[row["anchor"]] = {"bd_rate_pct": _float(row["bd_rate_pchip_pct"]),
                                     "bd_psnr_db": _float(row["bd_metric_pchip"]), "note": row.get("note") or None}
    return {"per_quality": per_setting, "bd_rate_psnr_vs": bd}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    card_path = Path(args[0])
    card = json.loads(card_path.read_text())
    codec = f"ncodec:{card['name']}"
    evaluation = card.setdefault("evaluation", {})
    for spec in args[1:]:
        name, _, folder = spec.partition("=")
        evaluation[name] = evaluation_of(Path(folder), codec)
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
