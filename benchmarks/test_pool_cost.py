"""Evaluation of a seed CNN (c=32) on 10,000 MNIST-sized inputs, as `evaluate.predict` runs it
for every copy: aten's CPU pooling kernel (nn.MaxPool2d) against the layer's elementwise maxima
(models.layers.MaxPool2d), the two interleaved in one run so machine load hits both alike; the
predictions must be identical.

    pytest benchmarks/test_pool_cost.py --benchmark-only -s
"""

from __future__ import annotations

import statistics
import time

import pytest
import torch
from torch import nn

from innr_bench.models.layers import MaxPool2d
from innr_bench.models.seed_cnn import seed_cnn

ROUNDS = 5


def _with_aten_pooling(model: nn.Sequential) -> nn.Sequential:
    return nn.Sequential(*[nn.MaxPool2d(2, 2) if isinstance(m, MaxPool2d) else m for m in model])


def _evaluate(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([model(b).argmax(1) for b in x.split(1000)])


@pytest.mark.benchmark(group="pooling")
def test_evaluation_with_elementwise_pooling(benchmark: pytest.FixtureDef) -> None:
    torch.manual_seed(0)
    fast = seed_cnn(c=32).eval()
    aten = _with_aten_pooling(fast)
    x = torch.rand(10_000, 1, 28, 28)
    x[x < 0.8] = 0.0  # mostly background, as MNIST: tied windows
    seconds: dict[str, list[float]] = {"aten": [], "elementwise": []}
    for _ in range(ROUNDS):
        for name, model in (("aten", aten), ("elementwise", fast)):
            start = time.perf_counter()
            predictions = _evaluate(model, x)
            seconds[name].append(time.perf_counter() - start)
            if name == "aten":
                reference = predictions
        assert torch.equal(predictions, reference)
    benchmark.pedantic(_evaluate, args=(fast, x), rounds=1, iterations=1)
    medians = {k: statistics.median(v) for k, v in seconds.items()}
    print(f"\nseed-cnn c=32, 10,000 inputs, {torch.get_num_threads()} threads: aten pooling "
          f"{medians['aten']:.2f} s, elementwise {medians['elementwise']:.2f} s "
          f"({medians['aten'] / medians['elementwise']:.2f}x)")
