"""glibc's allocator set up for one short segmentation process.

By default glibc hands every large array (over an adaptive threshold, from 128 KiB) its own fresh pages from the
kernel and returns them when the array is freed, so each slice's arrays page-fault anew. Keeping freed memory in
the process's heap instead made `crossmr segment` on a 234-slice study 7-13 % faster (two comparisons of 5
interleaved runs: 5.84 -> 5.41 s and 6.91 -> 6.03 s median) for about 0.1 GB more peak memory
(docs/experiments.md). Only `crossmr segment` started as a process does this (the Slicer module starts it so):
the heap is given back when the process ends.
"""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
KEEP_BYTES = 1 << 30


def keep_freed_memory() -> bool:
    """Ask glibc to serve arrays up to 1 GiB from the heap and keep freed memory there; True if it took both
    settings (False on other platforms and C libraries, where nothing changes)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, KEEP_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD, KEEP_BYTES))
