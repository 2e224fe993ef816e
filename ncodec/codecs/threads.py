"""A fixed torch thread count around the networks, so results do not depend on the caller's.

oneDNN and MKL split some float32 convolutions and matrix products differently with a different
number of threads, and the split changes the order of the additions: measured here, the audio
decoder's 7-tap convolution over 25 latent frames gave other last bits with 3 or 4 threads
than with 1 or 2, so one file decoded to different samples in two processes. Running every
network of the codecs at one fixed count makes the result a function of the input alone (on a
given instruction set), whatever ``torch.set_num_threads`` the calling program chose.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

#: Threads the codecs' networks run with: two, the most this project's reference machine has,
#: so the fixed count costs no speed there.
CODEC_THREADS = 2


@contextmanager
def codec_threads() -> Iterator[None]:
    """Run the enclosed torch work with :data:`CODEC_THREADS` threads, then restore the caller's."""
    previous = torch.get_num_threads()
    if previous == CODEC_THREADS:
        yield
        return
    torch.set_num_threads(CODEC_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
