"""Helpers shared by the benchmarks."""

from __future__ import annotations

import torch

from innr_bench.data import Dataset
from innr_bench.evaluate import predict
from innr_bench.models.train import TrainConfig

CPU = torch.device("cpu")
# suites/mnist.yaml's target: seed-cnn c=32, Adam 5e-4, batch 512, 590 steps, seed 0.
SEED_TRAIN = TrainConfig(lr=5e-4, batch_size=512, epochs=5, steps=590)


def accuracy(model: torch.nn.Module, data: Dataset) -> float:
    return float((predict(model, data.test_x, batch_size=1000, device=CPU) == data.test_y).float().mean())
