"""The fitting loops' heap setting: large blocks stay in the heap inside the block, not outside.

Each check runs in a fresh interpreter: glibc serves a large request from any free heap block big
enough before it maps new pages, so what earlier tests left in the heap would decide the outcome.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import subprocess
import sys
import textwrap

import pytest

_PRELUDE = textwrap.dedent('''
    import ctypes, ctypes.util
    import torch
    from ncodec import heap

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in
                    ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                     "uordblks", "fordblks", "keepcost")]

    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    libc.mallinfo2.restype = MallInfo2

    def mapped_bytes():
        """Bytes glibc holds in separately mmapped blocks."""
        return int(libc.mallinfo2().hblkhd)

    def resident_bytes():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096
''')


def _has_mallinfo2() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        return hasattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), "mallinfo2")
    except OSError:
        return False


def _run(body: str) -> None:
    done = subprocess.run([sys.executable, "-c", _PRELUDE + textwrap.dedent(body)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


needs_glibc = pytest.mark.skipif(not _has_mallinfo2(), reason="needs glibc 2.33 or later (mallinfo2)")


@needs_glibc
def test_large_blocks_come_from_the_heap_only_inside_the_block() -> None:
    _run('''
        size = 48 << 20  # above glibc's largest mmap threshold (32 MiB): always mmapped by default
        before = mapped_bytes()
        outside = torch.empty(size, dtype=torch.uint8)
        assert mapped_bytes() - before >= size, "mmapped before the block"
        del outside
        with heap.retained_heap():
            with heap.retained_heap():  # nesting keeps the setting until the outer block ends
                pass
            before = mapped_bytes()
            inside = torch.empty(size, dtype=torch.uint8)
            assert mapped_bytes() - before < size, "from the heap inside the block"
            del inside
        before = mapped_bytes()
        again = torch.empty(2 * size, dtype=torch.uint8)  # larger than any free heap block
        assert mapped_bytes() - before >= 2 * size, "glibc's behaviour restored"
    ''')


@needs_glibc
def test_blocks_below_32_mib_come_from_the_heap_after_the_block() -> None:
    """As in a process that never set anything: glibc's dynamic threshold, which any mallopt call
    turns off, has by then risen to its ceiling. A threshold left at 128 KiB mapped and zero-filled
    every activation of the audio decoder afresh (its 4-second decode: 73 -> 107 ms)."""
    _run('''
        with heap.retained_heap():
            pass  # nothing freed inside: no free heap block could serve what follows
        size = 8 << 20
        before = mapped_bytes()
        medium = torch.empty(size, dtype=torch.uint8)
        assert mapped_bytes() - before < size, "mapped: the threshold stayed low"
    ''')


@needs_glibc
def test_pages_kept_inside_the_block_go_back_to_the_kernel_after_it() -> None:
    _run('''
        size = 256 << 20
        with heap.retained_heap():
            base = resident_bytes()
            block = torch.ones(size, dtype=torch.uint8)  # touched: resident
            del block
            kept = resident_bytes() - base
            assert kept >= size // 2, f"kept inside the block: {kept}"
        returned = resident_bytes() - base
        assert returned < size // 4, f"still resident after the block: {returned}"
    ''')
