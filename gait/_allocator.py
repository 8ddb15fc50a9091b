"""Keep the memory of large arrays in the process between stages (glibc only).

The analysis allocates and frees arrays of a few MB to a few tens of MB per stage (an hour at
200 Hz is 0.73 M samples: 5.8 MB per float64 channel). glibc's ``malloc`` serves blocks above
its *mmap threshold* with fresh pages from the kernel and returns them on ``free``, so every
stage pays the page faults of zero-filled memory again; the threshold rises by itself only
after the first frees, which is why a first analysis in a process ran about 0.2 s (25 %)
slower than the next. Raising the threshold (and the trim threshold with it, so that freed
memory is kept for the next block rather than returned at once) to glibc's maximum, 32 MB on
64-bit systems, lets the freed blocks be reused from the start. Nothing computed changes; the
process's peak memory is the same (the blocks are reused, not added).

The command line calls `tune_allocator` once at start. The library never does so on import:
a process that embeds ``gait`` keeps its own allocator settings unless it asks.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["tune_allocator"]

#: ``mallopt`` parameters (glibc ``malloc.h``)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: glibc's largest mmap threshold on 64-bit systems (``DEFAULT_MMAP_THRESHOLD_MAX``), bytes
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024
#: freed memory above this at the top of the heap is returned to the system, bytes
TRIM_THRESHOLD_BYTES = 4 * MMAP_THRESHOLD_BYTES


def tune_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds (see the module docstring).

    Returns True when both were set; False where there is no glibc (macOS, Windows, musl) or
    it refused, in which case nothing changed.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )
