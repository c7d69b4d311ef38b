"""Wall time of one suite on a local Ray instance, cells run by wave (targets, then every copy,
then every attack, with a barrier between) against cells run by dependency (each as soon as the
target and copies it reads exist), from an empty cache each time. The suite has one
deliberately slow cell: an INNR fit of one target that takes most of a minute, while the other
three targets' attack cells wait for nothing but their own copies.

    python benchmarks/ray_schedule.py [--cpus 2] [--out benchmarks/ray-schedule.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from innr_bench.config import parse_suite
from innr_bench.engine.cache import TensorCache
from innr_bench.engine.executors import make_executor
from innr_bench.engine.runner import Runner

LABELS = [f"seed-cnn[c={c}]" for c in (4, 5, 6, 7)]
SUITE = {
    "name": "ray-schedule", "seeds": [0],
    "datasets": [{"name": "synthetic", "params": {"n_train": 512, "n_test": 256}}],
    "targets": [{"name": "seed-cnn", "params": {"c": c}, "train": {"lr": 0.01, "batch_size": 64, "epochs": 5}}
                for c in (4, 5, 6, 7)],
    "eval": {"control": False},
    "compressors": [
        {"name": "identity"},
        {"name": "quantize", "label": "ptq", "params": {"bits": 4}},
        {"name": "innr-siren", "label": "innr",
         "params": {"width": 16, "depth": 2, "block": 25, "epochs": 100}},
        # the slow cell: one target's INNR fitted for 30,000 epochs
        {"name": "innr-siren", "label": "innr-slow", "params": {"width": 64, "depth": 3, "epochs": 30000},
         "targets": [LABELS[0]]},
    ],
    "attacks": [{"name": "pgd", "label": "pgd", "params": {"eps": [0.05, 0.1], "steps": 100}}],
}


def timed_run(schedule: str, cpus: int) -> dict[str, Any]:
    suite = parse_suite(SUITE, source="benchmarks/ray_schedule.py")
    executor = make_executor("ray", num_cpus=cpus, schedule=schedule)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            start = time.perf_counter()
            summary = Runner(suite, out_dir=Path(scratch), device="cpu",
                             cache=TensorCache(Path(scratch) / "cache"),
                             executor=executor).run()
            wall = time.perf_counter() - start
    finally:
        executor.close()
    return {"schedule": schedule, "wall_seconds": round(wall, 1), "computed": summary.computed,
            "failed": len(summary.failed),
            "stage_seconds": {k: round(v, 1) for k, v in summary.stage_seconds.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    runs = [timed_run(schedule, args.cpus) for schedule in ("waves", "dependencies")]
    for run in runs:
        print(json.dumps(run))
    ratio = runs[0]["wall_seconds"] / runs[1]["wall_seconds"]
    print(f"by wave {runs[0]['wall_seconds']} s, by dependency {runs[1]['wall_seconds']} s: {ratio:.2f}x")
    if args.out:
        args.out.write_text(json.dumps({"cpus": args.cpus, "runs": runs, "ratio": ratio}, indent=1) + "\n")


if __name__ == "__main__":
    main()
