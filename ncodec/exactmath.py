"""Arithmetic that gives the same bits on every CPU: fixed-point rounding and elementary functions.

Why this module exists. IEEE 754 fixes the result of +, -, *, / and sqrt to the last bit, but not
of exp, erf, sin or cos (every libm and every SIMD path of torch and numpy approximates them its own
way), and not of a sum whose order a BLAS, a convolution kernel or a thread count chooses. The audio
decoder and the decoder's resampler therefore only ever

* sums (in matrix products, convolutions and reductions) binary fractions on a fixed grid whose
  every partial sum stays below ``2**53`` grid units: such a sum is exact, so the order the kernel
  picks cannot change it (:func:`to_grid` puts values on a grid, and callers bound the sums);
* evaluates exp, erf, cos and sin as the fixed sequences of +, -, * and / below, one torch or numpy
  operation at a time (never fused into one kernel, where a compiler may contract them into FMA).

Accuracy is far beyond what the decoder needs (relative error ~1e-16 for exp, sin and cos,
1.5e-7 absolute for erf); what matters is that it is the same everywhere.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

# exp: x = k ln 2 + r with |r| <= ln(2) / 2, then a Taylor polynomial of degree 13 for e^r
# (truncation error below 4e-18 relative). ln 2 is split in a head with trailing zero bits, so
# that k * LN2_HI is exact for every k this module meets (fdlibm's constants).
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
_EXP_COEFFS = [1.0 / math.factorial(i) for i in range(14)]
EXP_INPUT_LIMIT = 700.0  # inputs are clamped to +-this, so 2**k stays a normal number

# erf: Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7).
_ERF_P = 0.3275911
_ERF_A = [0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429]


def to_grid(x: Tensor, frac_bits: int, limit: float) -> Tensor:
    """``x`` rounded to a multiple of ``2**-frac_bits`` (half to even) and clamped to ``+-limit``.

    Multiplying by a power of two is exact, rounding to an integer is exact, so the result is
    determined by ``x`` alone.
    """
    return torch.clamp(torch.round(x * 2.0**frac_bits), -limit * 2.0**frac_bits, limit * 2.0**frac_bits) \
        * 2.0**-frac_bits


def to_grid_(x: Tensor, frac_bits: int, limit: float) -> Tensor:
    """:func:`to_grid` in place, on a tensor the caller owns (the same operations, the same bits)."""
    scale = 2.0**frac_bits
    return x.mul_(scale).round_().clamp_(-limit * scale, limit * scale).mul_(2.0**-frac_bits)


def power_of_two(k: Tensor) -> Tensor:
    """``2.0**k`` for integer tensors ``k`` in -1022..1023, built from the bit pattern (no pow())."""
    return ((k.to(torch.int64) + 1023) << 52).view(torch.float64)


ROW_BUDGET = 2**25  # default bound on sum |q| of a weight row (see quantize_rows)
MAX_ROW_EXPONENT = 40


def quantize_rows(weight: Tensor, row_dim: int = 0, budget: int = ROW_BUDGET, from_fp16: bool = True) -> Tensor:
    """``weight`` (float) as float64 binary fractions ``q * 2**-e``, one ``e`` per output row.

    ``e`` is the largest exponent for which the row's ``sum |q|`` stays within ``budget``, so
    each row keeps as many bits as the exactness bound allows. A network's layer that multiplies
    activations of at most ``A`` grid units by such a row has partial sums of at most
    ``budget * A`` units: below ``2**53``, no addition rounds, in any order.

    The choice itself must not depend on the machine either: the row sums that decide ``e`` must
    be exact in any order. With ``from_fp16`` the weights are taken as fp16 values (what a
    weights file stores: multiples of 2**-24 below 2**16, whose float64 sums are exact);
    without it the caller passes values already on such a grid. The exponent comes from
    ``frexp``, not from a logarithm.
    """
    w = weight.detach()
    w = (w.half() if from_fp16 else w).double().movedim(row_dim, 0)
    rows = w.reshape(w.shape[0], -1)
    fan_in = rows.shape[1]
    l1 = rows.abs().sum(dim=1).clamp_min(2.0**-MAX_ROW_EXPONENT)
    _, exponent = torch.frexp((budget - fan_in) / l1)  # value = m * 2**exponent, 0.5 <= m < 1
    e = torch.clamp(exponent.to(torch.int64) - 1, max=MAX_ROW_EXPONENT)
    scale = power_of_two(e)[:, None]
    q = torch.round(rows * scale)
    if bool((q.abs().sum(dim=1) > budget).any()):
        raise ValueError("a weight row exceeds the exact-sum budget")
    return (q / scale).reshape(w.shape).movedim(0, row_dim).contiguous()


def row_exponents(rows: Tensor) -> Tensor:
    """Per row of a 2-D tensor, the smallest ``e`` for which every ``w * 2**e`` is an integer."""
    e = torch.full((rows.shape[0],), -1.0, dtype=torch.float64)
    for exponent in range(MAX_ROW_EXPONENT + 1):
        integral = torch.all(torch.frac(rows * 2.0**exponent) == 0, dim=1) & (e < 0)
        e[integral] = exponent
    if bool((e < 0).any()):
        raise ValueError("a weight row is not a binary fraction within the allowed exponents")
    return e


def _horner(coeffs: list[float], r: Tensor) -> Tensor:
    """sum(coeffs[i] * r**i), highest power first, one operation at a time."""
    p = torch.full_like(r, coeffs[-1])
    for c in reversed(coeffs[:-1]):
        p.mul_(r)  # in place, but still two separately rounded operations
        p.add_(c)
    return p


def exp(x: Tensor) -> Tensor:
    """e**x for float64 ``x`` (clamped to +-EXP_INPUT_LIMIT), identical on every machine."""
    x = torch.clamp(x.double(), -EXP_INPUT_LIMIT, EXP_INPUT_LIMIT)
    k = torch.floor(x * _INV_LN2 + 0.5)
    r = (x - k * _LN2_HI) - k * _LN2_LO
    return _horner(_EXP_COEFFS, r) * power_of_two(k)


def erf(x: Tensor) -> Tensor:
    """The error function of float64 ``x`` (absolute error below 1.5e-7), identical everywhere."""
    y = torch.abs(x)
    t = 1.0 / (1.0 + _ERF_P * y)
    poly = _horner([0.0, *_ERF_A], t)
    value = 1.0 - poly * exp(-(y * y))
    return torch.where(x < 0, -value, value)


GELU_STEP_BITS = 9  # the normal CDF is tabulated every 2**-9 on [-GELU_RANGE, GELU_RANGE]
GELU_RANGE = 8.0


@lru_cache(maxsize=1)
def _normal_cdf_table() -> tuple[Tensor, Tensor]:
    """Phi at every grid point and the difference to the next one (for linear interpolation)."""
    step = 2.0**-GELU_STEP_BITS
    points = torch.arange(int(2 * GELU_RANGE / step) + 2, dtype=torch.float64) * step - GELU_RANGE
    phi = 0.5 * (1.0 + erf(points * (1.0 / math.sqrt(2.0))))
    return phi[:-1].contiguous(), (phi[1:] - phi[:-1]).contiguous()


def gelu(x: Tensor) -> Tensor:
    """GELU, ``x Phi(x)`` (the erf form torch's ``F.gelu`` uses by default), from a table of Phi.

    Linear interpolation between points 2**-9 apart errs by at most 5e-7 in Phi (and erf's own
    approximation by 7.5e-8); a few operations per element instead of an exp and a rational
    function, which made GELU most of the decoder's time.
    """
    x = x.double()
    u = (torch.clamp(x, -GELU_RANGE, GELU_RANGE - 2.0**-GELU_STEP_BITS) + GELU_RANGE) * 2.0**GELU_STEP_BITS
    index = torch.floor(u)
    frac = u - index
    phi, slope = _normal_cdf_table()
    flat = index.to(torch.int64).reshape(-1)
    cdf = phi.index_select(0, flat).view_as(x) + frac * slope.index_select(0, flat).view_as(x)
    return torch.where(x >= GELU_RANGE, x, torch.where(x <= -GELU_RANGE, torch.zeros_like(x), x * cdf))


# sin and cos on [0, pi/4]: Taylor polynomials of degree 17 and 18 (error below 1e-18).
_SIN_COEFFS = [0.0 if i % 2 == 0 else (-1.0) ** (i // 2) / math.factorial(i) for i in range(18)]
_COS_COEFFS = [0.0 if i % 2 else (-1.0) ** (i // 2) / math.factorial(i) for i in range(19)]


def cos_sin_of_turns(m: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin of ``2 pi m / n`` for integer ``m`` (float64 arrays), identical everywhere.

    The reduction to an angle in [0, pi/4] runs in integers (quadrant, then the complement), so
    the polynomials only ever see small arguments.
    """
    m = np.asarray(m, dtype=np.int64) % n
    quadrant, r = np.divmod(4 * m, n)  # angle = (quadrant + r / n) * pi / 2, 0 <= r < n
    complement = 2 * r > n
    r_small = np.where(complement, n - r, r)
    theta = torch.from_numpy(r_small.astype(np.float64) * (math.pi / 2.0) / float(n))
    s, c = _horner(_SIN_COEFFS, theta).numpy(), _horner(_COS_COEFFS, theta).numpy()
    s, c = np.where(complement, c, s), np.where(complement, s, c)  # angle within the quadrant
    cos_out = np.select([quadrant == 0, quadrant == 1, quadrant == 2], [c, -s, -c], s)
    sin_out = np.select([quadrant == 0, quadrant == 1, quadrant == 2], [s, c, -s], -c)
    return cos_out, sin_out


PHASE_STEPS = 2**16  # the synthesis rounds every phase to one of this many angles per turn


@lru_cache(maxsize=1)
def phase_table() -> tuple[np.ndarray, np.ndarray]:
    """cos and sin of every angle ``2 pi i / PHASE_STEPS``."""
    return cos_sin_of_turns(np.arange(PHASE_STEPS), PHASE_STEPS)


def cos_sin_of_phase(phase: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin of float64 radians, through the angle nearest on a grid of PHASE_STEPS per turn.

    The grid's half-step (4.8e-5 rad) shifts a partial by at most -86 dB of its own amplitude.
    """
    index = np.round(np.asarray(phase, dtype=np.float64) * (PHASE_STEPS / (2.0 * math.pi)))
    index = np.mod(index, PHASE_STEPS).astype(np.int64)
    cos_t, sin_t = phase_table()
    return cos_t[index], sin_t[index]
