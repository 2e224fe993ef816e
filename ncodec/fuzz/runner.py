"""The fuzz loop: mutants of every registered model's seed files through the reader, ``info`` and ``decode``.

Each input may end in exactly two ways: it decodes, or an :class:`~ncodec.errors.NcodecError`
refuses it. Anything else is a finding, saved with its input: an exception of another class (a
crash), a decode that outlives the time bound (a hang), or one that raises the process's peak
memory by more than the memory bound (a tiny file may not make the decoder allocate gigabytes).

Two engines share the mutations of :mod:`.mutate`:
- ``random``: a seeded loop, reproducible input for input; what ``make test`` runs briefly;
- ``atheris``: libFuzzer's coverage-guided search (atheris from PyPI, ``make fuzz`` installs it),
  with the structure-aware mutator of :mod:`.mutate` mixed with libFuzzer's own byte mutations,
  so inputs that reach new branches of the codecs are kept and mutated further.
"""

from __future__ import annotations

import hashlib
import json
import random
import resource
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any


class _Hang(BaseException):
    """Raised by the alarm inside a decode that outlived the bound (not an Exception, so no codec
    ``except Exception`` can swallow it)."""


@dataclass
class Report:
    """What a run found, per model."""

    model: str
    engine: str
    inputs: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    findings: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    time_bound_s: float = 0.0
    memory_bound_mb: float = 0.0

    @property
    def clean(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["outcomes"] = dict(sorted(self.outcomes.items()))
        d["inputs_per_s"] = round(self.inputs / self.seconds, 1) if self.seconds else None
        return d


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise _Hang()


def check_input(data: bytes, time_bound: float) -> tuple[str, str]:
    """(outcome, detail): 'decoded', 'refused:<ErrorClass>', 'crash' or 'hang'."""
    from ncodec import api
    from ncodec.container.format import read_container
    from ncodec.errors import NcodecError

    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, time_bound)
    try:
        try:
            read_container(data)
        except NcodecError:
            pass
        try:
            api.info(data)
        except NcodecError:
            pass
        api.decode(data)
        return "decoded", ""
    except NcodecError as exc:
        return f"refused:{type(exc).__name__}", str(exc)
    except _Hang:
        return "hang", f"over {time_bound:g} s"
    except Exception as exc:  # a finding: the project's decoders raise NcodecError only
        return "crash", f"{type(exc).__name__}: {exc}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _Recorder:
    """Counts outcomes, keeps findings (and their inputs), watches peak memory."""

    def __init__(self, report: Report, findings_dir: Path | None, memory_bound_mb: float) -> None:
        self.report = report
        self.findings_dir = findings_dir
        self.memory_bound_mb = memory_bound_mb
        self.baseline_mb: float | None = None

    def record(self, data: bytes, outcome: str, detail: str) -> None:
        report = self.report
        report.inputs += 1
        report.outcomes[outcome.split(":")[0] if outcome.startswith("refused") else outcome] += 1
        if outcome.startswith("refused"):
            report.outcomes[outcome] += 1
        peak = _peak_rss_mb()
        if self.baseline_mb is None:
            self.baseline_mb = peak  # after the first input: models loaded, caches warm
        elif peak > self.baseline_mb + self.memory_bound_mb:
            self._finding(data, "memory", f"peak RSS {peak:.0f} MB, {peak - self.baseline_mb:.0f} MB over the "
                                          f"baseline")
            self.baseline_mb = peak  # report each jump once
        report.peak_rss_mb = max(report.peak_rss_mb, peak)
        if outcome in ("crash", "hang"):
            self._finding(data, outcome, detail)

    def _finding(self, data: bytes, kind: str, detail: str) -> None:
        digest = hashlib.sha256(data).hexdigest()[:16]
        entry = {"kind": kind, "detail": detail[:500], "sha256_16": digest}
        if self.findings_dir is not None:
            self.findings_dir.mkdir(parents=True, exist_ok=True)
            path = self.findings_dir / f"{self.report.model}-{kind}-{digest}.nc"
            path.write_bytes(data)
            entry["input"] = path.name
        self.report.findings.append(entry)


def fuzz_random(model: str, seeds: Sequence[bytes], runs: int, seed: int = 0, time_bound: float = 10.0,
                memory_bound_mb: float = 1024.0, findings_dir: Path | None = None,
                on_progress: Callable[[Report], None] | None = None) -> Report:
    """``runs`` mutants of ``seeds`` (the first input of all is each seed itself, unmutated)."""
    from .mutate import mutate

    report = Report(model=model, engine="random", time_bound_s=time_bound, memory_bound_mb=memory_bound_mb)
    recorder = _Recorder(report, findings_dir, memory_bound_mb)
    rng = random.Random(seed)
    start = time.monotonic()
    for i in range(runs):
        data = seeds[i] if i < len(seeds) else mutate(rng.choice(seeds), rng)
        outcome, detail = check_input(data, time_bound)
        recorder.record(data, outcome, detail)
        if on_progress and (i + 1) % 500 == 0:
            report.seconds = time.monotonic() - start
            on_progress(report)
    report.seconds = time.monotonic() - start
    return report


def fuzz_atheris(model: str, seeds: Sequence[bytes], runs: int, seed: int, time_bound: float,
                 memory_bound_mb: float, out_dir: Path) -> None:
    """libFuzzer through atheris; writes ``<model>.json`` in ``out_dir`` every 1,000 inputs and at exit.

    Does not return: libFuzzer ends the process when ``runs`` inputs have run.
    """
    import atexit

    import atheris

    with atheris.instrument_imports(include=["ncodec"]):
        # Imported here, so that libFuzzer sees the branches of the reader, the API, the entropy
        # layer and the codec (modules imported before this block are not instrumented).
        import ncodec.api
        import ncodec.container.format
        import ncodec.entropy  # noqa: F401
        from ncodec.registry import by_name, load_codec

        load_codec(by_name(model))
    from .mutate import mutate

    report = Report(model=model, engine="atheris", time_bound_s=time_bound, memory_bound_mb=memory_bound_mb)
    recorder = _Recorder(report, out_dir / "findings", memory_bound_mb)
    corpus = out_dir / "corpus" / model
    corpus.mkdir(parents=True, exist_ok=True)
    (out_dir / "findings").mkdir(parents=True, exist_ok=True)  # libFuzzer's own crash/oom artifacts too
    for s in seeds:
        (corpus / hashlib.sha256(s).hexdigest()[:16]).write_bytes(s)
    start = time.monotonic()

    def save() -> None:
        report.seconds = time.monotonic() - start
        (out_dir / f"{model}.json").write_text(json.dumps(report.to_dict(), indent=1) + "\n")

    def one_input(data: bytes) -> None:
        outcome, detail = check_input(data, time_bound)
        recorder.record(data, outcome, detail)
        if report.inputs % 1000 == 0 or report.inputs >= runs:
            save()  # libFuzzer ends the process after the last input without Python's atexit

    def custom_mutator(data: bytes, max_size: int, mutation_seed: int) -> bytes:
        rng = random.Random(mutation_seed)
        if rng.random() < 0.3:
            return bytes(atheris.Mutate(data, max_size))
        return mutate(data, rng, max_size)

    atexit.register(save)
    max_len = 4 * max(len(s) for s in seeds)
    atheris.Setup([sys.argv[0], str(corpus), f"-runs={runs}", f"-seed={seed + 1}", f"-max_len={max_len}",
                   f"-timeout={int(time_bound * 3) + 1}", f"-rss_limit_mb={int(memory_bound_mb * 4)}",
                   f"-artifact_prefix={out_dir / 'findings'}/", "-print_final_stats=1"],
                  one_input, custom_mutator=custom_mutator)
    atheris.Fuzz()
