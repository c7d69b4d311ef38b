"""Fit seconds of the data-aware INNR recipe (`distill`) for one target on 2 CPU cores.

Run: `pytest benchmarks/test_innr_distill_fit.py --benchmark-only -s` (~4 min: trains the target
first, untimed). Needs the full Fashion-MNIST (Debian's `dataset-fashion-mnist`). The target is
suites/fashion-mnist.yaml's lenet5 at seed 0 (registered defaults); the INNR is sized to 0.13 of
its fp32 bytes, the 4-bit PTQ point. The issue that introduced the recipe asks for <= 2 minutes:
revision 1 (3,000 steps) took 79-98 s; revision 2 (6,000 steps and the label loss) took 129-131 s
per lenet5 fit in suites/fashion-distill.yaml, so for `distill` this benchmark now fails, as
measured, until a step gets cheaper.
"""

from __future__ import annotations

import time

import pytest
import torch
from bench_helpers import CPU, PUBLISHED_BUDGETS, accuracy

from innr_bench.compress.base import CompressContext
from innr_bench.compress.innr.compressor import InnrSiren
from innr_bench.errors import DataUnavailableError
from innr_bench.models.lenet import LENET_TRAIN, lenet5
from innr_bench.models.train import TrainConfig, train
from innr_bench.progress import Progress
from innr_bench.registry import DATASETS

BUDGET_SECONDS = 120.0


# (recipe, ratio it is published at, held to the 2-minute budget)
TIMED = [(recipe, PUBLISHED_BUDGETS[recipe], recipe == "distill-quick")
         for recipe in ("distill-quick", "distill", "distill-noise", "distill-impressions")]


@pytest.fixture(scope="module")
def trained() -> tuple:
    """The target, trained once for every recipe (untimed): (data, model, train config)."""
    try:
        data = DATASETS.get("fashion-mnist")()
    except DataUnavailableError as error:
        pytest.skip(f"full Fashion-MNIST not found: {error}")
    torch.manual_seed(0)
    model = lenet5()
    config = TrainConfig(**LENET_TRAIN)  # the registered default, as the suite trains it
    train(model, data, config, seed=0, device=CPU, progress=Progress(enabled=False))
    return data, model.eval(), config


@pytest.mark.parametrize(("recipe", "ratio", "held"), TIMED)
def test_distill_recipe_fits_one_target_within_two_minutes(benchmark, trained: tuple, recipe: str,
                                                           ratio: float, held: bool) -> None:
    data, model, config = trained
    innr = InnrSiren(recipe=recipe, ratio=ratio)
    ctx = CompressContext(seed=0, device=CPU, progress=Progress(enabled=False),
                          data=None if innr.data_free else data, train=config,
                          input_shape=tuple(data.test_x.shape[1:]))
    timings: list[float] = []

    def fit():
        start = time.perf_counter()
        compressed = innr.compress(model, ctx)
        timings.append(time.perf_counter() - start)
        return compressed

    compressed = benchmark.pedantic(fit, rounds=1, iterations=1)
    original, copy = accuracy(model, data), accuracy(compressed.reconstruct(model), data)
    benchmark.extra_info.update(seconds=timings[0], original=original, accuracy=copy,
                                ratio=compressed.info.get("budget"), threads=torch.get_num_threads())
    print(f"\n{recipe}: {timings[0]:.1f} s on {torch.get_num_threads()} threads; accuracy "
          f"{100 * copy:.2f} % (original {100 * original:.2f} %), {compressed.size_bytes:,} bytes, "
          f"{compressed.info['storage']}")
    if held:
        assert timings[0] <= BUDGET_SECONDS
