"""Bjøntegaard delta rate and delta quality between two rate-distortion curves.

BD-rate (Bjøntegaard, VCEG-M33, 2001) is the average difference in log-rate between two curves
over the quality range both cover: fit log(rate) as a function of quality for each curve,
integrate both fits over the overlapping quality interval, average the difference and convert it
back to a percentage. Negative means the test codec needs fewer bits than the anchor for the same
quality. BD-PSNR (here :func:`bd_metric`, since it works for any quality metric) swaps the axes:
quality as a function of log-rate, averaged over the overlapping log-rate interval.

Two interpolations are offered:

* ``"pchip"`` (the default): piecewise cubic Hermite interpolation with Fritsch-Butland slopes
  and the three-point end condition, exactly the algorithm of SciPy's ``PchipInterpolator``
  (which the JCT-VC/JVET common-test-condition spreadsheets' BD-rate reproduces), implemented here
  in numpy because SciPy is not a dependency. It is shape-preserving (no overshoot between
  points) and works from two points per curve.
* ``"cubic"``: the original VCEG-M33 least-squares cubic polynomial (``numpy.polyfit``,
  degree 3), which needs at least four points per curve and can swing wildly when a curve bends.

Both are exact for a curve whose rates are all scaled by one factor: ``rate_test = 0.8 *
rate_anchor`` at the same qualities gives -20 % with either.

Before fitting, each curve is reduced to its points on the rate-distortion frontier: points that
are non-finite are dropped, and so is any point whose quality does not exceed that of a cheaper
point (a setting no user would choose, and one that would make quality-as-a-function-of-rate
non-invertible). :func:`bd_compare` reports how many points that dropped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

METHODS = ("pchip", "cubic")


# --------------------------------------------------------------------------------------------------
# PCHIP (Fritsch-Butland slopes, SciPy's end condition) with an exact integral


def pchip_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Derivatives at the knots of the shape-preserving PCHIP through strictly increasing ``x``."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    h = np.diff(x)
    m = np.diff(y) / h
    n = x.size
    d = np.zeros(n, dtype=np.float64)
    if n == 2:
        d[:] = m[0]
        return d
    for k in range(1, n - 1):
        if m[k - 1] * m[k] <= 0.0:  # a local extremum or flat piece: zero slope keeps the shape
            d[k] = 0.0
        else:
            w1 = 2.0 * h[k] + h[k - 1]
            w2 = h[k] + 2.0 * h[k - 1]
            d[k] = (w1 + w2) / (w1 / m[k - 1] + w2 / m[k])
    d[0] = _edge_slope(h[0], h[1], m[0], m[1])
    d[-1] = _edge_slope(h[-1], h[-2], m[-1], m[-2])
    return d


def _edge_slope(h0: float, h1: float, m0: float, m1: float) -> float:
    """One-sided three-point estimate, made shape-preserving (as in SciPy)."""
    d = ((2.0 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
    if np.sign(d) != np.sign(m0):
        return 0.0
    if np.sign(m0) != np.sign(m1) and abs(d) > abs(3.0 * m0):
        return 3.0 * m0
    return float(d)


class Pchip:
    """Piecewise cubic Hermite interpolant with an exact definite integral."""

    def __init__(self, x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> None:
        self.x = np.asarray(x, dtype=np.float64)
        self.y = np.asarray(y, dtype=np.float64)
        if self.x.ndim != 1 or self.x.shape != self.y.shape or self.x.size < 2:
            raise ValueError("PCHIP needs matching 1-D x and y with at least two points")
        if not np.all(np.diff(self.x) > 0):
            raise ValueError("PCHIP needs strictly increasing x")
        self.d = pchip_slopes(self.x, self.y)
        h = np.diff(self.x)
        # exact integral of each whole interval: h * (y0 + y1) / 2 + h^2 * (d0 - d1) / 12
        whole = h * (self.y[:-1] + self.y[1:]) / 2.0 + h * h * (self.d[:-1] - self.d[1:]) / 12.0
        self._cumulative = np.concatenate([[0.0], np.cumsum(whole)])

    def _interval(self, t: float) -> int:
        return int(np.clip(np.searchsorted(self.x, t, side="right") - 1, 0, self.x.size - 2))

    def __call__(self, t: float) -> float:
        k = self._interval(t)
        h = self.x[k + 1] - self.x[k]
        s = (t - self.x[k]) / h
        h00, h10, h01, h11 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s, -2 * s**3 + 3 * s**2, s**3 - s**2
        return float(h00 * self.y[k] + h10 * h * self.d[k] + h01 * self.y[k + 1] + h11 * h * self.d[k + 1])

    def antiderivative(self, t: float) -> float:
        """Integral from ``x[0]`` to ``t`` (the end cubics are extended beyond the knots)."""
        k = self._interval(t)
        h = self.x[k + 1] - self.x[k]
        s = (t - self.x[k]) / h
        i00 = s**4 / 2 - s**3 + s
        i10 = s**4 / 4 - 2 * s**3 / 3 + s**2 / 2
        i01 = -(s**4) / 2 + s**3
        i11 = s**4 / 4 - s**3 / 3
        part = h * (i00 * self.y[k] + i10 * h * self.d[k] + i01 * self.y[k + 1] + i11 * h * self.d[k + 1])
        return float(self._cumulative[k] + part)

    def integrate(self, a: float, b: float) -> float:
        return self.antiderivative(b) - self.antiderivative(a)


def _integral(x: np.ndarray, y: np.ndarray, lo: float, hi: float, method: str) -> float:
    if method == "pchip":
        return Pchip(x, y).integrate(lo, hi)
    if method == "cubic":
        if x.size < 4:
            raise ValueError("the cubic BD fit needs at least 4 points per curve")
        poly = np.polyint(np.polyfit(x, y, 3))
        return float(np.polyval(poly, hi) - np.polyval(poly, lo))
    raise ValueError(f"unknown BD method '{method}' (choose {', '.join(METHODS)})")


# --------------------------------------------------------------------------------------------------
# curves


def frontier(rate: Sequence[float] | np.ndarray, metric: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Finite, positive-rate points on the rate-quality frontier, sorted by rate.

    A point survives when its quality is strictly higher than that of every cheaper point: a
    dominated setting is not on the curve a user can reach, and keeping it would make the
    quality-to-rate mapping non-invertible.
    """
    r = np.asarray(rate, dtype=np.float64).reshape(-1)
    q = np.asarray(metric, dtype=np.float64).reshape(-1)
    if r.shape != q.shape:
        raise ValueError(f"rate and metric differ in length ({r.size} vs {q.size})")
    ok = np.isfinite(r) & np.isfinite(q) & (r > 0)
    r, q = r[ok], q[ok]
    order = np.lexsort((-q, r))  # by rate, best quality first among equal rates
    keep_r: list[float] = []
    keep_q: list[float] = []
    for i in order:
        if not keep_q or q[i] > keep_q[-1]:
            if keep_r and r[i] == keep_r[-1]:
                continue
            keep_r.append(float(r[i]))
            keep_q.append(float(q[i]))
    return np.array(keep_r), np.array(keep_q)


def _prepare(rate: Sequence[float] | np.ndarray, metric: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r, q = frontier(rate, metric)
    if r.size < 2:
        raise ValueError("a curve needs at least two usable rate-distortion points")
    return np.log(r), q


def bd_rate(
    rate_anchor: Sequence[float] | np.ndarray,
    metric_anchor: Sequence[float] | np.ndarray,
    rate_test: Sequence[float] | np.ndarray,
    metric_test: Sequence[float] | np.ndarray,
    method: str = "pchip",
) -> float:
    """BD-rate of the test curve against the anchor, in percent (negative: the test saves bits).

    ``metric`` must be "higher is better" (negate distances before calling). Raises
    ``ValueError`` when a curve has too few points or the quality ranges do not overlap.
    """
    la, qa = _prepare(rate_anchor, metric_anchor)
    lt, qt = _prepare(rate_test, metric_test)
    lo, hi = max(qa.min(), qt.min()), min(qa.max(), qt.max())
    if not hi > lo:
        raise ValueError(f"the quality ranges do not overlap (anchor {qa.min():.4g}..{qa.max():.4g}, "
                         f"test {qt.min():.4g}..{qt.max():.4g})")
    avg = (_integral(qt, lt, lo, hi, method) - _integral(qa, la, lo, hi, method)) / (hi - lo)
    return (math.exp(avg) - 1.0) * 100.0


def bd_metric(
    rate_anchor: Sequence[float] | np.ndarray,
    metric_anchor: Sequence[float] | np.ndarray,
    rate_test: Sequence[float] | np.ndarray,
    metric_test: Sequence[float] | np.ndarray,
    method: str = "pchip",
) -> float:
    """Average quality difference (test - anchor) over the overlapping log-rate range: BD-PSNR for PSNR."""
    la, qa = _prepare(rate_anchor, metric_anchor)
    lt, qt = _prepare(rate_test, metric_test)
    lo, hi = max(la.min(), lt.min()), min(la.max(), lt.max())
    if not hi > lo:
        raise ValueError("the rate ranges do not overlap")
    return (_integral(lt, qt, lo, hi, method) - _integral(la, qa, lo, hi, method)) / (hi - lo)


def bd_psnr(
    rate_anchor: Sequence[float] | np.ndarray,
    psnr_anchor: Sequence[float] | np.ndarray,
    rate_test: Sequence[float] | np.ndarray,
    psnr_test: Sequence[float] | np.ndarray,
    method: str = "pchip",
) -> float:
    """BD-PSNR in dB: :func:`bd_metric` under its traditional name."""
    return bd_metric(rate_anchor, psnr_anchor, rate_test, psnr_test, method)


@dataclass(frozen=True)
class BDResult:
    """Everything a BD table row needs; NaN fields and a ``note`` instead of exceptions."""

    bd_rate_pchip: float
    bd_rate_cubic: float
    bd_metric_pchip: float
    points_anchor: int
    points_test: int
    dropped_anchor: int
    dropped_test: int
    overlap_lo: float
    overlap_hi: float
    note: str = ""


def bd_compare(
    rate_anchor: Sequence[float] | np.ndarray,
    metric_anchor: Sequence[float] | np.ndarray,
    rate_test: Sequence[float] | np.ndarray,
    metric_test: Sequence[float] | np.ndarray,
) -> BDResult:
    """Both BD-rates and the BD-metric, never raising: what cannot be computed is NaN with a note."""
    ra, qa = frontier(rate_anchor, metric_anchor)
    rt, qt = frontier(rate_test, metric_test)
    dropped_a = int(np.asarray(rate_anchor).size - ra.size)
    dropped_t = int(np.asarray(rate_test).size - rt.size)
    notes: list[str] = []
    lo = max(qa.min(), qt.min()) if ra.size and rt.size else math.nan
    hi = min(qa.max(), qt.max()) if ra.size and rt.size else math.nan

    def attempt(fn: object, method: str, what: str) -> float:
        assert callable(fn)
        try:
            return float(fn(ra, qa, rt, qt, method))
        except ValueError as exc:
            notes.append(f"{what}: {exc}")
            return math.nan

    pchip = attempt(bd_rate, "pchip", "BD-rate")
    cubic = attempt(bd_rate, "cubic", "cubic BD-rate") if math.isfinite(pchip) else math.nan
    metric = attempt(bd_metric, "pchip", "BD-quality")
    if dropped_a or dropped_t:
        notes.append(f"dropped off-frontier points: anchor {dropped_a}, test {dropped_t}")
    return BDResult(pchip, cubic, metric, int(ra.size), int(rt.size), dropped_a, dropped_t,
                    float(lo), float(hi), "; ".join(notes))


__all__ = [
    "METHODS",
    "BDResult",
    "Pchip",
    "bd_compare",
    "bd_metric",
    "bd_psnr",
    "bd_rate",
    "frontier",
    "pchip_slopes",
]
