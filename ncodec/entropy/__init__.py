"""Entropy coding shared by every ncodec codec: exact integer models over constriction's ANS coder.

Three front ends reduce to one engine (``_core``): integer symbols, each coded under one of a list
of integer frequency tables.

* :mod:`.gaussian` -- zero-mean quantized Gaussians selected by an integer scale index (the
  image codec's y latents).
* :mod:`.table` -- explicit :class:`FrequencyTable` s (factorized hyper-priors, audio code priors).
* :mod:`.stepwise` -- the same integer tables chosen per symbol from symbols decoded before it
  (context models: the audio codec's code given the previous frame's code).
* :mod:`.parametric` -- quantized network weights under a fitted Laplace or Gaussian whose
  family and float32 scale travel in a small header (the video codec).

Why ANS (constriction's ``stack.AnsCoder``) rather than range coding: a codec always has the whole
array of symbols before it writes anything, so ANS's last-in-first-out order costs nothing (the
encoder simply pushes in reverse), and in exchange decoding is simpler and faster, and the
coder's rounding overhead is negligible (measured 0.002 % over the ideal on 1 M symbols). Range
coding would only pay off for streaming or for seeking backwards, neither of which we need.

Why integer tables: the coder must never see a float that encoder and decoder could compute
differently, or one last-bit difference desynchronises the rest of the stream. Every model is an
integer table summing to ``2**PRECISION`` (24 bits, constriction's default ANS precision) with every
entry >= 1, handed to constriction so that its fixed-point model is exactly those integers.

Out-of-range values: every table ends with an *escape* entry; an escaped value follows in the same
stream as side + Elias-gamma style distance past the table's range, so every int32 is codable and
nothing is silently clipped.

Stream format: the ANS words, serialised as little-endian uint32. The bottom of the stack holds a
16-bit check value, and the decoder insists on it and on consuming every word, so empty, truncated
or random data raise :class:`~ncodec.errors.FormatError` with high probability (ANS cannot detect
all corruption -- the container's CRCs do; a decoder never crashes or hangs). Zero symbols encode to
zero bytes. :data:`CODER_ID` names this whole format (coder, precision, escape scheme, table rules)
for the container to record; it changes whenever a byte of any stream would.
"""

from __future__ import annotations

from ._core import PRECISION, TOTAL, quantize_pmf
from .gaussian import (
    NUM_SCALES,
    SCALE_TABLE,
    decode_gaussian,
    encode_gaussian,
    gaussian_information_bits,
    scale_to_index,
    table_digest,
)
from .parametric import decode_weights, encode_weights, weights_information_bits
from .stepwise import TableBank, decode_steps, encode_steps, steps_information_bits
from .table import FrequencyTable, decode_tables, encode_tables, table_information_bits

CODER_VERSION = 1
"""Integer version of the entropy-coding format; bump on any change that alters coded bytes."""

CODER_ID = f"ans32-p{PRECISION}-esc-v{CODER_VERSION}"
"""Identifier of the entropy-coding format, recorded by the container."""

__all__ = [
    "CODER_ID",
    "CODER_VERSION",
    "NUM_SCALES",
    "PRECISION",
    "SCALE_TABLE",
    "TOTAL",
    "FrequencyTable",
    "TableBank",
    "decode_gaussian",
    "decode_steps",
    "decode_tables",
    "decode_weights",
    "encode_gaussian",
    "encode_steps",
    "encode_tables",
    "encode_weights",
    "gaussian_information_bits",
    "quantize_pmf",
    "scale_to_index",
    "steps_information_bits",
    "table_digest",
    "table_information_bits",
    "weights_information_bits",
]
