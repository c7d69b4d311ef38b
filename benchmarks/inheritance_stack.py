"""What one copy on the inheritance board costs, one net at a time (`eval.stack_copies: 1`, as
every published suite ran) against copies stacked (`stack_copies: 8`), and against the board as
the published suites computed it (aten's CPU pooling kernel in gradient-free passes too,
`aten_pooling`), side by side in one run:
the attack cells of suites/fashion-mnist.yaml (FGSM with 7 eps on 1,000 inputs, PGD with 5 eps
and 10 steps on 500) for its three targets, each with the original, `--copies` copies (the
original with small weight noise) and nothing else, timed with 0 copies and with `--copies`;
the cost per copy is the difference over the count. Also reports how many counts differ
between the two settings (floating-point summation order).

    python benchmarks/inheritance_stack.py [--copies 16] [--stack 8] [--device cuda] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from typing import Any

import torch

from innr_bench.attacks.fgsm import FGSM
from innr_bench.attacks.pgd import PGD
from innr_bench.engine.env import environment
from innr_bench.engine.evaluate import attack_pairs
from innr_bench.engine.progress import Progress
from innr_bench.models.layers import MaxPool2d
from innr_bench.models.lenet import lenet5, lenet_300_100
from innr_bench.models.seed_cnn import seed_cnn

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
    nets = {"original": original}
    for i in range(copies):
        net = copy.deepcopy(original)
        with torch.no_grad():
            for p in net.parameters():
                p.add_(0.05 * p.std() * torch.randn_like(p))
        nets[f"copy-{i}"] = net.eval()
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=16)
    parser.add_argument("--stack", type=int, default=8)
    parser.add_argument("--targets", nargs="*", default=list(TARGETS))
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--out")
    args = parser.parse_args()
    global DEVICE
    DEVICE = torch.device(args.device)
    env = environment(DEVICE)  # read first: the code as it starts, not as it may be by the end
    results = []
    for target in args.targets:
        for name, (attack, limit) in ATTACKS.items():
            row: dict[str, Any] = {"target": target, "attack": name, "inputs": limit, "copies": args.copies}
            counts = {}
            # the pooling layer differs from aten's only in CPU passes: on a card the first setting
            # would repeat the second
            settings = ((("aten_pooling", 1, True),) if DEVICE.type == "cpu" else ()) + (
                ("stack_1", 1, False), (f"stack_{args.stack}", args.stack, False))
            for setting, stack, aten in settings:  # side by side: the original alone, then the board
                nets, evaluated_on = board(TARGETS[target], args.copies, aten)
                alone, _ = board(TARGETS[target], 0, aten)
                base, _ = timed(alone, {"original": ["original"]}, attack, limit, stack)
                total, rows = timed(nets, evaluated_on, attack, limit, stack)
                row[setting] = {"seconds_original": round(base, 3), "seconds_board": round(total, 3),
                                "seconds_per_copy": round((total - base) / args.copies, 4)}
                counts[setting] = {(r["eps"], r["source"], r["evaluated"]):
                                   (r["correct"], r["cond_transferred"]) for r in rows}
            same = counts.get("aten_pooling", counts["stack_1"]) == counts["stack_1"]
            assert same, "the pooling layer changed a count"
            one, many = counts["stack_1"], counts[f"stack_{args.stack}"]
            row["rows"] = len(one)
            row["rows_differing"] = sum(one[k] != many[k] for k in one)
            row["max_correct_difference"] = max(abs(one[k][0] - many[k][0]) for k in one)
            row["per_copy_speedup"] = round(row["stack_1"]["seconds_per_copy"]
                                            / row[f"stack_{args.stack}"]["seconds_per_copy"], 2)
            if "aten_pooling" in row:
                row["per_copy_speedup_over_aten_pooling"] = round(row["aten_pooling"]["seconds_per_copy"]
                                                                  / row["stack_1"]["seconds_per_copy"], 2)
            results.append(row)
            print(json.dumps(row), flush=True)
    fields = ("device_name", "cpu_count", "git_commit", "packages", "torch")
    out = {"environment": {k: env.get(k) for k in fields},
           "threads": torch.get_num_threads(), "results": results}
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(out, handle, indent=1)


if __name__ == "__main__":
    main()
