"""The fitting loops' heap setting: large blocks stay in the heap inside the block, not outside."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

import pytest
import torch

from ncodec import heap


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                 "fordblks", "keepcost")]


def _mapped_bytes() -> int:
    """Bytes glibc currently holds in separately mmapped blocks (``mallinfo2().hblkhd``)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    libc.mallinfo2.restype = _MallInfo2
    return int(libc.mallinfo2().hblkhd)


def _has_mallinfo2() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        return hasattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), "mallinfo2")
    except OSError:
        return False


@pytest.mark.skipif(not _has_mallinfo2(), reason="needs glibc 2.33 or later (mallinfo2)")
def test_large_blocks_come_from_the_heap_only_inside_the_block() -> None:
    size = 48 << 20  # above glibc's largest mmap threshold (32 MiB): always mmapped by default
    before = _mapped_bytes()
    outside = torch.empty(size, dtype=torch.uint8)
    assert _mapped_bytes() - before >= size
    del outside
    with heap.retained_heap():
        with heap.retained_heap():  # nesting keeps the setting until the outer block ends
            pass
        before = _mapped_bytes()
        inside = torch.empty(size, dtype=torch.uint8)
        assert _mapped_bytes() - before < size
        del inside
    before = _mapped_bytes()
    again = torch.empty(size, dtype=torch.uint8)
    assert _mapped_bytes() - before >= size  # glibc's behaviour restored
    del again
