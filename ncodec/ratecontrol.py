"""Rate control: the quality that meets a size or PSNR target on one image, found by search.

A target is a constraint (``--max-bytes N``, ``--target-bpp X``: the file may not be larger;
``--target-psnr DB``: the decoding may not be worse), and the answer is the best quality that
meets it: the highest quality whose file fits, or the lowest (smallest file) whose PSNR reaches
the target, as ``cwebp -size`` and ``-psnr`` do. Every size is that of the complete ``.nc`` file,
header included, and every PSNR that of the real decoding, so a returned file always meets its
target; when no quality can, :class:`~ncodec.errors.UsageError` says what the nearest one gives.

Qualities are searched on the grid of hundredths that the image codec records, by bisection:
rate and PSNR rise with quality (the gain vectors are interpolated monotonically), so ten trials
settle 1.00..8.00. Should an image break monotonicity locally, the answer still meets the target,
since only measured trials are returned; it may then be a hundredth or so below the best.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from ncodec.errors import UsageError

STEPS_PER_LEVEL = 100  # the search grid: hundredths of a quality level


@dataclass(frozen=True)
class Target:
    """At most one of the three; ``None`` everywhere means no target."""

    max_bytes: int | None = None
    bpp: float | None = None
    psnr: float | None = None

    def __post_init__(self) -> None:
        given = [v for v in (self.max_bytes, self.bpp, self.psnr) if v is not None]
        if len(given) > 1:
            raise UsageError("give one target: max bytes, target bpp or target PSNR")
        if self.max_bytes is not None and (isinstance(self.max_bytes, bool) or not isinstance(self.max_bytes, int)
                                           or self.max_bytes <= 0):
            raise UsageError(f"max bytes must be a positive whole number, not {self.max_bytes!r}")
        for name, v in (("target bpp", self.bpp), ("target PSNR", self.psnr)):
            if v is not None and (not isinstance(v, int | float) or not math.isfinite(v) or v <= 0):
                raise UsageError(f"{name} must be a positive number, not {v!r}")

    @property
    def given(self) -> bool:
        return any(v is not None for v in (self.max_bytes, self.bpp, self.psnr))

    @property
    def needs_psnr(self) -> bool:
        return self.psnr is not None

    def byte_limit(self, pixels: int) -> int | None:
        """The largest file allowed, in bytes (a bpp target counts every byte of the file)."""
        if self.max_bytes is not None:
            return self.max_bytes
        if self.bpp is not None:
            return math.floor(self.bpp * pixels / 8)
        return None

    def describe(self) -> str:
        if self.max_bytes is not None:
            return f"at most {self.max_bytes:,} bytes"
        if self.bpp is not None:
            return f"at most {self.bpp:g} bpp"
        return f"at least {self.psnr:g} dB PSNR"


@dataclass(frozen=True)
class Trial:
    """One quality tried: the bytes of its file and, for PSNR targets, the decoding's PSNR."""

    quality: int | float
    data: bytes
    psnr: float | None = None


def search_quality(trial_at: Callable[[int | float], Trial], target: Target, top_level: int,
                   pixels: int) -> Trial:
    """The trial at the best quality in 1..``top_level`` that meets ``target`` (see the module doc).

    The bracket [lowest, highest quality] shrinks by interpolation, since log-size and PSNR are
    smooth and monotonic in the quality level.
    """
    limit = target.byte_limit(pixels)
    goal = math.log(limit) if limit is not None else float(target.psnr or 0.0)
    trials: dict[int, Trial] = {}

    def value(t: Trial) -> float:
        if limit is not None:
            return math.log(len(t.data))
        assert t.psnr is not None
        return t.psnr

    def at(step: int) -> Trial:
        if step not in trials:
            q = step / STEPS_PER_LEVEL
            trials[step] = trial_at(int(q) if step % STEPS_PER_LEVEL == 0 else q)
        return trials[step]

    # Rate and PSNR both rise with quality. For a size limit the answer is the highest step whose
    # value is <= goal; for a PSNR target, the lowest whose value is >= goal. Either way, keep
    # `good` on the side that meets the target and `bad` on the side that does not.
    lo, hi = STEPS_PER_LEVEL, top_level * STEPS_PER_LEVEL
    first, last = (lo, hi) if limit is not None else (hi, lo)
    good_trial = at(first)
    if not _meets(good_trial, limit, target.psnr):
        if limit is not None:
            raise UsageError(f"{target.describe()} cannot be met: the lowest quality gives "
                             f"{len(good_trial.data):,} bytes")
        raise UsageError(f"{target.describe()} cannot be met: the highest quality gives {good_trial.psnr:.2f} dB")
    if _meets(at(last), limit, target.psnr):
        return trials[last]
    good, bad = first, last
    # Regula falsi with the Illinois modification: when one end of the bracket survives twice in
    # a row, its distance to the goal is halved for the next interpolation, which stops the
    # one-sided creep of plain regula falsi on a curved function.
    weight = {good: 1.0, bad: 1.0}
    kept: int | None = None
    while abs(bad - good) > 1:
        v_good = goal + (value(trials[good]) - goal) * weight.get(good, 1.0)
        v_bad = goal + (value(trials[bad]) - goal) * weight.get(bad, 1.0)
        if math.isfinite(v_good) and math.isfinite(v_bad) and v_bad != v_good:
            step = good + round((goal - v_good) / (v_bad - v_good) * (bad - good))
        else:
            step = (good + bad) // 2
        step = min(max(step, min(good, bad) + 1), max(good, bad) - 1)
        if _meets(at(step), limit, target.psnr):
            survivor, good = bad, step
        else:
            survivor, bad = good, step
        weight[survivor] = weight.get(survivor, 1.0) * (0.5 if kept == survivor else 1.0)
        kept = survivor
    return trials[good]


def _meets(t: Trial, limit: int | None, psnr: float | None) -> bool:
    if limit is not None:
        return len(t.data) <= limit
    assert psnr is not None and t.psnr is not None
    return t.psnr >= psnr
