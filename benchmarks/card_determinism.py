"""Is the card itself nondeterministic? The inheritance board (`inheritance_stack.py`'s boards: the
original and `--copies` noisy copies, FGSM and PGD as fashion-mnist.yaml runs them) computed one
copy at a time twice in one process, with the default kernels and then under
`numerics.deterministic` (`innr_bench.numerics.deterministic_scope`), and stacked once in each mode,
each mode in a process of its own (cuBLAS reads its workspace setting when CUDA starts).
Reports how many counts differ between the two identical runs (the card's own nondeterminism),
and between one at a time and stacked (summation order), and the seconds of each mode.

    python benchmarks/card_determinism.py [--copies 8] [--device cuda] [--out FILE.json]

On the CPU every run repeats its counts (0 differ).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

import inheritance_stack as boards
import torch

from innr_bench.engine.env import environment
from innr_bench.numerics import deterministic_scope


def counts_of(target: str, attack: str, copies: int, stack: int) -> tuple[float, boards.Counts]:
    nets, evaluated_on = boards.board(boards.TARGETS[target], copies)
    fgsm_or_pgd, limit = boards.ATTACKS[attack]
    torch.manual_seed(2)  # PGD's random starts: the same draws in both runs
    seconds, rows = boards.timed(nets, evaluated_on, fgsm_or_pgd, limit, stack)
    return seconds, {(r["eps"], r["source"], r["evaluated"]): (r["correct"], r["cond_transferred"])
                     for r in rows}


def measure(mode: str, targets: list[str], copies: int) -> dict[str, Any]:
    """Every board of `targets` in one mode (`default` or `deterministic`), in this process."""
    results = {}
    with deterministic_scope(mode == "deterministic"):
        for target in targets:
            for attack in boards.ATTACKS:
                start = time.perf_counter()
                first_s, first = counts_of(target, attack, copies, 1)
                second_s, second = counts_of(target, attack, copies, 1)
                stacked_s, stacked = counts_of(target, attack, copies, copies)
                name = f"{target} {attack} {mode}"
                results[name] = {
                    "counts": len(first),
                    "differ_between_two_runs": boards.differing(first, second),
                    "differ_stacked": boards.differing(first, stacked),
                    "seconds_one_at_a_time": [round(first_s, 3), round(second_s, 3)],
                    "seconds_stacked": round(stacked_s, 3),
                    "seconds_total": round(time.perf_counter() - start, 3)}
                row = results[name]
                print(f"{name}: {row['differ_between_two_runs']} of {row['counts']} counts differ "
                      f"between two runs, {row['differ_stacked']} stacked; {first_s:.2f} / "
                      f"{second_s:.2f} s one at a time, {stacked_s:.2f} s stacked",
                      file=sys.stderr, flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument("--targets", nargs="*", default=["seed-cnn", "lenet5"])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--out")
    parser.add_argument("--mode", choices=("default", "deterministic"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    boards.DEVICE = torch.device(args.device)
    if args.mode:  # one mode in this fresh process: print its results as the last line
        print(json.dumps(measure(args.mode, args.targets, args.copies)))
        return
    report: dict[str, Any] = {"benchmark": "card_determinism", "copies": args.copies, "results": {}}
    for mode in ("default", "deterministic"):  # each in a process of its own: cuBLAS reads its
        command = [sys.executable, __file__, "--mode", mode, "--copies", str(args.copies),  # workspace
                   "--device", args.device, "--targets", *args.targets]  # setting when CUDA starts
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
        report["results"] |= json.loads(done.stdout.strip().splitlines()[-1])
    report["environment"] = environment(boards.DEVICE)
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(report, handle, indent=2, default=str)


if __name__ == "__main__":
    main()
