"""Does cutting the field into parts cost accuracy at equal bytes? Trained ResNet-20s (1-channel,
Fashion-MNIST) compressed at 0.13 of their bytes (int8 + Huffman, data-free) by today's
full-batch fit (one field: `fast` at a ratio) and by `fast-scalable` (parts of at most 131,072
weights: 3 on ResNet-20), and by smaller parts, side by side, per seed.

    python benchmarks/partition_quality.py --seeds 0 1 2 --epochs 3 --json out.json

Each target is trained with the registered ResNet recipe (Adam 1e-3, cosine, batch 128, weight
decay 1e-4) for --epochs epochs (the registered 15 take ~21 minutes a seed on 2 cores), its
weights kept in --cache (safetensors) so a rerun only compresses. Needs the full Fashion-MNIST.
The ratios each setting stores are printed beside its accuracy: parts are sized from below, so
equal budgets may store slightly different bytes.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from innr_bench import components  # noqa: F401  (registers the built-ins)
from innr_bench.compress.base import CompressContext, fp32_bytes
from innr_bench.engine.env import environment
from innr_bench.engine.evaluate import predict
from innr_bench.models.resnet import CIFAR_RESNET_TRAIN
from innr_bench.models.train import TrainConfig, train
from innr_bench.progress import Progress
from innr_bench.registry import COMPRESSORS, DATASETS, MODELS

CPU = torch.device("cpu")
INT8_HUFFMAN = {"precision": "int8", "entropy": "huffman"}
SETTINGS: dict[str, dict[str, Any]] = {
    "full-batch (one field)": {"preset": "fast", "ratio": 0.13, "storage": INT8_HUFFMAN},
    "fast-scalable (parts <= 131,072)": {"preset": "fast-scalable", "ratio": 0.13},
    "parts <= 65,536": {"preset": "fast-scalable", "ratio": 0.13, "partition": {"weights": 65_536}},
    "parts <= 32,768": {"preset": "fast-scalable", "ratio": 0.13, "partition": {"weights": 32_768}},
}


def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return float((predict(model, x, batch_size=1000, device=CPU) == y).float().mean())


def target(seed: int, epochs: int, data: Any, cache: Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Seed `seed`'s trained ResNet-20, from the cache when it is there."""
    torch.manual_seed(seed)
    model = MODELS.get("resnet20")(in_channels=1)
    path = cache / f"resnet20-grey-fashion-seed{seed}-epochs{epochs}.safetensors"
    if path.exists():
        model.load_state_dict(load_file(path))
        return model.eval(), {"cached": str(path)}
    recipe = TrainConfig(**{**CIFAR_RESNET_TRAIN, "epochs": epochs})
    info = train(model, data, recipe, seed=seed, device=CPU, progress=Progress(enabled=False))
    cache.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, path)  # trained channels-last
    return model.eval(), info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=Path(".partition-quality"))
    parser.add_argument("--json")
    args = parser.parse_args()
    data = DATASETS.get("fashion-mnist")()
    rows = []
    for seed in args.seeds:
        model, trained = target(seed, args.epochs, data, args.cache)
        original = accuracy(model, data.test_x, data.test_y)
        print(f"seed {seed}: target {original:.4f} ({trained})", flush=True)
        for label, params in SETTINGS.items():
            ctx = CompressContext(seed=seed, device=CPU, progress=Progress(enabled=False))
            start = time.perf_counter()
            compressed = COMPRESSORS.get("innr")(**params).compress(model, ctx)
            seconds = time.perf_counter() - start
            copy = accuracy(compressed.reconstruct(model), data.test_x, data.test_y)
            row = {"seed": seed, "setting": label, "target_accuracy": original, "accuracy": copy,
                   "delta_pt": 100 * (copy - original), "ratio": compressed.size_bytes / fp32_bytes(model),
                   "seconds": seconds, "storage": compressed.info.get("storage")}
            rows.append(row)
            print(f"  {label:34s} {copy:.4f} ({row['delta_pt']:+.2f} pt) ratio {row['ratio']:.4f} "
                  f"{seconds:6.1f} s  {row['storage']}", flush=True)
        if args.json:  # after every seed: a stopped run keeps what it measured
            Path(args.json).write_text(json.dumps({"environment": environment(CPU), "epochs": args.epochs,
                                                   "rows": rows}, indent=1) + "\n")
    for label in SETTINGS:
        mine = [r for r in rows if r["setting"] == label]
        deltas = torch.tensor([r["delta_pt"] for r in mine])
        spread = f" +- {float(deltas.std()):.2f}" if len(deltas) > 1 else ""
        ratio = sum(r["ratio"] for r in mine) / len(mine)
        print(f"{label:34s} mean {float(deltas.mean()):+.2f}{spread} pt over {len(deltas)} seeds "
              f"at a mean ratio of {ratio:.4f}")


if __name__ == "__main__":
    main()
