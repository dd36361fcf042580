"""Keep glibc from returning large blocks to the OS after every training step.

A 3D-CNN step allocates and frees hundreds of MB of activations; with glibc's defaults (blocks above
``M_MMAP_THRESHOLD`` unmapped on ``free``, the heap top trimmed) every step page-faults the same memory
back in. Disabling ``mmap`` and trimming keeps the pages mapped for reuse, as
``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=-1`` would. Trimming is disabled outright, not capped: a
capped threshold still re-faults the activations of large models. The process keeps its peak heap,
which the next step needs anyway. Elsewhere than glibc this is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1  # from glibc's malloc.h
M_MMAP_MAX = -4
NO_TRIM = -1  # mallopt(3): a trim threshold of -1 disables trimming completely

_applied: bool | None = None


def tune_allocator() -> bool:
    """Apply the glibc settings once per process; returns whether they are in effect."""
    global _applied
    if _applied is None:
        _applied = _apply()
    return _applied


def _apply() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other libcs have no mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success; both must hold or the page faults come back.
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, NO_TRIM))
