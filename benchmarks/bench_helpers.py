"""Helpers shared by the benchmarks."""

from __future__ import annotations

import copy
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from innr_bench.data.datasets import Dataset
from innr_bench.engine.evaluate import predict
from innr_bench.models.seed_cnn import seed_cnn
from innr_bench.models.train import TrainConfig, train
from innr_bench.progress import Progress

CPU = torch.device("cpu")
# suites/mnist.yaml's target: seed-cnn c=32, Adam 5e-4, batch 512, 590 steps, seed 0.
SEED_TRAIN = TrainConfig(lr=5e-4, batch_size=512, epochs=5, steps=590)
# Each innr-siren recipe at the budget it is published at (suites/fashion-mnist.yaml); None: its
# own width.
PUBLISHED_BUDGETS = {"seed": None, "fast": None, "distill": 0.05, "distill-noise": 0.13,
                     "distill-quick": 0.05, "distill-impressions": 0.05}


def accuracy(model: torch.nn.Module, data: Dataset, device: torch.device = CPU) -> float:
    return float((predict(model, data.test_x, batch_size=1000, device=device) == data.test_y).float().mean())


def train_seed_target(data: Dataset) -> torch.nn.Module:
    """The seed-0 target of suites/mnist.yaml (same data, seed and budget, so the same weights)."""
    torch.manual_seed(0)
    model = seed_cnn(c=32)
    train(model, data, SEED_TRAIN, seed=0, device=CPU, progress=Progress(enabled=False))
    return model.eval()


def emit(out: dict[str, Any], path: str | None) -> None:
    """A benchmark script's result: printed, and written to `path` as JSON when given."""
    print(json.dumps(out, indent=1))
    if path:
        with open(path, "w") as handle:
            json.dump(out, handle, indent=1)


def median_seconds(call: Callable[[], object], device: torch.device, *, calls: int = 20,
                   warmup: int = 3) -> float:
    """Median seconds of one `call` over `calls` timed ones, after `warmup` untimed; on a card
    each timed call runs between synchronisations, so its kernels are counted, not queued."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(calls):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        call()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def noisy_copies(original: torch.nn.Module, count: int, scale: float) -> dict[str, torch.nn.Module]:
    """The original and `count` copies with weight noise of `scale` x each tensor's std: stand-ins
    for compressed copies wherever the cost, not the copy, is measured."""
    nets = {"original": original.eval()}
    for i in range(count):
        net = copy.deepcopy(original)
        with torch.no_grad():
            for p in net.parameters():
                p.add_(scale * p.std() * torch.randn_like(p))
        nets[f"copy-{i}"] = net.eval()
    return nets
