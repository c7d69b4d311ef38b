"""engine/memory.py: freed blocks are reused instead of being faulted in anew."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                                reason="the allocator setting is glibc's")

# Steps of three 40 MB blocks (over glibc's 32 MiB mmap ceiling, like the seed CNN's first
# activation at batch 512), each filled, all freed at the step's end; the page faults per step.
# Kept memory settles after a few steps (a freed block serves a later, aligned request once it
# has merged with its neighbours), so the last steps are the ones that count.
PROBE = """
import json, resource, torch
from innr_bench.engine.memory import keep_freed_memory
applied, faults = keep_freed_memory(), []
for _ in range(8):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    a = torch.empty(10_000_000).fill_(1.0); b = torch.empty(10_000_000).fill_(2.0); c = a + b
    del a, b, c
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps({"applied": applied, "faults": faults}))
"""
PAGES = 40_000_000 // 4096


def probe(switch: str | None) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != "INNR_BENCH_KEEP_FREED_MEMORY"}
    if switch is not None:
        env["INNR_BENCH_KEEP_FREED_MEMORY"] = switch
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_freed_block_is_reused_without_page_faults() -> None:
    kept = probe(None)
    assert kept["applied"] is True
    assert sum(kept["faults"][-3:]) < PAGES // 10  # the same pages again, not 3 x 9,766 new ones


def test_the_switch_leaves_the_allocator_alone() -> None:
    default = probe("0")
    assert default["applied"] is False
    # glibc maps every block afresh: each step faults all three blocks' pages in
    assert min(default["faults"][-3:]) > 2 * PAGES
