"""What keeping freed memory (innr_bench/engine/memory.py) does to a CPU training step of the seed
CNN (c=32, batch 512, Adam, channels-last as the engine trains), against glibc's allocator
defaults: ms a step, minor page faults a step, and the weights' hash after the timed steps (the
same in both, or the setting would move numbers). Each setting runs in a process of its own
(the setting is process-wide), in turn, `--repeat` rounds; medians.

    python benchmarks/allocator_step.py [--steps 20] [--repeat 3] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from typing import Any

import torch
from bench_helpers import emit

from innr_bench.engine.env import environment
from innr_bench.engine.memory import ENV_SWITCH

CHILD = """
import hashlib, json, resource, sys, time, torch
from torch import nn
from innr_bench.engine import memory
from innr_bench.models.placement import place_batch, place_model
from innr_bench.models.seed_cnn import seed_cnn
steps, applied = int(sys.argv[1]), memory.keep_freed_memory("cpu")
torch.manual_seed(0)
net = place_model(seed_cnn(c=32), torch.device("cpu")).train()
optimizer = torch.optim.Adam(net.parameters(), lr=5e-4)
g = torch.Generator().manual_seed(1)
x_all = place_batch(torch.rand(4096, 1, 28, 28, generator=g), torch.device("cpu"))
y_all = torch.randint(0, 10, (4096,), generator=g)
def step(i):
    index = torch.arange(512) + (i % 8) * 512
    loss = nn.functional.cross_entropy(net(x_all[index]), y_all[index])
    optimizer.zero_grad(set_to_none=True); loss.backward(); optimizer.step()
for i in range(4):  # warm-up: the kept heap settles
    step(i)
faults, start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.perf_counter()
for i in range(steps):
    step(i)
seconds = time.perf_counter() - start
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
digest = hashlib.sha256(b"".join(p.detach().contiguous().numpy().tobytes() for p in net.parameters()))
print(json.dumps({"applied": applied, "ms_per_step": 1000 * seconds / steps,
                  "faults_per_step": faults / steps, "weights_sha256": digest.hexdigest()}))
"""


def child(steps: int, keep: bool) -> dict[str, Any]:
    env = {**os.environ, ENV_SWITCH: "1" if keep else "0"}
    done = subprocess.run([sys.executable, "-c", CHILD, str(steps)], env=env, stdout=subprocess.PIPE,
                          text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out")
    args = parser.parse_args()
    env = environment(torch.device("cpu"))
    runs: dict[str, list[dict[str, Any]]] = {"defaults": [], "kept": []}
    for _ in range(args.repeat):
        for setting in runs:
            runs[setting].append(child(args.steps, setting == "kept"))
    summary = {setting: {"applied": [r["applied"] for r in rs],
                         "ms_per_step": round(statistics.median(r["ms_per_step"] for r in rs), 1),
                         "ms_per_step_runs": [round(r["ms_per_step"], 1) for r in rs],
                         "faults_per_step": round(statistics.median(r["faults_per_step"] for r in rs)),
                         "weights_sha256": sorted({r["weights_sha256"] for r in rs})}
               for setting, rs in runs.items()}
    out = {"environment": {k: env.get(k) for k in ("device_name", "cpu_count", "git_commit", "packages")},
           "threads": torch.get_num_threads(), "steps": args.steps, "repeat": args.repeat, **summary,
           "speedup": round(summary["defaults"]["ms_per_step"] / summary["kept"]["ms_per_step"], 2),
           "same_weights": summary["defaults"]["weights_sha256"] == summary["kept"]["weights_sha256"]}
    emit(out, args.out)


if __name__ == "__main__":
    main()
