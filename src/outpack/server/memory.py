"""Keeping a long-running worker's resident memory flat.

Rebuilding a list body or the catalog snapshot of a large root allocates tens
of megabytes for a moment. glibc's malloc raises its mmap threshold after such
blocks are freed, so later ones come from the heap, which it rarely gives back:
resident memory then settles far above what the worker holds. A fixed
threshold keeps large blocks in mmap, returned to the system when freed.

The catalog is loaded and refreshed in a thread (off the event loop). glibc
gives each thread that allocates its own arena, whose freed memory it keeps
far more readily: loading a 100,000-packet root in a thread left the worker
at 520 MB against 136 MB with one arena. One arena for the whole process
costs nothing here, since only one thread does heavy allocation at a time.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

logger = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MMAP_THRESHOLD = 128 * 1024
TRIM_THRESHOLD = 8 * 1024 * 1024


def release_large_blocks_to_the_system() -> bool:
    """Fix glibc's mmap and trim thresholds and use one arena; False where that is not glibc."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    done = (
        bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
        and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
        and bool(mallopt(M_ARENA_MAX, 1))
    )
    if not done:
        logger.debug("mallopt refused the thresholds; memory may settle higher")
    return done
