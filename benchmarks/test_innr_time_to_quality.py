"""INNR time-to-quality: how soon each recipe's reconstruction reaches the seed recipe's accuracy.

Run: `pytest benchmarks/test_innr_time_to_quality.py --benchmark-only` (the seed side takes ~10 min).
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

import torch
from bench_helpers import CPU, accuracy

from innr_bench.compress.base import CompressContext, fp32_bytes, load_parameters
from innr_bench.compress.innr.compressor import InnrSiren, sample
from innr_bench.data.datasets import Dataset
from innr_bench.models.placement import TRAINER_REVISION
from innr_bench.progress import Progress

REFERENCE = json.loads((Path(__file__).parent / "seed_reference.json").read_text())


class _Reached(Exception):
    """Raised from the fit's checkpoint to stop once the quality bar is met."""


def time_to_quality(
    model: torch.nn.Module, data: Dataset, bar: float, *, stop: bool, **params: Any
) -> dict[str, Any]:
    """Fit seconds (evaluation excluded) until reconstructed accuracy >= bar, checked every 5 epochs."""
    innr = InnrSiren(**params)
    hit: dict[str, Any] = {}

    def checkpoint(epoch: int, seconds: float) -> None:
        if not hit and accuracy(load_parameters(model, sample(*innr.partial)), data) >= bar:
            hit.update(epoch=epoch, seconds=seconds)
            if stop:
                raise _Reached

    ctx = CompressContext(seed=0, device=CPU, progress=Progress(enabled=False))
    result: dict[str, Any] = {"params": params}
    try:
        compressed = innr.compress(model, ctx, checkpoint=checkpoint, checkpoint_every=5)
        result.update(final_accuracy=accuracy(compressed.reconstruct(model), data),
                      ratio=compressed.size_bytes / fp32_bytes(model))
    except _Reached:
        pass
    return result | {"epoch": hit.get("epoch"), "seconds": hit.get("seconds", math.inf)}


def test_seed_vs_fast_time_to_quality(benchmark, seed_target, mnist_data) -> None:
    assert mnist_data.sha256 == REFERENCE["data_sha256"], "the reference was measured on other data"
    assert REFERENCE["trainer_revision"] == TRAINER_REVISION, "stale reference: run measure_seed_reference.py"
    assert abs(accuracy(seed_target, mnist_data) - REFERENCE["target_accuracy"]) < 1e-9
    bar = REFERENCE["seed_final_accuracy"]
    seed = time_to_quality(seed_target, mnist_data, bar, stop=True, recipe="seed")
    rounds: list[dict[str, Any]] = []

    def fast_round() -> dict[str, Any]:
        rounds.append(time_to_quality(seed_target, mnist_data, bar, stop=False, recipe="fast"))
        return rounds[-1]

    fast = benchmark.pedantic(fast_round, rounds=5, iterations=1, warmup_rounds=1)
    fast_seconds = statistics.median(r["seconds"] for r in rounds[1:])  # rounds[0]: warm-up
    ratio = seed["seconds"] / fast_seconds
    benchmark.extra_info.update(bar=bar, seed=seed, fast=fast, ratio=ratio,
                                fast_seconds=[r["seconds"] for r in rounds[1:]])
    print(f"\nseed reaches {bar:.4f} after {seed['epoch']} epochs, {seed['seconds']:.1f} s; "
          f"fast after {fast['epoch']} epochs, median {fast_seconds:.3f} s over "
          f"{len(rounds) - 1} rounds; ratio {ratio:.0f}x; fast final accuracy "
          f"{fast['final_accuracy']:.4f} at size ratio {fast['ratio']:.3f}")
    assert fast["ratio"] <= 0.742 + 1e-3
    assert math.isfinite(seed["seconds"]) and math.isfinite(fast["seconds"])
