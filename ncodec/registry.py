"""Model ids and where each model's code and weights live: append-only.

A model id is written into every ``.nc`` file, so an id never changes meaning and is never reused:
new models and retrained weights get new entries (retrained weights of the same architecture may
keep the id, since the file also records the weights' hash and decoding refuses a mismatch).
Nothing here imports torch: ``ncodec models`` and ``ncodec info`` stay fast.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ncodec.errors import ModelMismatchError, UsageError

ASSETS_ENV = "NCODEC_ASSETS"  # a folder whose weights replace the shipped ones (e.g. to evaluate a candidate)


@dataclass(frozen=True)
class ModelInfo:
    """One registered model: what it codes, its weights file and the class that runs it."""

    model_id: int
    name: str
    modality: str
    description: str
    factory: str  # "module:Class" with a classmethod from_file(path) (or a no-argument constructor)
    weights: str | None = None  # file name in the assets folder
    card: str | None = None  # model card JSON beside the weights
    default_quality: int = 1
    test_only: bool = False
    fractional_quality: bool = False  # takes qualities between its levels (and size/PSNR targets)
    # Decoded output identical on every CPU by construction (integer or provably exact float64
    # arithmetic, IEEE-exact elementwise operations). Every model's entropy stream decodes exactly
    # everywhere; the others reconstruct with float32 kernels, whose last-bit rounding can differ on
    # another CPU family.
    exact_decoding: bool = False
    _fixed_qualities: tuple[int, ...] = field(default=())

    @property
    def qualities(self) -> list[int]:
        """Qualities offered, read from the model card (no torch needed)."""
        if self._fixed_qualities:
            return list(self._fixed_qualities)
        card = self.read_card()
        return [int(q) for q in card.get("qualities", [])] if card else []

    @property
    def bitrates(self) -> list[float]:
        """Nominal bitrates in kbps offered by a rate-driven (audio) model, from its card."""
        card = self.read_card()
        return [float(b) for b in card.get("bitrates", [])] if card else []

    def read_card(self) -> dict[str, Any] | None:
        if self.card is None:
            return None
        path = assets_dir() / self.card
        if not path.is_file():
            return None
        data: dict[str, Any] = json.loads(path.read_text())
        return data

    def weights_path(self) -> Path | None:
        return assets_dir() / self.weights if self.weights else None

    def is_available(self) -> bool:
        path = self.weights_path()
        return path is None or path.is_file()


MODELS: tuple[ModelInfo, ...] = (
    ModelInfo(
        model_id=1, name="test-raw", modality="test",
        description="lossless bytes through the table coder; proves the container path in tests, not a media codec",
        factory="ncodec.codecs.testraw:RawBytesCodec", test_only=True, _fixed_qualities=(1,), exact_decoding=True,
    ),
    ModelInfo(
        model_id=2, name="image-hyperprior", modality="image",
        description="mean-scale hyperprior with per-quality gain vectors, trained by this project",
        factory="ncodec.codecs.image.codec:ImageCodec", weights="image_hyperprior.safetensors",
        card="image_hyperprior.json", default_quality=4, fractional_quality=True, exact_decoding=True,
    ),
    ModelInfo(
        model_id=3, name="audio-rvq", modality="audio",
        description="16 kHz residual-VQ codec (STFT front end, iSTFT head), 1.5-12 kbps, trained by this project",
        factory="ncodec.codecs.audio.codec:AudioCodec", weights="audio_rvq.safetensors",
        card="audio_rvq.json", default_quality=3, exact_decoding=True,
    ),
    ModelInfo(
        model_id=4, name="video-latent-grid", modality="video",
        description="latent grids and a synthesis MLP of a few hundred parameters fitted to each group of frames "
                    "(C3 / Cool-chic family); no shipped weights",
        factory="ncodec.codecs.video.codec:VideoCodec", default_quality=3,
        _fixed_qualities=(1, 2, 3, 4, 5, 6), exact_decoding=True,
    ),
)


def assets_dir() -> Path:
    """The folder of shipped weights, model cards and sample media.

    An installed package carries it as ``ncodec/assets`` (pyproject maps the repository's top-level
    ``assets/`` there); a source checkout or editable install reads ``assets/`` beside the package.
    """
    override = os.environ.get(ASSETS_ENV)
    if override:
        return Path(override)
    package = Path(__file__).resolve().parent
    installed = package / "assets"
    return installed if installed.is_dir() else package.parent / "assets"


def shipped_asset(name: str) -> Path:
    """A shipped file (sample media) regardless of any weights override."""
    package = Path(__file__).resolve().parent
    installed = package / "assets" / name
    return installed if installed.is_file() else package.parent / "assets" / name


def list_models(modality: str | None = None, include_test: bool = False) -> list[ModelInfo]:
    return [m for m in MODELS if (modality is None or m.modality == modality) and (include_test or not m.test_only)]


def by_name(name: str) -> ModelInfo:
    for m in MODELS:
        if m.name == name:
            return m
    names = ", ".join(m.name for m in MODELS if not m.test_only)
    raise UsageError(f"unknown model '{name}' (available: {names})")


def by_id(model_id: int) -> ModelInfo:
    for m in MODELS:
        if m.model_id == model_id:
            return m
    raise ModelMismatchError(f"file uses model id {model_id}, which this version of ncodec does not know "
                             "(a newer ncodec may)")


def default_model(modality: str) -> ModelInfo:
    for m in MODELS:
        if m.modality == modality and not m.test_only:
            return m
    raise UsageError(f"no {modality} codec is available yet")


_cache: dict[tuple[str, str], tuple[Any, bytes]] = {}
_lock = threading.Lock()


def weights_sha256(info: ModelInfo) -> bytes:
    """SHA-256 of the model's weights file (32 zero bytes for a model without weights)."""
    path = info.weights_path()
    if path is None:
        return bytes(32)
    if not path.is_file():
        raise ModelMismatchError(f"weights of model '{info.name}' are not installed ({path.name} missing)")
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.digest()


def load_codec(info: ModelInfo) -> tuple[Any, bytes]:
    """(codec instance, weights hash), loaded once per process and weights folder."""
    key = (info.name, str(assets_dir()))
    with _lock:
        if key not in _cache:
            module_name, cls_name = info.factory.split(":")
            cls = getattr(importlib.import_module(module_name), cls_name)
            digest = weights_sha256(info)
            path = info.weights_path()
            codec = cls.from_file(path) if path is not None else cls()
            _cache[key] = (codec, digest)
        return _cache[key]
