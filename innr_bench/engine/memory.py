"""Keep freed memory in the process while a cell computes, instead of faulting it in every step.

glibc's malloc serves a block above its mmap threshold (128 KiB at first, rising with the blocks
freed, to at most 32 MiB) with a fresh `mmap` and unmaps it on free; the seed CNN's first
activation at batch 512 is 37.7 MB, above the ceiling. Every CPU training step then touched its
activations' pages for the first time: ~45,000 minor page faults a step, nearly half of the
seed CNN's step time at 2 threads (benchmarks/allocator_step.py measures both; the weights bit
for bit the same, since only where the memory comes from changes). With mmap off and trimming
only beyond `TRIM_THRESHOLD`, the blocks of later steps reuse the same pages (after a few
steps, once freed blocks have merged with their neighbours). This holds for the main thread's
heap, where the engine's CPU work allocates; other threads' heaps still map blocks above 64 MiB.

The setting is process-wide and stays for the life of the process, so `release_freed_memory`
(malloc_trim) hands the free memory back after every task: the faults return once a cell, not
once a step. `INNR_BENCH_KEEP_FREED_MEMORY=0` (or false/no/off) leaves the allocator alone, as do
a user's own malloc settings (GLIBC_TUNABLES, MALLOC_*_) and an allocator other than glibc's.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform

logger = logging.getLogger(__name__)

ENV_SWITCH = "INNR_BENCH_KEEP_FREED_MEMORY"
# mallopt parameters (glibc's malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
# Free memory kept at the heap top between steps: room for a step's activations of the nets
# benchmarked here; the rest goes back to the OS at once, and all of it after each task.
TRIM_THRESHOLD = 1 << 30
USER_SETTINGS = ("GLIBC_TUNABLES", "MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_",
                  "MALLOC_TOP_PAD_", "MALLOC_ARENA_MAX")
_OTHER_ALLOCATORS = ("jemalloc", "tcmalloc", "mimalloc")

_libc: ctypes.CDLL | None = None
_applied = False


def wanted() -> bool:
    """Whether this process's environment asks for freed memory to be kept (the default)."""
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in {"0", "false", "no", "off"}


def kept() -> bool:
    """Whether this process keeps freed memory now."""
    return _applied


def is_glibc() -> bool:
    """Whether this process allocates with glibc's malloc (Linux with glibc)."""
    return platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def applies() -> bool:
    """Whether `keep_freed_memory` sets the allocator for CPU work here: glibc's, and nothing
    asks otherwise (the switch, a user's own malloc settings, a preloaded allocator)."""
    return is_glibc() and _allocator_is_ours()


def keep_freed_memory(device_type: str) -> bool:
    """Set glibc's malloc to reuse freed blocks (once per process) for work on `device_type`
    (only the CPU's: a card's tensors are not the host heap's); whether it is in effect."""
    global _applied
    if not _applied and device_type == "cpu" and applies():
        libc = _glibc()
        if libc is not None:
            # both or the faults stay: mmap off alone trims the heap top back after each free
            mmap_off = libc.mallopt(_M_MMAP_MAX, 0) == 1
            trim_raised = libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
            _applied = mmap_off and trim_raised
            if not _applied:
                logger.warning("glibc's mallopt refused (mmap off: %s, trim threshold: %s); the "
                               "allocator keeps its defaults", mmap_off, trim_raised)
    return _applied


def release_freed_memory() -> None:
    """Hand the free memory of the heap back to the OS (after a task), if it is being kept."""
    if _applied and _libc is not None:
        _libc.malloc_trim(0)


def _allocator_is_ours() -> bool:
    """Nothing asks otherwise: the switch, a user's own malloc settings, another allocator."""
    if not wanted():
        return False
    if any(name in os.environ for name in USER_SETTINGS):
        logger.info("malloc settings of your own are set; innr-bench leaves the allocator alone")
        return False
    preloaded = os.environ.get("LD_PRELOAD", "")
    return not any(name in preloaded for name in _OTHER_ALLOCATORS)


def _glibc() -> ctypes.CDLL | None:
    global _libc
    if _libc is None and is_glibc():
        try:
            libc = ctypes.CDLL("libc.so.6")
        except OSError:
            return None
        libc.mallopt.argtypes, libc.mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
        libc.malloc_trim.argtypes, libc.malloc_trim.restype = (ctypes.c_size_t,), ctypes.c_int
        _libc = libc
    return _libc
