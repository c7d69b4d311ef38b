"""One fit of each innr-siren recipe on one target, timed, on the device asked for.

    python benchmarks/time_recipes.py --device cuda --json recipes.json
    python benchmarks/time_recipes.py --device cpu --recipes fast distill

The target (seed 0, its registered training defaults) is trained first, untimed. Prints, per
recipe: fit seconds, accuracy of the decoded copy, stored bytes and ratio, and the device (card
name on CUDA). The seed recipe's 2,000 full-batch epochs take ~10 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from typing import Any

import torch
from bench_helpers import PUBLISHED_BUDGETS, accuracy

from innr_bench import components  # noqa: F401  (registers the built-ins)
from innr_bench.compress.base import CompressContext, fp32_bytes
from innr_bench.compress.innr.compressor import InnrSiren
from innr_bench.compress.innr.spec import PRESETS
from innr_bench.engine import memory
from innr_bench.models.train import TrainConfig, train
from innr_bench.progress import Progress
from innr_bench.registry import DATASETS, MODELS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--target", default="lenet5")
    parser.add_argument("--recipes", nargs="+", default=list(PRESETS), choices=list(PRESETS))
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    device = torch.device(args.device)
    memory.keep_freed_memory(device.type)  # timed as a run's worker computes
    data = DATASETS.get(args.dataset)()
    torch.manual_seed(0)
    model = MODELS.get(args.target)()
    config = TrainConfig(**MODELS.entry(args.target).defaults.get("train", {}))
    train(model, data, config, seed=0, device=device, progress=Progress(enabled=False))
    model.eval()
    card = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    rows: list[dict[str, Any]] = []
    original = accuracy(model, data, device)
    for recipe in args.recipes:
        budget = PUBLISHED_BUDGETS.get(recipe)
        innr = InnrSiren(recipe=recipe, **({"ratio": budget} if budget else {}))
        ctx = CompressContext(seed=0, device=device, progress=Progress(enabled=False),
                              data=None if innr.data_free else data, train=config,
                              input_shape=tuple(data.test_x.shape[1:]))
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        compressed = innr.compress(model, ctx)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        copy = accuracy(compressed.reconstruct(model), data, device)
        rows.append({"recipe": recipe, "seconds": round(seconds, 2), "accuracy": round(100 * copy, 2),
                     "original": round(100 * original, 2), "bytes": compressed.size_bytes,
                     "ratio": round(compressed.size_bytes / fp32_bytes(model), 4),
                     "storage": compressed.info["storage"]})
        print(f"{recipe:14s} {seconds:8.1f} s  {100 * copy:6.2f} % (original {100 * original:.2f})  "
              f"{compressed.size_bytes:>9,} B  ratio {rows[-1]['ratio']:.3f}  {compressed.info['storage']}",
              flush=True)
    report = {"device": str(device), "card": card, "torch": torch.__version__,
              "threads": torch.get_num_threads(), "dataset": data.describe(), "target": args.target,
              "fits": rows}
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=2)
    print(json.dumps({k: v for k, v in report.items() if k != "fits"}))


if __name__ == "__main__":
    main()
