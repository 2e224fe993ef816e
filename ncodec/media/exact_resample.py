"""A resampler whose output is the same bits on every CPU: windowed sinc in exact arithmetic.

Why not swresample here: its filters run through SSE, AVX or FMA3 code chosen per CPU, whose
roundings differ, so decoded audio at a rate other than the codec's would differ between machines
even though the codec's own output does not. This resampler evaluates a Blackman-Harris windowed
sinc (:data:`ZERO_CROSSINGS` zero crossings either side, cutoff 0.99 of the input's Nyquist
frequency when upsampling, 0.95 of the output's when downsampling) at each output instant, with coefficients computed by :mod:`ncodec.exactmath`'s
cos and sin of rational turns, normalised to unit DC gain per phase and stored as binary
fractions whose row sums of ``|q|`` stay within :data:`ROW_BUDGET`; the input is put on a grid
of ``2**-INPUT_BITS``. Every product is then exact and every sum stays below ``2**53`` units, so
no summation order can change the result. Output sample ``j`` is at input time ``j * sr_in /
sr_out`` (no delay), as :func:`ncodec.media.audio.resample` aligns it.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

ZERO_CROSSINGS = 48  # of the cutoff's sinc, on each side of the output instant
# Cutoff, as a fraction of the lower of the two Nyquist frequencies: upsampling keeps the input's
# band nearly whole (measured from 16 to 44.1 kHz: -0.07 dB at 7.5 kHz, -2.6 dB at 7.8 kHz, where
# swresample gives -1.3 and -2.6 dB); downsampling leaves room to suppress what would alias.
UPSAMPLING_CUTOFF = (99, 100)
DOWNSAMPLING_CUTOFF = (19, 20)
INPUT_BITS = 24
INPUT_LIMIT = 16.0  # 2**28 grid units at most
ROW_BUDGET = 2**24  # sum |q| per phase: 2**24 * 2**28 = 2**52 units < 2**53
TABLE_PHASES = 2**14  # up to this many phases the coefficients are tabulated once
TABLE_CHUNK = 1024  # phases computed at a time: bounds the temporaries to a few MB
GATHER_ELEMENTS = 4096 * 96  # outputs x taps per gather: 4,096 outputs at 16 kHz and above
_BH = (0.35875, 0.48829, 0.14128, 0.01168)  # 4-term Blackman-Harris (sidelobes -92 dB)


class ExactStreamResampler:
    """Resample ``(channels, n)`` float blocks from ``sr_in`` to ``sr_out`` Hz, block by block.

    :meth:`push` returns the output that the input so far determines; :meth:`finish` the rest
    (the input continued by zeros). Feeding a signal in blocks of any size gives the samples that
    feeding it whole gives; the caller trims the total to ``round(n * sr_out / sr_in)``.
    """

    def __init__(self, channels: int, sr_in: int, sr_out: int, *, tabulate: bool = True) -> None:
        g = math.gcd(int(sr_in), int(sr_out))
        self.channels, self.sr_in, self.sr_out = channels, int(sr_in), int(sr_out)
        self.up, self.down = self.sr_out // g, self.sr_in // g  # output j is at input time j * down / up
        # half-width in input samples: ZERO_CROSSINGS of the cutoff's sinc
        self.half = -(-ZERO_CROSSINGS * self.down // min(self.up, self.down))
        self.taps = 2 * self.half
        self.cutoff = UPSAMPLING_CUTOFF if self.up >= self.down else DOWNSAMPLING_CUTOFF
        self._table = phase_table(self.sr_in, self.sr_out) if tabulate and self.up <= TABLE_PHASES else None
        # outputs per gather: the (channels, outputs, taps) temporaries stay a few MB even at
        # 1 kHz, where a row has 1,536 taps
        self._chunk = max(64, GATHER_ELEMENTS // self.taps)
        self._buffer = np.zeros((channels, self.half - 1))  # zeros before the signal's start
        self._buffer_start = -(self.half - 1)  # input index of the buffer's first sample
        self._received = 0
        self._next = 0  # next output index

    def _coefficients(self, phases: np.ndarray) -> np.ndarray:
        """(len(phases), taps) filter rows: tap k weighs input ``base - half + 1 + k``.

        With ``tau = k' - p / up`` the distance (in input samples) from the output instant, the
        sinc's argument ``fc tau`` and the window's ``tau / (2 half)`` are ratios of integers,
        which :func:`ncodec.exactmath.cos_sin_of_turns` takes exactly.
        """
        from ncodec import exactmath

        lo = min(self.up, self.down)
        k = np.arange(self.taps) - (self.half - 1)  # tap offsets from the base input sample
        numer = (k[None, :] * self.up - phases[:, None]).astype(np.int64)  # tau * up
        # sin(pi fc tau) with fc = cutoff * lo / down: turns = cut_num * lo * numer / (2 cut_den down up)
        cut_num, cut_den = self.cutoff
        _, sin = exactmath.cos_sin_of_turns(cut_num * lo * numer, 2 * cut_den * self.down * self.up)
        x = numer.astype(np.float64) * (cut_num * lo) / float(cut_den * self.down * self.up)  # fc tau
        sinc = np.where(numer == 0, 1.0, sin / np.where(numer == 0, 1.0, math.pi * x))
        # window over |tau| <= half: turns of the cosine terms = m (tau + half) / (2 half)
        shifted = numer + self.half * self.up  # (tau + half) * up, in 0 .. 2 half up
        span = 2 * self.half * self.up
        window = np.full(numer.shape, _BH[0])
        for m, (sign, a) in enumerate(((-1.0, _BH[1]), (1.0, _BH[2]), (-1.0, _BH[3])), start=1):
            cos, _ = exactmath.cos_sin_of_turns(m * shifted, span)
            window = window + sign * a * cos
        window = np.where((shifted < 0) | (shifted > span), 0.0, window)
        rows = sinc * window
        rows = rows / _sequential_sum(rows)  # unit DC gain
        # the largest power of two keeping sum |q| within the budget, from frexp (no logarithm)
        _, exponent = np.frexp((ROW_BUDGET - self.taps) / _sequential_sum(np.abs(rows)))
        scale = np.ldexp(1.0, exponent - 1)
        return np.round(rows * scale) / scale

    def push(self, block: np.ndarray) -> np.ndarray:
        """Output available after the next input ``block`` (channels, n)."""
        if self.sr_in == self.sr_out:
            return np.array(block, dtype=np.float32)
        block = np.asarray(block, dtype=np.float64)
        grid = 2.0**INPUT_BITS
        block = np.clip(np.round(block * grid), -INPUT_LIMIT * grid, INPUT_LIMIT * grid) / grid
        self._buffer = np.concatenate([self._buffer, block], axis=1)
        self._received += block.shape[1]
        return self._drain(self._received)

    def finish(self) -> np.ndarray:
        """The rest of the output: the input continued by zeros as far as the filter reaches."""
        if self.sr_in == self.sr_out:
            return np.zeros((self.channels, 0), dtype=np.float32)
        end = self._received
        self._buffer = np.concatenate([self._buffer, np.zeros((self.channels, self.half + 1))], axis=1)
        self._received += self.half + 1
        last = -(-end * self.up // self.down)  # outputs at instants before the input's end
        return self._drain(self._received, stop=last)

    def _drain(self, available: int, stop: int | None = None) -> np.ndarray:
        """Every output whose taps lie within the first ``available`` input samples (up to ``stop``)."""
        # output j needs inputs up to base + half, base = j * down // up
        last = ((available - 1 - self.half) * self.up) // self.down  # largest j whose taps are present
        if stop is not None:
            last = min(last, stop - 1)
        pieces = []
        while self._next <= last:
            j = np.arange(self._next, min(last + 1, self._next + self._chunk), dtype=np.int64)
            base, phase = np.divmod(j * self.down, self.up)
            rows = self._table[phase] if self._table is not None else self._coefficients(phase)
            first = base - (self.half - 1) - self._buffer_start
            gathered = self._buffer[:, first[:, None] + np.arange(self.taps)[None, :]]  # (C, n, taps)
            # Products are exact (grid values times binary fractions within the budgets) and so is
            # every partial sum, whatever order numpy's pairwise summation takes.
            pieces.append((gathered * rows[None]).sum(axis=2))
            self._next = int(j[-1]) + 1
        keep_from = (self._next * self.down) // self.up - (self.half - 1)
        drop = max(0, keep_from - self._buffer_start)
        if drop:
            self._buffer = self._buffer[:, drop:]
            self._buffer_start += drop
        if not pieces:
            return np.zeros((self.channels, 0), dtype=np.float32)
        return np.concatenate(pieces, axis=1).astype(np.float32)


@lru_cache(maxsize=2)
def phase_table(sr_in: int, sr_out: int) -> np.ndarray:
    """Every phase's filter row for one pair of rates, computed once per process (read-only).

    Built :data:`TABLE_CHUNK` phases at a time (each row depends on its phase alone, so the table
    is the same), which keeps the temporaries small: whole, a table of 16,001 phases took about
    300 MB of them; the table itself is at most ``TABLE_PHASES * 2 * ZERO_CROSSINGS * 2`` doubles.
    The cache holds the last two pairs, so decoding file after file at one rate designs the
    filter once instead of spending half a second on each.
    """
    design = ExactStreamResampler(1, sr_in, sr_out, tabulate=False)
    table = np.concatenate([design._coefficients(np.arange(start, min(start + TABLE_CHUNK, design.up)))
                            for start in range(0, design.up, TABLE_CHUNK)])
    table.setflags(write=False)
    return table


def _sequential_sum(rows: np.ndarray) -> np.ndarray:
    """Row sums (n, 1) added column by column: a fixed order, unlike numpy's SIMD reductions."""
    total = rows[:, :1].copy()
    for k in range(1, rows.shape[1]):
        total = total + rows[:, k:k + 1]
    return total
