"""Seed files: one small real ``.nc`` file per registered model and quality, made from the sample media.

The same files are the golden files (``tests/golden/models/``): committed once, with the SHA-256
of what they decode to, so a change that alters the decoded output of an existing file fails a
test. The media come from the project's own samples (``assets/``), cut small so that a fuzz run
decodes thousands of mutants per second where the codec allows it.

    python -m ncodec.fuzz.seeds --write tests/golden/models     # (re)make the golden set
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Seed:
    """A real file: which model and quality made it, from which variant of the sample media."""

    model: str
    quality: int
    variant: str
    data: bytes

    @property
    def file_name(self) -> str:
        return f"{self.model}__q{self.quality}{'__' + self.variant if self.variant else ''}.nc"


def _photo(height: int = 40, width: int = 48) -> np.ndarray:
    from ncodec.media.image import read_image
    from ncodec.media.samples import sample_photo_path

    pixels = read_image(sample_photo_path()).pixels
    return np.ascontiguousarray(pixels[180:180 + height, 300:300 + width])


def _speech(seconds: float = 1.0) -> Any:
    from ncodec.media.audio import AudioData, read_audio
    from ncodec.media.samples import sample_speech_path

    audio = read_audio(sample_speech_path())
    n = int(audio.sample_rate * seconds)
    start = audio.samples.shape[1] // 3
    return AudioData(np.ascontiguousarray(audio.samples[:, start:start + n]), audio.sample_rate)


def _media_for(modality: str) -> Iterator[tuple[str, Any]]:
    """(variant name, media) for a modality; the unnamed variant is coded at every quality."""
    if modality == "test":
        yield "", b"ncodec seed " * 8
    elif modality == "image":
        from ncodec.media.image import ImageData

        rgb = _photo()
        yield "", ImageData(rgb, 8, None)
        yield "grey", ImageData(np.ascontiguousarray(rgb[:, :, :1]), 8, None)
        alpha = np.linspace(0, 255, rgb.shape[0] * rgb.shape[1]).reshape((*rgb.shape[:2], 1)).astype(np.uint8)
        yield "rgba", ImageData(np.concatenate([rgb, alpha], axis=2), 8, None)
        yield "16bit", ImageData(rgb.astype(np.uint16) * 257, 16, None)
    elif modality == "audio":
        from ncodec.media.audio import AudioData

        mono = _speech()
        yield "", mono
        half = mono.samples[:, : mono.sample_rate // 2]
        yield "stereo", AudioData(np.concatenate([half, half[:, ::-1] * 0.5]), mono.sample_rate)
    elif modality == "video":
        from ncodec.media.samples import sample_clip
        from ncodec.media.video import VideoData

        frames, fps = sample_clip(frames=2, size=(24, 16))
        yield "", VideoData(frames, fps)


def make_seeds(models: Sequence[str] | None = None) -> list[Seed]:
    """Seed files of every registered model with installed weights (or of ``models``)."""
    from ncodec import api
    from ncodec.registry import by_name, list_models

    infos = [by_name(m) for m in models] if models else [m for m in list_models(include_test=True)]
    seeds: list[Seed] = []
    for info in infos:
        if not info.is_available():
            continue
        for variant, media in _media_for(info.modality):
            qualities = info.qualities if not variant else [info.default_quality]
            for q in qualities:
                data = api.encode(media, model=info.name, quality=q)
                seeds.append(Seed(info.name, q, variant, data))
    return seeds


def decoded_digest(media: Any) -> str:
    """SHA-256 of decoded media in a canonical byte form (shape, rate and dtype included)."""
    from ncodec.media.audio import AudioData
    from ncodec.media.image import ImageData
    from ncodec.media.video import VideoData

    h = hashlib.sha256()
    if isinstance(media, bytes | bytearray | np.ndarray):
        array = np.asarray(memoryview(media) if isinstance(media, bytes | bytearray) else media)
        h.update(f"array {array.shape} {array.dtype}".encode())
        h.update(np.ascontiguousarray(array).tobytes())
    elif isinstance(media, ImageData):
        h.update(f"image {media.pixels.shape} {media.pixels.dtype} {media.bit_depth}".encode())
        h.update(np.ascontiguousarray(media.pixels).tobytes())
    elif isinstance(media, AudioData):
        h.update(f"audio {media.samples.shape} {media.sample_rate}".encode())
        h.update(np.ascontiguousarray(media.samples, dtype="<f4").tobytes())
    elif isinstance(media, VideoData):
        h.update(f"video {media.frames.shape} {media.fps}".encode())
        h.update(np.ascontiguousarray(media.frames).tobytes())
    else:
        raise TypeError(f"no digest for {type(media).__name__}")
    return h.hexdigest()


def float_kernel_canary() -> str:
    """SHA-256 of a fixed float32 computation through the kinds of kernels the decoders use.

    The networks run in float32, and a CPU with other vector kernels may round their last bits
    differently. Golden files record this canary from the machine that made them: where it
    matches, the machine rounds as that one did and decoded outputs must match bit for bit.
    """
    import torch
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(1234)
    x = torch.randn(1, 24, 20, 20, generator=g).contiguous(memory_format=torch.channels_last)
    w = torch.randn(32, 24, 5, 5, generator=g) * 0.1
    wt = torch.randn(32, 16, 5, 5, generator=g) * 0.1
    y = F.conv2d(x, w, stride=2, padding=2)
    y = F.conv_transpose2d(y, wt, stride=2, padding=2, output_padding=1)
    y = y * torch.rsqrt(1.0 + F.conv2d(y * y, torch.rand(16, 16, 1, 1, generator=g) * 0.1))
    s = torch.randn(1, 64, 50, generator=g)
    s = F.conv1d(s, torch.randn(64, 1, 7, generator=g) * 0.2, padding=3, groups=64).transpose(1, 2)
    s = F.gelu(F.layer_norm(s, (64,)) @ (torch.randn(64, 96, generator=g) * 0.1))
    h = hashlib.sha256()
    with torch.inference_mode():
        h.update(y.contiguous().numpy().tobytes())
        h.update(s.contiguous().numpy().tobytes())
    return h.hexdigest()


def write_golden(folder: Path, seeds: Sequence[Seed]) -> dict[str, Any]:
    """Write the seed files and ``manifest.json`` (file and decoded-output digests) into ``folder``."""
    from ncodec import api
    from ncodec.registry import by_name

    folder.mkdir(parents=True, exist_ok=True)
    entries = {}
    for seed in seeds:
        (folder / seed.file_name).write_bytes(seed.data)
        entries[seed.file_name] = {
            "model": seed.model, "model_id": by_name(seed.model).model_id, "quality": seed.quality,
            "variant": seed.variant, "file_sha256": hashlib.sha256(seed.data).hexdigest(),
            "weights_sha256": api.info(seed.data)["weights_sha256"],
            "decoded_sha256": decoded_digest(api.decode(seed.data)),
        }
    manifest = {"float_kernel_canary": float_kernel_canary(), "files": entries}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Make the seed / golden files of every registered model.")
    parser.add_argument("--write", required=True, metavar="DIR", help="folder for the files and manifest.json")
    parser.add_argument("--models", nargs="*", help="only these models (default: every registered one)")
    args = parser.parse_args(argv)
    seeds = make_seeds(args.models)
    folder = Path(args.write)
    if args.models and (folder / MANIFEST).is_file():
        # Replace only the named models' entries, keeping the others' files and digests.
        old = json.loads((folder / MANIFEST).read_text())
        keep = [Seed(e["model"], e["quality"], e["variant"], (folder / name).read_bytes())
                for name, e in old["files"].items() if e["model"] not in args.models]
        seeds = keep + seeds
    manifest = write_golden(folder, seeds)
    print(f"wrote {len(manifest['files'])} files and {MANIFEST} in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
