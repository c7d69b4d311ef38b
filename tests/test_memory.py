"""engine/memory.py: freed blocks are reused instead of being faulted in anew, and only where
the allocator is glibc's and nobody asked otherwise; the numbers stay bit for bit the same."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from innr_bench.engine.memory import ENV_SWITCH, USER_SETTINGS, is_glibc

pytestmark = pytest.mark.skipif(not is_glibc(), reason="the allocator setting is glibc's")

# Steps of three 40 MB blocks (over glibc's 32 MiB mmap ceiling, like the seed CNN's first
# activation at batch 512), each filled, all freed at the step's end; the page faults per step
# and the page size. Kept memory settles after a few steps (a freed block serves a later,
# aligned request once it has merged with its neighbours), so the last steps are the ones that
# count; `release` hands the memory back before the last step.
PROBE = """
import json, resource, sys, torch
from innr_bench.engine import memory
applied, faults = memory.keep_freed_memory("cpu"), []
for step in range(12):
    if step == 11 and "release" in sys.argv:
        memory.release_freed_memory()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    a = torch.empty(10_000_000).fill_(1.0); b = torch.empty(10_000_000).fill_(2.0); c = a + b
    del a, b, c
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps({"applied": applied, "faults": faults, "page": resource.getpagesize()}))
"""

# Eight Adam steps of the seed CNN at batch 512 on fixed random images: the weights' bytes.
TRAIN = """
import hashlib, torch
from torch import nn
from innr_bench.engine import memory
from innr_bench.models.placement import place_batch, place_model
from innr_bench.models.seed_cnn import seed_cnn
applied = memory.keep_freed_memory("cpu")
torch.manual_seed(0)
net = place_model(seed_cnn(c=32), torch.device("cpu")).train()
optimizer = torch.optim.Adam(net.parameters(), lr=5e-4)
g = torch.Generator().manual_seed(1)
x = place_batch(torch.rand(512, 1, 28, 28, generator=g), torch.device("cpu"))
y = torch.randint(0, 10, (512,), generator=g)
for _ in range(8):
    loss = nn.functional.cross_entropy(net(x), y)
    optimizer.zero_grad(set_to_none=True); loss.backward(); optimizer.step()
digest = hashlib.sha256(b"".join(p.detach().contiguous().numpy().tobytes() for p in net.parameters()))
print(applied, digest.hexdigest())
"""


_THP = Path("/sys/kernel/mm/transparent_hugepage/enabled")
# counting a fresh block's faults in 4 KiB pages: not where huge pages are always on (2 MiB faults)
FRESH_PAGES = pytest.mark.skipif("[always]" in (_THP.read_text() if _THP.exists() else ""),
                                 reason="transparent huge pages always on: a block faults in 2 MiB pages")


def run(code: str, switch: str | None, *args: str, **extra_env: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in (ENV_SWITCH, *USER_SETTINGS)}
    env.update(extra_env)
    if switch is not None:
        env[ENV_SWITCH] = switch
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def probe(switch: str | None, *args: str, **extra_env: str) -> dict[str, object]:
    return json.loads(run(PROBE, switch, *args, **extra_env))


def block_pages(answer: dict[str, object]) -> int:
    return 40_000_000 // int(answer["page"])  # type: ignore[call-overload]


def test_a_freed_block_is_reused_without_page_faults() -> None:
    kept = probe(None)
    assert kept["applied"] is True
    # the same pages again, not three blocks' worth of new ones a step
    assert min(kept["faults"][-4:-1]) < block_pages(kept) // 10  # type: ignore[index]


@FRESH_PAGES
@pytest.mark.parametrize("why", ["switch", "user-settings"])
def test_the_allocator_is_left_alone_when_asked(why: str) -> None:
    default = probe("off") if why == "switch" else probe(None, MALLOC_ARENA_MAX="4")
    assert default["applied"] is False
    # glibc maps every block afresh: each step faults all three blocks' pages in
    assert min(default["faults"][-3:]) > 2 * block_pages(default)  # type: ignore[index]


@FRESH_PAGES
def test_release_hands_the_memory_back() -> None:
    released = probe(None, "release")
    assert released["faults"][-1] > 2 * block_pages(released)  # type: ignore[index]


def test_training_gives_the_same_weights_either_way() -> None:
    kept, default = run(TRAIN, None), run(TRAIN, "0")
    assert kept.split()[0] == "True" and default.split()[0] == "False"
    assert kept.split()[1] == default.split()[1]
