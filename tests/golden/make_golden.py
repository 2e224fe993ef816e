"""Generate the version-1 golden container files in this directory.

Run once, when a format version is introduced: ``python tests/golden/make_golden.py``. The files
are committed and must never change afterwards; ``tests/test_container.py`` checks that every
release still reads them field by field and still writes them byte for byte. A format change
that breaks them needs a new major version and new golden files, never regenerated old ones.
Existing files are not overwritten unless ``--force`` is given.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path
from typing import Any

from ncodec.container import ContainerHeader, Modality, write_container

HERE = Path(__file__).resolve().parent

# Stand-in weights hash: the SHA-256 of a fixed string, so the file does not depend on any model.
WEIGHTS = hashlib.sha256(b"ncodec golden weights v1").digest()

# name -> (header, metadata, chunks); the chunk order is the file order.
CASES: dict[str, tuple[ContainerHeader, dict[str, Any], dict[str, bytes]]] = {
    "v1_minimal.nc": (
        ContainerHeader(Modality.TEST, model_id=0, weights_sha256=WEIGHTS, coder_id=0, coder_version=0),
        {},
        {"DATA": b"ncodec"},
    ),
    "v1_with_ancillary.nc": (
        ContainerHeader(Modality.IMAGE, model_id=7, weights_sha256=WEIGHTS, coder_id=1, coder_version=3),
        {
            "shape": [3, 64, 48],
            "quality": 4,
            "format": "png",
            "scale": 0.5,
            "note": "café ☕",
            "flags": {"alpha": False, "icc": None},
        },
        {
            "YLAT": bytes(range(32)),
            "ZHYP": b"\x00\xff" * 5,
            "tEXt": b"produced by the golden-file generator",
            "EMPT": b"",
        },
    ),
    "v1_audio_empty.nc": (
        ContainerHeader(
            Modality.AUDIO, model_id=65535, weights_sha256=bytes(32), coder_id=65535, coder_version=1
        ),
        {"sample_rate": 48000, "channels": 2, "frames": -1, "gain_db": -1.25e-3},
        {},
    ),
}


def build() -> dict[str, bytes]:
    """Return the bytes of every golden file, as this release writes them."""
    return {name: write_container(*case) for name, case in CASES.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description="Generate the version-1 golden container files.")
    parser.add_argument("--force", action="store_true", help="overwrite existing golden files")
    args = parser.parse_args()
    for name, data in build().items():
        path = HERE / name
        if path.exists() and not args.force:
            print(f"{name}: exists, kept")
            continue
        path.write_bytes(data)
        print(f"{name}: {len(data)} bytes written")


if __name__ == "__main__":
    main()
