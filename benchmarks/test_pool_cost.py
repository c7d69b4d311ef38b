"""Evaluation of 10,000 MNIST-sized inputs as `evaluate.predict` runs it for every copy (no
gradient, channels-last): aten's CPU pooling kernel (nn.MaxPool2d) against the layer's
elementwise maxima (models.layers.MaxPool2d), for the pooled targets, the two interleaved in one
run so machine load hits both alike; the logits must be bit for bit the same.

    pytest benchmarks/test_pool_cost.py --benchmark-only -s
"""

from __future__ import annotations

import statistics
import time

import pytest
import torch
from torch import nn

from innr_bench.models.layers import MaxPool2d
from innr_bench.models.placement import place_batch, place_model
from innr_bench.registry import MODELS

ROUNDS = 5
CPU = torch.device("cpu")


def _with_aten_pooling(model: nn.Sequential) -> nn.Sequential:
    return nn.Sequential(*[nn.MaxPool2d(2, 2) if isinstance(m, MaxPool2d) else m for m in model])


def _logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([model(place_batch(b, CPU)) for b in x.split(1000)])


@pytest.mark.benchmark(group="pooling")
@pytest.mark.parametrize("name", ["seed-cnn", "lenet5", "lenet5-caffe"])
def test_evaluation_with_elementwise_pooling(benchmark: pytest.FixtureDef, name: str) -> None:
    torch.manual_seed(0)
    fast = place_model(MODELS.get(name)().eval(), CPU)
    aten = place_model(_with_aten_pooling(fast), CPU)
    x = torch.rand(10_000, 1, 28, 28)
    x[x < 0.8] = 0.0  # mostly background, as MNIST: tied windows
    seconds: dict[str, list[float]] = {"aten": [], "elementwise": []}
    for _ in range(ROUNDS):
        found = {}
        for label, model in (("aten", aten), ("elementwise", fast)):
            start = time.perf_counter()
            found[label] = _logits(model, x)
            seconds[label].append(time.perf_counter() - start)
        assert torch.equal(found["aten"], found["elementwise"])
    benchmark.pedantic(_logits, args=(fast, x), rounds=1, iterations=1)
    medians = {k: statistics.median(v) for k, v in seconds.items()}
    print(f"\n{name}, 10,000 inputs, {torch.get_num_threads()} threads, channels-last: aten pooling "
          f"{medians['aten']:.3f} s, elementwise {medians['elementwise']:.3f} s "
          f"({medians['aten'] / medians['elementwise']:.2f}x)")
