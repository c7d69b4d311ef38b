"""The one training loop every fitting stage runs: Adam, a learning-rate schedule, a loss
history, a divergence check and progress, around a stage's own `loss(step)`.

Losses are read back from the device only at history points (the first step, every
`history_every`, the last), so a step needs no host synchronisation otherwise.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from innr_bench.models.train import take_step
from innr_bench.progress import Progress

Schedule = Literal["constant", "one-cycle", "cosine"]
# Called at inspection points with (step, seconds so far); its own time is not counted.
Inspect = Callable[[int, float], None]


@dataclass
class LoopResult:
    """The last recorded loss, [step, loss] pairs, and the loop's seconds (inspection excluded)."""

    final_loss: float
    history: list[list[float]] = field(default_factory=list)
    seconds: float = 0.0


def scheduler_for(
    optimizer: torch.optim.Optimizer, schedule: Schedule, steps: int, lr: float, warmup: float,
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """`constant`: none; `one-cycle`: warm up to `lr` over the first `warmup` share of the steps,
    then anneal (torch's OneCycleLR); `cosine`: cosine decay from `lr` to 0 over the steps."""
    if schedule == "one-cycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=warmup)
    if schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    return None


def one_cycle_problem(steps: int, warmup: float) -> str | None:
    """Why a one-cycle schedule of `steps` with `warmup` cannot run, if it cannot: torch's
    OneCycleLR divides by zero when the warm-up is exactly one step."""
    if warmup * steps == 1:
        return (f"a warm-up of {warmup:g} x {steps} steps is exactly 1 step, which torch's OneCycleLR "
                "cannot schedule; change the steps or the warm-up")
    return None


def train_loop(
    groups: Iterable[dict[str, Any]],
    loss: Callable[[int], torch.Tensor],
    *,
    steps: int,
    lr: float,
    what: str,
    progress: Progress,
    schedule: Schedule = "constant",
    warmup: float = 0.0,
    history_every: int = 25,
    after_step: Callable[[int], None] | None = None,
    inspect: Inspect | None = None,
    inspect_every: int = 25,
    label: str = "loss",
) -> LoopResult:
    """Run `steps` Adam steps on `loss(step)` (steps count from 1).

    `after_step(step)` runs after each optimizer and scheduler step, inside the timed part (the
    weight fit's least-squares solve); `inspect(step, seconds)` runs every `inspect_every` steps
    and after the last, outside it. Raises FloatingPointError when a recorded loss is NaN/inf.
    """
    optimizer = torch.optim.Adam(groups, lr=lr)
    scheduler = scheduler_for(optimizer, schedule, steps, lr, warmup)
    result = LoopResult(math.nan)
    with progress.task(what, total=steps) as advance:
        for step in range(1, steps + 1):
            start = time.perf_counter()
            value = loss(step)
            take_step(optimizer, value, scheduler)
            if after_step is not None:
                after_step(step)
            record = step % history_every == 0 or step in (1, steps)
            looked = inspect is not None and (step % inspect_every == 0 or step == steps)
            if record or looked:
                result.final_loss = value.item()
            result.seconds += time.perf_counter() - start
            if not math.isfinite(result.final_loss):
                raise FloatingPointError(f"{what} diverged at step {step} ({label} {result.final_loss})")
            if record:
                done = int(result.history[-1][0]) if result.history else 0
                result.history.append([step, result.final_loss])
                advance(step - done, f"{label} {result.final_loss:.4f}")
            if looked:
                inspect(step, result.seconds)
    return result
