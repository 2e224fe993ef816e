"""Reliability, for every registered model: golden files, exact decoding, damage and fuzzing.

Every suite here is driven by the registry and the golden manifest, so a newly registered model
is covered by running ``python -m ncodec.fuzz.seeds --write tests/golden/models --models NAME``
once, with no edit to this file (and a registered model without golden files fails here).
The long versions (100,000 fuzz inputs per model, every bit flip) run with ``make fuzz`` and
``make reliability``; docs/RELIABILITY.md has the commands and the last figures.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ncodec import api
from ncodec.errors import NcodecError
from ncodec.fuzz.runner import fuzz_random
from ncodec.fuzz.seeds import MANIFEST, decoded_digest, float_kernel_canary
from ncodec.registry import list_models

GOLDEN = Path(__file__).resolve().parent / "golden" / "models"
FULL = os.environ.get("NCODEC_RELIABILITY_FULL") == "1"  # `make reliability`: every offset and bit


def _manifest() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GOLDEN / MANIFEST).read_text())
    return data


def _available_models() -> list[Any]:
    return [m for m in list_models(include_test=True) if m.is_available()]


def _entries(model: str, variant: str | None = "") -> list[tuple[str, dict[str, Any]]]:
    return sorted((name, e) for name, e in _manifest()["files"].items()
                  if e["model"] == model and (variant is None or e["variant"] == variant))


def _same_float_kernels() -> bool:
    return bool(_manifest()["float_kernel_canary"] == float_kernel_canary())


MODELS = [m.name for m in _available_models()]


@pytest.mark.parametrize("model", MODELS)
def test_every_registered_model_and_quality_has_a_golden_file(model: str) -> None:
    from ncodec.registry import by_name

    info = by_name(model)
    qualities = {e["quality"] for _, e in _entries(model)}
    assert qualities == set(info.qualities), (
        f"golden files of '{model}' cover qualities {sorted(qualities)}, the model offers {info.qualities}: "
        f"run python -m ncodec.fuzz.seeds --write tests/golden/models --models {model}")


@pytest.mark.parametrize("model", MODELS)
def test_golden_files_decode_to_their_recorded_output(model: str) -> None:
    installed = None
    for name, entry in _entries(model, None):
        data = (GOLDEN / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["file_sha256"], f"{name} was modified"
        installed = installed or api.info(data)["weights_sha256"]
        from ncodec.registry import by_name, load_codec

        _, digest = load_codec(by_name(model))
        assert digest.hex() == entry["weights_sha256"], (
            f"'{model}' has new weights, which refuse the golden files by design: regenerate them with "
            f"python -m ncodec.fuzz.seeds --write tests/golden/models --models {model}")
        same = decoded_digest(api.decode(data)) == entry["decoded_sha256"]
        if not same and not by_name(model).exact_decoding and not _same_float_kernels():
            pytest.skip(f"'{model}' reconstructs with float32 kernels, and this CPU's round differently from "
                        "the machine that made the golden files (float kernel canary differs)")
        assert same, (
            f"{name} decodes to other output than when it was made: a change altered decoding of existing "
            f"files (bump the model id or the format version instead, see docs/FORMAT.md)")


def test_golden_files_decode_identically_in_other_processes_and_thread_counts() -> None:
    """Encoded by the generator's process, decoded here by fresh processes with 1, 2 and 4 threads.

    The outputs must equal the manifest's; on a CPU whose float kernels round differently from the
    machine that made the files, models that are not exact by construction must at least agree
    with this process's own decoding, whatever the process and thread count."""
    script = (
        "import json, sys, torch; torch.set_num_threads(int(sys.argv[2])); from pathlib import Path; "
        "from ncodec import api; from ncodec.fuzz.seeds import decoded_digest; g = Path(sys.argv[1]); "
        "m = json.loads((g / 'manifest.json').read_text())['files']; "
        "print(json.dumps({n: decoded_digest(api.decode((g / n).read_bytes())) for n in sorted(m)}))")
    from ncodec.registry import by_name

    expected = {}
    for name, entry in _manifest()["files"].items():
        exact = by_name(entry["model"]).exact_decoding or _same_float_kernels()
        expected[name] = entry["decoded_sha256"] if exact else decoded_digest(api.decode((GOLDEN / name).read_bytes()))
    for threads in (1, 2, 4):
        run = subprocess.run([sys.executable, "-c", script, str(GOLDEN), str(threads)], capture_output=True,
                             text=True, check=True)
        assert json.loads(run.stdout) == expected, f"decoding differs with {threads} thread(s)"


@pytest.mark.parametrize("capability", ["default", "avx2"])
def test_exact_models_decode_identically_with_torch_kernels_of_another_instruction_set(capability: str) -> None:
    """Another CPU family, simulated: torch's vectorised kernels forced down to scalar code or AVX2.

    ``ATEN_CPU_CAPABILITY`` makes torch dispatch its elementwise and reduction kernels as an older
    CPU would (it can only lower the level, so on an AVX2 machine the second case is the native
    one). Every model that is exact by construction must still decode its golden files to the
    recorded output. Measured: the float32 audio decoder this replaced decoded all five of its golden
    files differently with scalar kernels (and the same with AVX2).
    """
    from ncodec.registry import by_name

    exact = sorted(name for name, e in _manifest()["files"].items() if by_name(e["model"]).exact_decoding)
    script = (
        "import json, sys; from pathlib import Path; from ncodec import api; "
        "from ncodec.fuzz.seeds import decoded_digest; g = Path(sys.argv[1]); "
        "print(json.dumps({n: decoded_digest(api.decode((g / n).read_bytes())) for n in sys.argv[2:]}))")
    env = dict(os.environ, ATEN_CPU_CAPABILITY=capability)
    run = subprocess.run([sys.executable, "-c", script, str(GOLDEN), *exact], capture_output=True, text=True,
                         check=True, env=env)
    expected = {name: _manifest()["files"][name]["decoded_sha256"] for name in exact}
    assert json.loads(run.stdout) == expected, f"decoding differs with ATEN_CPU_CAPABILITY={capability}"


def _damage_cases(data: bytes, rng: random.Random) -> list[bytes]:
    """Truncations and single-bit flips: all of them under `make reliability`, a sample otherwise."""
    cuts = list(range(len(data)))
    flips = [(i, b) for i in range(len(data)) for b in range(8)]
    if not FULL:
        cuts = sorted(rng.sample(cuts, min(len(cuts), 120)))
        flips = sorted(rng.sample(flips, min(len(flips), 240)))
    out = [data[:c] for c in cuts]
    for i, b in flips:
        buf = bytearray(data)
        buf[i] ^= 1 << b
        out.append(bytes(buf))
    return out


@pytest.mark.parametrize("model", MODELS)
def test_truncation_and_bit_flips_are_refused_never_decoded_wrongly(model: str) -> None:
    name, entry = _entries(model)[-1]  # the highest quality: the largest file
    data = (GOLDEN / name).read_bytes()
    reference = entry["decoded_sha256"] if _same_float_kernels() else decoded_digest(api.decode(data))
    rng = random.Random(0)
    wrong = []
    for damaged in _damage_cases(data, rng):
        try:
            out = api.decode(damaged)
        except NcodecError:
            continue
        if decoded_digest(out) != reference:
            wrong.append(damaged)
    assert not wrong, f"{len(wrong)} damaged files of '{model}' decoded to other output without an error"


@pytest.mark.parametrize("model", MODELS)
def test_a_short_fuzz_run_finds_no_crash_hang_or_memory_blowup(model: str, tmp_path: Path) -> None:
    seeds = [(GOLDEN / name).read_bytes() for name, _ in _entries(model, None)]
    report = fuzz_random(model, seeds, runs=200 if not FULL else 5000, seed=0, time_bound=20.0,
                         memory_bound_mb=1024.0, findings_dir=tmp_path)
    assert report.findings == [], report.findings
    assert report.outcomes["refused"] > 0  # the mutants reached the checks


REGRESSIONS = sorted((Path(__file__).resolve().parent / "fuzz_regressions").glob("*.nc"))


@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.name for p in REGRESSIONS])
def test_inputs_the_fuzzer_once_crashed_on_get_a_clean_answer(path: Path) -> None:
    """Each file here crashed a release once (the name says how); now: a result or NcodecError."""
    from ncodec.container.format import read_container

    data = path.read_bytes()
    for call in (read_container, api.info, api.decode):
        try:
            call(data)
        except NcodecError:
            pass


# ------------------------------------------------------------------------------ limits
def test_limits_refuse_inputs_and_files_before_any_work(tmp_path: Path, photo: Any, speech: Any) -> None:
    from fractions import Fraction

    import numpy as np
    from PIL import Image

    from ncodec.errors import InputError, LimitError, UsageError
    from ncodec.limits import Limits
    from ncodec.media.audio import AudioData
    from ncodec.media.image import ImageData
    from ncodec.media.video import VideoData

    src = tmp_path / "photo.png"
    Image.fromarray(photo).save(src)
    with pytest.raises(InputError, match=r"65,536 pixels, above the limit of 1,000 \(--max-pixels\)"):
        api.encode_file(src, tmp_path / "x.nc", limits=Limits(max_pixels=1000))
    assert not (tmp_path / "x.nc").exists()
    with pytest.raises(InputError, match="--max-pixels"):
        api.encode(ImageData(photo, 8, None), limits=Limits(max_pixels=1000))
    samples, rate = speech
    with pytest.raises(InputError, match="--max-samples"):
        api.encode(AudioData(samples, rate), limits=Limits(max_samples=rate))
    wav = tmp_path / "talk.wav"
    from ncodec.media.audio import write_audio

    write_audio(wav, AudioData(samples, rate))
    with pytest.raises(InputError, match="--max-samples"):
        api.encode_file(wav, tmp_path / "t.nc", limits=Limits(max_samples=rate))
    clip = VideoData(np.zeros((5, 16, 16, 3), np.uint8), Fraction(25))
    with pytest.raises(InputError, match="--max-frames"):
        api.encode(clip, limits=Limits(max_frames=4))  # refused before any fitting
    data = api.encode(ImageData(photo, 8, None), quality=1)
    with pytest.raises(LimitError, match="--max-pixels"):
        api.decode(data, limits=Limits(max_pixels=1000))
    api.encode_file(src, tmp_path / "ok.nc", quality=1)
    with pytest.raises(LimitError):
        api.decode_file(tmp_path / "ok.nc", tmp_path / "back.png", limits=Limits(max_pixels=1000))
    assert not (tmp_path / "back.png").exists()
    with pytest.raises(UsageError):
        Limits(max_frames=0)
    run = subprocess.run([sys.executable, "-m", "ncodec", "encode", str(src), str(tmp_path / "c.nc"),
                          "--max-pixels", "100"], capture_output=True, text=True)
    assert run.returncode == 1 and "--max-pixels" in run.stderr and run.stderr.count("\n") == 1
