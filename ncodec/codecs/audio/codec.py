"""The audio codec: samples in, entropy-coded RVQ codes out, one container chunk per window.

Policies (documented in docs/AUDIO.md):

* **Rate.** Audio is coded at the model's 16 kHz. ``bitrate`` (kbps) is nominal: the codec uses
  ``bitrate / 0.5`` codebooks of 10 bits at 50 frames/s, entropy-codes each code under an integer
  table chosen by the previous frame's code of its codebook (tables shipped with the weights, see
  :mod:`.priors`), then fits the whole file (header included) to the
  nominal rate: whole codebooks are dropped while it is over, added while it is under, and the
  next codebook is coded on an evenly spread share of the frames (``kf`` / 256) to fill what is
  left. The file never exceeds the nominal rate unless one codebook alone does.
* **Channels.** Mono is coded as is. Stereo is coded as mid and side, each through the model; the
  side channel gets a quarter of the codebooks (none below 3 kbps, where stereo collapses to mid).
  More than two channels are refused. Decoding restores the channel count and the original rate.
* **Long input.** The signal is cut into windows of :data:`WINDOW_FRAMES` latent frames that
  overlap by :data:`OVERLAP_FRAMES`; each window is encoded with :data:`CONTEXT_FRAMES` of audio
  context on both sides and written as its own chunk, and the decoder cross-fades the overlaps.
  Encoding and decoding hold a few windows in memory whatever the length, and any window decodes
  from its own chunk.
* **Exactness.** Codes are integers and their tables are integers, so the entropy-coded stream
  decodes identically everywhere. The decoder network runs in exact float64 arithmetic
  (:mod:`.exact`), and the magnitudes, phases and inverse STFT use only IEEE-exact operations and
  exact sums (:mod:`.synthesis`), and output at another rate than 16 kHz is resampled by
  :class:`ncodec.media.exact_resample.ExactStreamResampler` (not swresample): a file decodes to
  the same samples on every CPU, thread count and BLAS.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from ncodec import exactmath
from ncodec.codecs.base import Payload
from ncodec.codecs.threads import codec_threads
from ncodec.codecs.weights import load_tensors, split_state
from ncodec.container.format import container_overhead
from ncodec.entropy import TableBank, decode_steps, encode_steps, steps_information_bits
from ncodec.errors import FormatError, InputError, UsageError
from ncodec.media.audio import MAX_AUDIO_SECONDS, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, AudioData, StreamResampler
from ncodec.media.exact_resample import ExactStreamResampler

from .exact import ExactDecoder
from .model import AudioCodecModel, AudioModelConfig
from .phase import PHASE_GROUP_DELAY, PHASE_METHODS, PHASE_PEAK_LOCKED
from .synthesis import synthesize

WINDOW_FRAMES = 500  # 10 s at 50 frames/s
OVERLAP_FRAMES = 10  # 200 ms cross-fade between windows
CONTEXT_FRAMES = 25  # 0.5 s of audio either side of a window, seen by the encoder only
RATE_TOLERANCE = 0.10  # a file may exceed its nominal rate by this fraction, header included
MAX_CHANNELS = 2
WINDOW_TAG = "W"  # chunk tags W000, W001, ...
PARTIAL_STEPS = 256  # a partly coded codebook covers kf / PARTIAL_STEPS of the frames


def window_tag(index: int) -> str:
    return f"{WINDOW_TAG}{index:03d}"


@dataclass(frozen=True)
class Windows:
    """How ``frames`` latent frames split into overlapping windows (each at most WINDOW_FRAMES)."""

    frames: int

    @property
    def step(self) -> int:
        return WINDOW_FRAMES - OVERLAP_FRAMES

    def __len__(self) -> int:
        if self.frames <= WINDOW_FRAMES:
            return 1
        return math.ceil((self.frames - OVERLAP_FRAMES) / self.step)

    def span(self, index: int) -> tuple[int, int]:
        start = index * self.step
        return start, min(start + WINDOW_FRAMES, self.frames)


def side_codebooks(total: int) -> int:
    """Codebooks given to the side channel of a stereo file with ``total`` codebooks in all."""
    return total // 4


class AudioCodec:
    """Registered codec for audio; see the module docstring for its policies."""

    modality: ClassVar[str] = "audio"
    known_chunks: ClassVar[set[str]] = {window_tag(i) for i in range(1000)}

    def __init__(self, model: AudioCodecModel, code_freqs: np.ndarray, context_freqs: np.ndarray,
                 context_index: np.ndarray) -> None:
        self.model = model.eval()
        self.config: AudioModelConfig = model.config
        k, size = self.config.n_codebooks, self.config.codebook_size
        if code_freqs.shape != (k, size + 1) or context_freqs.ndim != 2 or context_freqs.shape[1] != size + 1 \
                or context_index.shape != (k, size):
            raise ValueError(f"code tables must be (codebooks, size + 1), (contexts, size + 1) and (codebooks, size), "
                             f"got {code_freqs.shape}, {context_freqs.shape} and {context_index.shape}")
        if context_index.min() < 0 or context_index.max() >= context_freqs.shape[0]:
            raise ValueError("context index names a table that does not exist")
        self.code_freqs, self.context_freqs, self.context_index = code_freqs, context_freqs, context_index
        # Bank row k codes codebook k's first frame in a window; row K + context_index[k, c] a
        # later frame whose predecessor (the codebook's previous coded frame) is code c.
        self.bank = TableBank(0, np.concatenate([code_freqs, context_freqs]))
        self.context_rows = k + context_index.astype(np.int64)

    @functools.cached_property
    def decoder(self) -> ExactDecoder:
        """The exact decoder network, built on first use (encoding never needs it)."""
        return ExactDecoder(self.model)

    @classmethod
    def from_file(cls, path: str | Path) -> AudioCodec:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        state, tables = split_state(load_tensors(path))
        config = AudioModelConfig.from_dict(json.loads(meta.get("config", "{}")))
        model = AudioCodecModel(config)
        model.load_state_dict(state, strict=True)
        return cls(model, tables["code_freqs"].numpy(), tables["context_freqs"].numpy(),
                   tables["context_index"].numpy())

    @property
    def bitrates(self) -> list[float]:
        return list(self.config.bitrates_kbps)

    @property
    def qualities(self) -> list[int]:
        return list(range(1, len(self.bitrates) + 1))

    # ----------------------------------------------------------------------------------- encode
    def encode(self, media: AudioData, quality: int) -> Payload:
        """Encode in-memory audio at the ``quality``-th offered bitrate (1-based)."""
        if quality not in self.qualities:
            raise UsageError(f"quality {quality} is not offered (choose 1..{len(self.bitrates)})")
        return self.encode_blocks(iter([media.samples]), media.sample_rate, media.channels,
                                  self.bitrates[quality - 1])

    def encode_blocks(self, blocks: Iterable[np.ndarray], sample_rate: int, channels: int,
                      kbps: float, expected: Any = None,
                      extra_metadata: dict[str, Any] | None = None) -> Payload:
        """Encode ``(channels, n)`` blocks at ``sample_rate`` (any rate; resampled here) at ``kbps``.

        ``expected`` may be an object whose ``expected_samples`` attribute, read after the blocks
        run out, gives the exact input length at the model rate (see :class:`AudioBlocks`).
        """
        if channels > MAX_CHANNELS:
            raise InputError(f"{channels} channels: the audio codec codes mono and stereo "
                             "(mix down first, e.g. ffmpeg -ac 2)")
        if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
            raise InputError(f"sample rate {sample_rate} Hz is outside {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz")
        total = self.config.codebooks_for(kbps)
        stream = _ModelRateStream(blocks, sample_rate, channels, self.config.sample_rate)
        # Codes of every codebook, kept per window as uint16 (the rate control below picks how
        # many to write): 4.8 kB per second of stereo, against 384 kB for the signal at 48 kHz.
        codes = [c.astype(np.uint16) for c in self._window_codes(stream, channels, self.config.n_codebooks)]
        n_in = stream.input_samples if expected is None else int(getattr(expected, "input_samples", 0))
        if n_in == 0:
            raise InputError("audio has no samples")
        if n_in > MAX_AUDIO_SECONDS * sample_rate:
            raise InputError(f"audio is longer than the limit of {MAX_AUDIO_SECONDS} s")
        seconds = n_in / sample_rate
        nominal_bits = kbps * 1000 * seconds
        metadata: dict[str, Any] = {"sample_rate": sample_rate, "channels": channels, "samples": n_in,
                                    "kbps": kbps, "phase": PHASE_GROUP_DELAY, **(extra_metadata or {})}

        def meta_for(total: int, kf: int) -> dict[str, Any]:
            mid_k, side_k = (total - side_codebooks(total), side_codebooks(total)) if channels == 2 else (total, 0)
            return metadata | {"k": mid_k, "ks": side_k, "kf": kf}

        trials: dict[tuple[int, int], tuple[dict[str, bytes], float, dict[str, Any], int]] = {}

        def coded(total: int, kf: int = 0) -> tuple[dict[str, bytes], float, dict[str, Any], int]:
            if (total, kf) not in trials:
                meta = meta_for(total, kf)
                chunks, est = self._chunks(codes, meta["k"], meta["ks"], kf)
                bits = 8 * (container_overhead(meta, len(chunks)) + sum(len(c) for c in chunks.values()))
                trials[total, kf] = chunks, est, meta, bits
            return trials[total, kf]

        def predicted(total: int, kf: int) -> float:
            """The file's bits by the tables' information content, without running the coder."""
            meta = meta_for(total, kf)
            return 8 * container_overhead(meta, len(codes)) + self._information_bits(codes, meta["k"], meta["ks"], kf)

        def guess(candidates: int, bits: Callable[[int], float]) -> int:
            """The largest of ``0 .. candidates - 1`` whose predicted ``bits`` fit (0 if none does)."""
            lo, hi = 0, candidates
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if bits(mid) <= nominal_bits else (lo, mid)
            return lo

        # The most whole codebooks that fit the nominal rate (at least one), then the largest share
        # of the next codebook's frames that still fits. Each coded trial is a pass of the entropy
        # coder (two thirds of the encoder's time when a bisection ran eight of them), so both
        # searches first run on the tables' information content, offset by what the coder and
        # container added to a file already coded, and the coder only confirms the boundary (the
        # coder emits whole 32-bit words, so a few shares tie): 6 passes on the benchmark's sample
        # at 6 kbps instead of 11.
        slack = coded(total)[3] - predicted(total, 0)
        n_codebooks = self.config.n_codebooks
        start = guess(n_codebooks, lambda k: predicted(k + 1, 0) + slack)
        total = 1 + largest_fitting(lambda k: coded(k + 1)[3] <= nominal_bits, start, n_codebooks)
        best = coded(total)
        if total < n_codebooks and (channels == 1 or side_codebooks(total + 1) == side_codebooks(total)):
            slack = best[3] - predicted(total, 0)
            start = guess(PARTIAL_STEPS, lambda kf: predicted(total, kf) + slack)
            best = coded(total, largest_fitting(lambda kf: coded(total, kf)[3] <= nominal_bits, start, PARTIAL_STEPS))
        chunks, est, metadata, _ = best
        return Payload(chunks=chunks, metadata=metadata, estimated_bits=est)

    def _window_codes(self, stream: _ModelRateStream, channels: int, total: int) -> Iterator[np.ndarray]:
        """Codes (channels, total, frames) of each window, computed with context from the stream."""
        frame = self.config.samples_per_frame
        window, context = WINDOW_FRAMES * frame, CONTEXT_FRAMES * frame
        step = (WINDOW_FRAMES - OVERLAP_FRAMES) * frame
        buffer = np.zeros((channels, 0), dtype=np.float32)
        buffer_start = 0  # sample index of buffer[:, 0]
        start = 0  # sample index where the next window starts
        ended = False
        while True:
            while not ended and buffer_start + buffer.shape[1] < start + window + context:
                block = stream.next_block()
                if block is None:
                    ended = True
                    buffer = buffer[:, : max(0, stream.total - buffer_start)]
                else:
                    buffer = np.concatenate([buffer, block], axis=1)
            available = buffer_start + buffer.shape[1]
            frames_total = max(1, math.ceil(available / frame)) if ended else None
            end = start + window
            if frames_total is not None:
                end = min(end, frames_total * frame)
            lo, hi = start - context, end + context
            segment = np.zeros((channels, hi - lo), dtype=np.float32)
            a, b = max(lo, buffer_start), min(hi, available)
            if b > a:
                segment[:, a - lo: b - lo] = buffer[:, a - buffer_start: b - buffer_start]
            yield self._codes(segment, total, context // frame, (end - start) // frame)
            if frames_total is not None and end >= frames_total * frame:
                return
            start += step
            keep = max(0, start - context - buffer_start)
            buffer, buffer_start = buffer[:, keep:], buffer_start + keep

    @torch.inference_mode()
    def _codes(self, segment: np.ndarray, total: int, skip: int, frames: int) -> np.ndarray:
        signals = segment if segment.shape[0] == 1 else np.stack([segment.mean(0), (segment[0] - segment[1]) / 2])
        x = torch.from_numpy(np.ascontiguousarray(signals, dtype=np.float32))
        with codec_threads():
            codes = self.model.encode_codes(x, total)  # (channels, total, frames + 2 * context)
        return codes[:, :, skip: skip + frames].numpy()

    def _streams(self, codes: list[np.ndarray], mid_k: int, side_k: int, kf: int
                 ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Each window's (symbols, bank rows) in decoding order, for the codebooks a file codes."""
        for window in codes:
            channels, n_codebooks, frames = window.shape
            yield _window_symbols(window, _coded_masks(channels, n_codebooks, frames, mid_k, side_k, kf),
                                  self.context_rows)

    def _chunks(self, codes: list[np.ndarray], mid_k: int, side_k: int, kf: int) -> tuple[dict[str, bytes], float]:
        chunks, bits = {}, 0.0
        for index, (symbols, ids) in enumerate(self._streams(codes, mid_k, side_k, kf)):
            chunks[window_tag(index)] = encode_steps(symbols, ids, self.bank)
            bits += steps_information_bits(symbols, ids, self.bank)
        return chunks, bits

    def _information_bits(self, codes: list[np.ndarray], mid_k: int, side_k: int, kf: int) -> float:
        """What :meth:`_chunks` would estimate, without coding: the tables' information content."""
        return sum(steps_information_bits(symbols, ids, self.bank)
                   for symbols, ids in self._streams(codes, mid_k, side_k, kf))

    # ----------------------------------------------------------------------------------- decode
    def decode(self, payload: Payload) -> AudioData:
        """Decode a whole payload into memory (see :meth:`decode_blocks` for constant memory)."""
        meta = self.check_metadata(payload.metadata)
        pieces = list(self.decode_blocks(payload.chunks, meta))
        samples = np.concatenate(pieces, axis=1) if pieces else np.zeros((meta["channels"], 0), np.float32)
        return AudioData(samples, meta["sample_rate"], None)

    def check_metadata(self, meta: dict[str, Any]) -> dict[str, int]:
        out = {
            "sample_rate": _meta_int(meta, "sample_rate", MIN_SAMPLE_RATE, MAX_SAMPLE_RATE),
            "channels": _meta_int(meta, "channels", 1, MAX_CHANNELS),
            "k": _meta_int(meta, "k", 0, self.config.n_codebooks),
            "ks": _meta_int(meta, "ks", 0, self.config.n_codebooks),
            "kf": _meta_int(meta, "kf", 0, PARTIAL_STEPS - 1),
        }
        out["samples"] = _meta_int(meta, "samples", 1, MAX_AUDIO_SECONDS * out["sample_rate"])
        # files written before the group-delay phase existed carry no "phase" and keep decoding as then
        out["phase"] = _meta_int(meta, "phase", PHASE_METHODS[0], PHASE_METHODS[-1]) if "phase" in meta \
            else PHASE_PEAK_LOCKED
        if out["k"] + out["ks"] < 1 or (out["channels"] == 1 and out["ks"]) or \
                (out["kf"] and out["k"] + out["ks"] >= self.config.n_codebooks):
            raise FormatError("metadata: inconsistent codebook counts")
        return out

    def window_count(self, meta: dict[str, int]) -> int:
        return len(Windows(self.frames_for(meta)))

    def window_start_seconds(self, index: int) -> float:
        return index * (WINDOW_FRAMES - OVERLAP_FRAMES) / self.config.frame_rate

    def frames_for(self, meta: dict[str, int]) -> int:
        n16 = round(meta["samples"] * self.config.sample_rate / meta["sample_rate"])
        return max(1, math.ceil(n16 / self.config.samples_per_frame))

    def decode_blocks(self, chunks: dict[str, bytes], meta: dict[str, int],
                      first_window: int = 0) -> Iterator[np.ndarray]:
        """Yield the decoded signal at its original rate and channel count, window by window.

        ``first_window`` starts decoding there (seeking): the output then begins at that window's
        first sample, :meth:`window_start_seconds` later, without the cross-fade into it.
        """
        frame = self.config.samples_per_frame
        windows = Windows(self.frames_for(meta))
        for index in range(len(windows)):
            if window_tag(index) not in chunks:
                raise FormatError(f"missing chunk '{window_tag(index)}'")
        if window_tag(len(windows)) in chunks:
            raise FormatError("more window chunks than the audio's length needs")
        resampler: ExactStreamResampler | None = None  # designed once a window has decoded
        fade = OVERLAP_FRAMES * frame
        ramp = cross_fade_ramp(fade)
        tail: np.ndarray | None = None
        seeds: list[np.ndarray | None] = [None, None]  # phase carried into the next window, per signal
        if not 0 <= first_window < len(windows):
            raise UsageError(f"window {first_window} does not exist (the file has {len(windows)})")
        skipped = round(windows.span(first_window)[0] * frame * meta["sample_rate"] / self.config.sample_rate)
        remaining = meta["samples"] - skipped
        for index in range(first_window, len(windows)):
            lo, hi = windows.span(index)
            audio, seeds = self._decode_window(chunks[window_tag(index)], meta, hi - lo, seeds)
            if tail is not None:
                audio[:, :fade] = tail * (1 - ramp) + audio[:, :fade] * ramp
            last = index == len(windows) - 1
            ready, tail = (audio, None) if last else (audio[:, : -fade], audio[:, -fade:])
            if resampler is None:  # a damaged stream is refused before any filter is designed
                resampler = ExactStreamResampler(meta["channels"], self.config.sample_rate, meta["sample_rate"])
            out = resampler.push(ready)
            if last:
                out = np.concatenate([out, resampler.finish()], axis=1)
                if out.shape[1] < remaining:
                    out = np.concatenate([out, np.zeros((out.shape[0], remaining - out.shape[1]), np.float32)], 1)
            out = out[:, :remaining]
            remaining -= out.shape[1]
            yield np.clip(out, -1.0, 1.0)

    @torch.inference_mode()
    def _decode_window(self, data: bytes, meta: dict[str, int], frames: int,
                       seeds: list[np.ndarray | None]) -> tuple[np.ndarray, list[np.ndarray | None]]:
        """Samples (channels, frames * samples_per_frame) of one window, and the phases to carry on.

        ``seeds`` holds, per coded signal (mid or mono, side), the phase of the STFT frame just
        before this window's first one, taken from the previous window, so the overlap that the
        two windows share is synthesised with matching phase and cross-fades without a seam.
        """
        channels, mid_k, side_k, kf = meta["channels"], meta["k"], meta["ks"], meta["kf"]
        # Decode into the same layout the encoder wrote from: every codebook, zero where not coded.
        masks = _coded_masks(channels, self.config.n_codebooks, frames, mid_k, side_k, kf)
        codes = _decode_window_codes(data, masks, self.context_rows, self.bank)
        length = frames * self.config.samples_per_frame
        signals, next_seeds = [], []
        for c in range(channels):
            wave, phase = self._synth(codes[c], masks[c], length, seeds[c], meta["phase"])
            signals.append(wave)
            carry = (WINDOW_FRAMES - OVERLAP_FRAMES) * self.config.latent_stride - 1  # frame before the next window
            next_seeds.append(phase[:, carry] if phase is not None and carry < phase.shape[1] else None)
        if channels == 1:
            return signals[0][None], next_seeds
        mid, side = signals
        return np.stack([mid + side, mid - side]), next_seeds

    def _synth(self, codes: np.ndarray, mask: np.ndarray, length: int, seed: np.ndarray | None,
               phase_method: int) -> tuple[np.ndarray, np.ndarray | None]:
        used = int(mask.any(axis=1).sum())
        if used == 0:
            return np.zeros(length, dtype=np.float32), None
        with codec_threads():
            log_mag = self.decoder.log_magnitude(torch.from_numpy(codes[:used].astype(np.int64)),
                                                 torch.from_numpy(mask[:used]))
        return synthesize(log_mag.numpy(), self.config.n_fft, self.config.hop, length, seed, phase_method)


def largest_fitting(fits: Callable[[int], bool], guess: int, limit: int) -> int:
    """The largest ``k`` in ``[0, limit)`` with ``fits(k)``, given that 0 fits and ``limit`` does not.

    Sizes grow with ``k``, so the answer is where ``fits`` turns false. The probes start at
    ``guess`` and widen by 1, 2, 4, ... away from it until they bracket that point, then bisect:
    two calls when the guess is right, about ``2 log2(error)`` more when it is not, and never more
    than twice a plain bisection's.
    """
    lo, hi = 0, limit  # fits(lo) holds, fits(hi) does not
    probe = min(max(guess, 0), limit - 1)
    step = 1
    if probe > lo and not fits(probe):
        hi = probe
        while hi - step > lo:
            if fits(hi - step):
                lo = hi - step
                break
            hi, step = hi - step, step * 2
    else:
        lo = probe
        while lo + step < hi:
            if not fits(lo + step):
                hi = lo + step
                break
            lo, step = lo + step, step * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def cross_fade_ramp(fade: int) -> np.ndarray:
    """Raised-cosine ramp of ``fade`` samples, ``0.5 - 0.5 cos(pi (i + 0.5) / fade)``, from exactmath's cos."""
    cos, _ = exactmath.cos_sin_of_turns(2 * np.arange(fade) + 1, 4 * fade)
    return (0.5 - 0.5 * cos).astype(np.float32)


def partial_frames(frames: int, kf: int) -> np.ndarray:
    """Which of ``frames`` frames carry a partly coded codebook: ``kf`` in 256, evenly spread."""
    return (np.arange(frames) * kf) % PARTIAL_STEPS < kf


def _coded_masks(channels: int, n_codebooks: int, frames: int, mid_k: int, side_k: int, kf: int) -> np.ndarray:
    """Boolean (channels, codebooks, frames): which codes a window holds."""
    masks = np.zeros((channels, n_codebooks, frames), dtype=bool)
    masks[0, :mid_k] = True
    if kf and mid_k < n_codebooks:
        masks[0, mid_k] = partial_frames(frames, kf)
    if channels == 2:
        masks[1, :side_k] = True
    return masks


def _window_symbols(codes: np.ndarray, masks: np.ndarray, context_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A window's codes (channels, codebooks, frames) as (symbols, bank rows) in decoding order.

    Decoding order is frame by frame, and inside a frame channel then codebook, over the coded
    ``masks``. A (channel, codebook) row's first coded frame is coded under bank row k (the
    codebook's unigram); every later one under ``context_rows[k, p]``, p being the code of that
    row's previous coded frame, which the decoder has decoded by then.
    """
    _, n_codebooks, frames = codes.shape
    positions = np.where(masks, np.arange(frames), -1)
    last = np.maximum.accumulate(positions, axis=2)  # latest coded frame up to and including f
    previous = np.full_like(last, -1)
    previous[:, :, 1:] = last[:, :, :-1]
    prev_codes = np.take_along_axis(codes, np.maximum(previous, 0), axis=2).astype(np.int64)
    codebook = np.arange(n_codebooks)[None, :, None]
    rows = np.where(previous < 0, codebook, context_rows[codebook, prev_codes])
    order = masks.transpose(2, 0, 1)
    return codes.transpose(2, 0, 1)[order].astype(np.int64), rows.transpose(2, 0, 1)[order]


def _decode_window_codes(data: bytes, masks: np.ndarray, context_rows: np.ndarray, bank: TableBank) -> np.ndarray:
    """Inverse of :func:`_window_symbols` followed by coding: codes (channels, codebooks, frames),
    zero where not coded. Decodes one frame per step, its bank rows from the frame before."""
    channels, n_codebooks, frames = masks.shape
    slots_of = [np.flatnonzero(masks[:, :, f].reshape(-1)) for f in range(frames)]
    codebook_of = np.tile(np.arange(n_codebooks), channels)
    last = np.full(channels * n_codebooks, -1, dtype=np.int64)  # code of each slot's previous coded frame

    def step_rows(step: int, previous: np.ndarray) -> np.ndarray:
        if step:
            last[slots_of[step - 1]] = previous
        slots = slots_of[step]
        before = last[slots]
        k = codebook_of[slots]
        return np.where(before < 0, k, context_rows[k, np.maximum(before, 0)])

    decoded = decode_steps(data, frames, step_rows, bank)
    codes = np.zeros((frames, channels * n_codebooks), dtype=np.int32)
    for f, values in enumerate(decoded):
        codes[f, slots_of[f]] = values
    return codes.T.reshape(channels, n_codebooks, frames)


class _ModelRateStream:
    """Blocks of any rate and channel count resampled to the model rate, pulled one at a time."""

    def __init__(self, blocks: Iterable[np.ndarray], sample_rate: int, channels: int, rate: int) -> None:
        self._blocks = iter(blocks)
        self._resampler = StreamResampler(channels, sample_rate, rate)
        self._ratio = rate / sample_rate
        self.channels = channels
        self.input_samples = 0
        self.produced = 0
        self._done = False

    @property
    def total(self) -> int:
        """Exact length at the model rate (valid once the stream has ended)."""
        return round(self.input_samples * self._ratio)

    def next_block(self) -> np.ndarray | None:
        if self._done:
            return None
        for block in self._blocks:
            arr = np.asarray(block, dtype=np.float32)
            if arr.ndim != 2 or arr.shape[0] != self.channels:
                raise InputError(f"expected ({self.channels}, n) samples, got {arr.shape}")
            self.input_samples += arr.shape[1]
            out = self._resampler.push(np.clip(np.nan_to_num(arr), -1.0, 1.0))
            if out.shape[1]:
                self.produced += out.shape[1]
                return out
        self._done = True
        out = self._resampler.finish()
        short = self.total - (self.produced + out.shape[1])
        if short > 0:
            out = np.concatenate([out, np.zeros((self.channels, short), np.float32)], axis=1)
        self.produced += out.shape[1]
        return out


def _meta_int(meta: dict[str, Any], key: str, lo: int, hi: int) -> int:
    value = meta.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise FormatError(f"metadata '{key}' missing or out of range")
    return value
