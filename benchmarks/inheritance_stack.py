"""What one copy on the inheritance board costs, one net at a time (`eval.stack_copies: 1`, as
every published suite ran) against copies stacked (`stack_copies: 8`), and against the board as
the published suites computed it (`published`: aten's CPU pooling kernel in gradient-free passes
too, and glibc's allocator defaults, so every pass faults its activations' pages in anew; run in
a process of its own, since the allocator setting is process-wide), side by side in one run:
the attack cells of suites/fashion-mnist.yaml (FGSM with 7 eps on 1,000 inputs, PGD with 5 eps
and 10 steps on 500) for its three targets, each with the original, `--copies` copies (the
original with small weight noise) and nothing else, timed with 0 copies and with `--copies`;
the cost per copy is the difference over the count. Also reports how many counts differ
between the settings (floating-point summation order; the published setting must match the
one-at-a-time board exactly).

    python benchmarks/inheritance_stack.py [--copies 16] [--stack 8] [--repeat 3] [--device cuda]
        [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

import torch
from bench_helpers import noisy_copies

from innr_bench.attacks.fgsm import FGSM
from innr_bench.attacks.pgd import PGD
from innr_bench.engine import memory
from innr_bench.engine.env import environment
from innr_bench.engine.evaluate import attack_pairs
from innr_bench.engine.memory import ENV_SWITCH
from innr_bench.models.layers import MaxPool2d
from innr_bench.models.lenet import lenet5, lenet_300_100
from innr_bench.models.seed_cnn import seed_cnn
from innr_bench.progress import Progress

DEVICE = torch.device("cpu")  # --device sets it
TARGETS = {"seed-cnn": lambda: seed_cnn(c=32), "lenet5": lenet5, "lenet-300-100": lenet_300_100}
ATTACKS = {"fgsm": (FGSM(eps=[0.0, 0.02, 0.05, 0.0924, 0.15, 0.2, 0.3], clamp=True), 1000),
           "pgd": (PGD(eps=[0.0, 0.02, 0.05, 0.0924, 0.15], steps=10, random_start=True), 500)}


def board(build: Any, copies: int, aten_pooling: bool = False
          ) -> tuple[dict[str, torch.nn.Module], dict[str, list[str]]]:
    """The original and `copies` noisy copies; the original attacked onto all, each copy on itself.
    `aten_pooling`: every pooling layer is torch's own nn.MaxPool2d (the code before
    models.layers.MaxPool2d)."""
    torch.manual_seed(0)
    original = build().eval()
    if aten_pooling:
        original = torch.nn.Sequential(*[torch.nn.MaxPool2d(2, 2) if isinstance(m, MaxPool2d) else m
                                         for m in original])
    nets = noisy_copies(original, copies, 0.05)
    evaluated_on = {"original": list(nets), **{n: [n] for n in nets if n != "original"}}
    return nets, evaluated_on


def timed(nets: dict[str, torch.nn.Module], evaluated_on: dict[str, list[str]], attack: Any, limit: int,
          stack: int) -> tuple[float, list[dict[str, Any]]]:
    torch.manual_seed(1)
    x, y = torch.rand(limit, 1, 28, 28), torch.randint(0, 10, (limit,))
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    rows = attack_pairs(nets, evaluated_on, attack, x, y, batch_size=1000, device=DEVICE,
                        progress=Progress(enabled=False), stack=stack)
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, rows


Counts = dict[tuple[float, str, str], tuple[int, int]]


def measure(target: str, attack_name: str, copies: int, stack: int, aten: bool
            ) -> tuple[dict[str, float], Counts]:
    """One setting: the original alone (once untimed, to warm up), then timed, then the board;
    seconds and the board's counts."""
    attack, limit = ATTACKS[attack_name]
    nets, evaluated_on = board(TARGETS[target], copies, aten)
    alone, _ = board(TARGETS[target], 0, aten)
    timed(alone, {"original": ["original"]}, attack, limit, stack)
    base, _ = timed(alone, {"original": ["original"]}, attack, limit, stack)
    total, rows = timed(nets, evaluated_on, attack, limit, stack)
    seconds = {"seconds_original": round(base, 3), "seconds_board": round(total, 3),
               "seconds_per_copy": round((total - base) / copies, 4)}
    counts = {(r["eps"], r["source"], r["evaluated"]): (r["correct"], r["cond_transferred"]) for r in rows}
    return seconds, counts


def published(target: str, attack_name: str, copies: int) -> tuple[dict[str, float], Counts]:
    """The published setting, measured in a fresh process with the allocator's defaults."""
    command = [sys.executable, __file__, "--published-only", "--targets", target, "--attack", attack_name,
               "--copies", str(copies)]
    done = subprocess.run(command, env={**os.environ, ENV_SWITCH: "0"}, stdout=subprocess.PIPE, text=True,
                          check=True)  # its stderr goes straight through
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return answer["seconds"], {tuple(k): tuple(v) for k, v in answer["counts"]}


def median_of(runs: list[dict[str, float]]) -> dict[str, Any]:
    """The median of each timing over the repeats, and every repeat's seconds a copy."""
    return {**{k: round(statistics.median(r[k] for r in runs), 4) for k in runs[0]},
            "seconds_per_copy_runs": [r["seconds_per_copy"] for r in runs]}


def differing(a: Counts, b: Counts) -> int:
    return sum(a[k] != b.get(k) for k in a) + len(b.keys() - a.keys())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=16)
    parser.add_argument("--stack", type=int, default=8, help="1: leave the stacked setting out")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of every setting, in turn; medians")
    parser.add_argument("--targets", nargs="*", default=list(TARGETS))
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--out")
    parser.add_argument("--attack", choices=list(ATTACKS), help=argparse.SUPPRESS)
    parser.add_argument("--published-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    global DEVICE
    DEVICE = torch.device(args.device)
    if args.published_only:  # the child process of `published`
        seconds, counts = measure(args.targets[0], args.attack, args.copies, 1, True)
        print(json.dumps({"seconds": seconds, "counts": [[list(k), list(v)] for k, v in counts.items()]}))
        return
    memory.keep_freed_memory(DEVICE.type)  # as in a run's worker
    env = environment(DEVICE)  # read first: the code as it starts, not as it may be by the end
    fields = ("device_name", "cpu_count", "git_commit", "packages", "torch")
    out: dict[str, Any] = {"environment": {k: env.get(k) for k in fields}, "threads": torch.get_num_threads(),
                           "repeat": args.repeat, "results": []}
    stacked = f"stack_{args.stack}"
    settings = [("stack_1", 1), *([(stacked, args.stack)] if args.stack > 1 else [])]
    for target in args.targets:
        for name, (_, limit) in ATTACKS.items():
            row: dict[str, Any] = {"target": target, "attack": name, "inputs": limit, "copies": args.copies}
            timings: dict[str, list[dict[str, float]]] = {}
            counts: dict[str, Counts] = {}
            for _ in range(args.repeat):  # every setting once a round, so drifts hit them alike
                # the pooling layer and the allocator differ from the published code only on the
                # CPU: on a card the published setting would repeat the one-at-a-time board
                if DEVICE.type == "cpu":
                    seconds, counts["published"] = published(target, name, args.copies)
                    timings.setdefault("published", []).append(seconds)
                for setting, stack in settings:
                    seconds, counts[setting] = measure(target, name, args.copies, stack, False)
                    timings.setdefault(setting, []).append(seconds)
            row.update({setting: median_of(runs) for setting, runs in timings.items()})
            one = counts["stack_1"]
            row["rows"] = len(one)
            if "published" in row:  # must be 0: neither the pooling layer nor the allocator may move a count
                row["published_rows_differing"] = differing(counts["published"], one)
                row["per_copy_speedup_over_published"] = round(row["published"]["seconds_per_copy"]
                                                               / row["stack_1"]["seconds_per_copy"], 2)
            if args.stack > 1:
                many = counts[stacked]
                row["rows_differing"] = differing(one, many)
                row["max_correct_difference"] = max(abs(one[k][0] - many[k][0]) for k in one)
                row["per_copy_speedup"] = round(row["stack_1"]["seconds_per_copy"]
                                                / row[stacked]["seconds_per_copy"], 2)
            out["results"].append(row)
            print(json.dumps(row), flush=True)
            if args.out:  # as the rows come: a later failure keeps what was measured
                with open(args.out, "w") as handle:
                    json.dump(out, handle, indent=1)


if __name__ == "__main__":
    main()
