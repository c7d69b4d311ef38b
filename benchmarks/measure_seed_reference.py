"""Measure the time-to-quality benchmark's bar and write it to seed_reference.json.

The bar is the seed recipe's reconstruction accuracy after its full 2,000 epochs on the seed-0
target of suites/mnist.yaml. Rerun this whenever the target changes (data, training code):
`python benchmarks/measure_seed_reference.py` (~25 min on 2 CPU cores).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from bench_helpers import CPU, accuracy, train_seed_target

from innr_bench import components  # noqa: F401  (registers the built-ins)
from innr_bench.compress.base import CompressContext
from innr_bench.compress.innr.compressor import InnrSiren
from innr_bench.data.datasets import mnist
from innr_bench.engine import memory
from innr_bench.engine.env import environment
from innr_bench.models.placement import TRAINER_REVISION
from innr_bench.progress import Progress

REFERENCE = Path(__file__).parent / "seed_reference.json"


def main() -> None:
    memory.keep_freed_memory(CPU.type)  # timed as a run's worker computes
    env = environment(CPU)  # before the long fit: the code that runs is the code at the start
    data = mnist()
    target = train_seed_target(data)
    start = time.perf_counter()
    ctx = CompressContext(seed=0, device=CPU, progress=Progress())
    compressed = InnrSiren(recipe="seed").compress(target, ctx)
    seconds = time.perf_counter() - start
    reference = {
        "what": "Final (epoch 2,000) reconstruction accuracy of innr-siren recipe seed on the seed-0 "
                "target of suites/mnist.yaml, the quality bar of the time-to-quality benchmark.",
        "measured_by": "python benchmarks/measure_seed_reference.py",
        "data": data.describe(),
        "data_sha256": data.sha256,
        "trainer_revision": TRAINER_REVISION,
        "target_accuracy": accuracy(target, data),
        "seed_final_accuracy": accuracy(compressed.reconstruct(target), data),
        "seed_fit_seconds": round(seconds, 1),
        "environment": env,
    }
    REFERENCE.write_text(json.dumps(reference, indent=2) + "\n")
    print(json.dumps({k: v for k, v in reference.items() if k != "environment"}, indent=2))


if __name__ == "__main__":
    main()
