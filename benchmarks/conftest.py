"""Shared fixtures for benchmarks: the seed experiment's target, trained deterministically."""

from __future__ import annotations

import pytest
import torch
from bench_helpers import CPU, SEED_TRAIN

from innr_bench import components  # noqa: F401  (registers the built-ins)
from innr_bench.data import Dataset, mnist
from innr_bench.models.seed_cnn import seed_cnn
from innr_bench.models.train import train
from innr_bench.progress import Progress


@pytest.fixture(scope="session")
def mnist_data() -> Dataset:
    return mnist()


@pytest.fixture(scope="session")
def seed_target(mnist_data: Dataset) -> torch.nn.Module:
    """The seed-0 target of suites/mnist.yaml (same data, seed and budget, so the same weights)."""
    torch.manual_seed(0)
    model = seed_cnn(c=32)
    train(model, mnist_data, SEED_TRAIN, seed=0, device=CPU, progress=Progress(enabled=False))
    return model.eval()
