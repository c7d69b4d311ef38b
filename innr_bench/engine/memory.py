"""Keep freed memory in the process instead of handing it back to the OS after every step.

glibc's malloc serves a block of 32 MiB or more (the seed CNN's first activation at batch 512 is
37.7 MB) with a fresh `mmap` and unmaps it on free, and trims the heap top back to the OS once
128 KiB are free there. Every training step then touches its activations' pages for the first
time: ~45,000 page faults a step for the seed CNN, which measured nearly half of its CPU step
time (164 -> 86 ms a step at 2 threads, side by side; the weights bit for bit the same, since
only where the memory comes from changes). Telling malloc never to map blocks of their own and to
trim only beyond `TRIM_THRESHOLD` lets later steps reuse the same pages (after a few steps,
once freed blocks have merged with their neighbours; tests/test_memory.py).

Process-wide and only on glibc; `INNR_BENCH_KEEP_FREED_MEMORY=0` leaves the allocator alone.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform

logger = logging.getLogger(__name__)

# mallopt parameters (glibc's malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
# Free memory kept at the heap top: room for a step's activations of the nets benchmarked here
# without holding on to an unbounded peak.
TRIM_THRESHOLD = 1 << 30
ENV_SWITCH = "INNR_BENCH_KEEP_FREED_MEMORY"

_applied: bool | None = None


def keep_freed_memory() -> bool:
    """Set glibc's malloc to reuse freed blocks (once per process); whether it applies here."""
    global _applied
    if _applied is None:
        _applied = _apply()
    return _applied


def _apply() -> bool:
    if os.environ.get(ENV_SWITCH, "1") == "0":
        logger.info("%s=0: the allocator keeps its defaults", ENV_SWITCH)
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False  # other allocators have their own policies; nothing to set
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    # mallopt returns 1 on success; both must hold, or the page faults stay
    done = libc.mallopt(_M_MMAP_MAX, 0) == 1 and libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    logger.debug("malloc set to keep freed memory: %s", done)
    return done
