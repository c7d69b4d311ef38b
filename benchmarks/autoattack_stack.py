"""What AutoAttack costs a copy on the inheritance board, one copy at a time (`eval.stack_copies: 1`)
against the copies stacked (`stack_copies: K`: torchattacks' attack over the K copies as one
model of K x B inputs, `TorchAttacks.perturb_stacked`), side by side in one run. The target is a
seed CNN (c=32) trained for one epoch on MNIST; the copies are it with small weight noise (a
stand-in for compressed copies: the cost does not depend on how a copy was made). Each copy is
attacked white-box on itself, as the inheritance board attacks copies. Reports seconds a copy and
each copy's robust accuracy both ways (random starts are drawn differently when stacked, so a few
inputs may differ).

    python benchmarks/autoattack_stack.py [--copies 8] [--limit 1000] [--version standard]
        [--device cuda] [--out FILE.json]

Needs the `attacks` extra (torchattacks). On 2 CPU cores use a small `--limit`: the standard
version runs APGD-CE, APGD-T, FAB-T and Square on every input still robust.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import torch
from bench_helpers import noisy_copies

from innr_bench import components  # noqa: F401  (registers the built-ins)
from innr_bench.attacks.external import TorchAttacks
from innr_bench.engine.env import environment
from innr_bench.engine.evaluate import attack_pairs
from innr_bench.models.seed_cnn import seed_cnn
from innr_bench.models.train import TrainConfig, train
from innr_bench.progress import Progress
from innr_bench.registry import DATASETS

EPS = 0.0924  # the seed's 0.3 in normalized units, in pixel units (the suites' headline eps)


def timed_board(nets: dict[str, torch.nn.Module], attack: TorchAttacks, x: torch.Tensor, y: torch.Tensor,
                stack: int, device: torch.device) -> tuple[float, dict[str, float]]:
    """Seconds for the copies' white-box attacks and each copy's robust accuracy."""
    on_itself = {name: [name] for name in nets if name != "original"}
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    rows = attack_pairs(nets, on_itself, attack, x, y, batch_size=len(x), device=device,
                        progress=Progress(enabled=False), stack=stack)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return seconds, {r["source"]: r["accuracy"] for r in rows if r["eps"] == EPS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument("--limit", type=int, default=1000, help="test inputs attacked")
    parser.add_argument("--version", default="standard", help="AutoAttack's version (standard, plus, rand)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    device = torch.device(args.device)
    data = DATASETS.get("mnist")()
    torch.manual_seed(0)
    target = seed_cnn(c=32)
    info = train(target, data, TrainConfig(epochs=1), seed=0, device=device, progress=Progress(enabled=False))
    torch.manual_seed(1)
    nets = noisy_copies(target.to(device), args.copies, 0.02)
    x, y = data.test_x[:args.limit], data.test_y[:args.limit]
    attack = TorchAttacks(attack="AutoAttack", eps=[EPS],
                          params={"version": args.version, "n_classes": 10, "seed": 0})
    results: dict[str, Any] = {}
    for stack in (1, args.copies):
        seconds, robust = timed_board(nets, attack, x, y, stack, device)
        results[f"stack {stack}"] = {"seconds": seconds, "seconds_per_copy": seconds / args.copies,
                                     "robust_accuracy": robust}
        print(f"stack {stack:2d}: {seconds:8.1f} s for {args.copies} copies, "
              f"{seconds / args.copies:7.2f} s a copy; robust accuracy "
              f"{min(robust.values()):.3f}-{max(robust.values()):.3f}")
    one, together = results["stack 1"], results[f"stack {args.copies}"]
    differ = {n: abs(a - together["robust_accuracy"][n]) * len(y) for n, a in one["robust_accuracy"].items()}
    print(f"speed-up stacked: {one['seconds'] / together['seconds']:.2f}x; inputs differing per copy: "
          f"max {max(differ.values()):.0f} of {len(y)}")
    report = {"benchmark": "autoattack_stack", "copies": args.copies, "inputs": len(y), "eps": EPS,
              "version": args.version, "target": {"model": "seed-cnn c=32", "epochs": 1,
                                                  "seconds": info["seconds"], "data": data.source},
              "results": results, "environment": environment(device)}
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(report, handle, indent=2, default=str)


if __name__ == "__main__":
    main()
