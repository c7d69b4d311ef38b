"""Supervised training of target models, budgeted in epochs or optimizer steps."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, Any, Literal

import pydantic
import torch
from pydantic import Field
from pydantic.dataclasses import dataclass
from torch import nn

from innr_bench.data.datasets import Dataset
from innr_bench.models.placement import place_batch, place_model
from innr_bench.numerics import autocast
from innr_bench.progress import Progress

logger = logging.getLogger(__name__)


@dataclass(frozen=True, config=pydantic.ConfigDict(extra="forbid"))
class TrainConfig:
    """How a target is trained. Defaults are the seed's: Adam 5e-4, batch 512, 5 epochs."""

    lr: Annotated[float, Field(gt=0)] = 5e-4
    batch_size: Annotated[int, Field(gt=0)] = 512
    epochs: Annotated[int, Field(gt=0)] = 5
    # When set, overrides epochs: the seed's 5 epochs on 60k images are 590 steps, which a
    # 4k-image offline subset only gets if the budget is counted in steps.
    steps: Annotated[int, Field(gt=0)] | None = None
    weight_decay: Annotated[float, Field(ge=0)] = 0.0
    # cosine: the learning rate decays to zero over the run (per step); constant: the seed's.
    schedule: Literal["constant", "cosine"] = "constant"

    def to_dict(self) -> dict[str, Any]:
        """The config as stored and hashed into target keys. Options added later are left out
        at their default, so targets trained before they existed keep their keys."""
        return {k: v for k, v in asdict(self).items() if not (k in _LATER_OPTIONS and v == _LATER_OPTIONS[k])}

    def total_steps(self, n_train: int) -> int:
        """Optimizer steps this config takes on a training set of n_train examples."""
        return self.steps or self.epochs * math.ceil(n_train / self.batch_size)


_LATER_OPTIONS = {"schedule": "constant"}  # option -> default


def take_step(optimizer: torch.optim.Optimizer, loss: torch.Tensor,
              scheduler: torch.optim.lr_scheduler.LRScheduler | None = None) -> None:
    """One optimizer step on `loss` (gradients cleared first), then the schedule's step."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if scheduler is not None:
        scheduler.step()


def train(
    model: nn.Module,
    data: Dataset,
    config: TrainConfig,
    *,
    seed: int,
    device: torch.device,
    progress: Progress,
    after_step: Callable[[], None] | None = None,
    amp: bool = False,
) -> dict[str, Any]:
    """Train in place with Adam + cross-entropy; return steps, epochs, final loss and seconds.

    `after_step` runs after every optimizer step (e.g. to keep pruned weights at zero); `amp`
    runs forward passes under bf16 autocast on CUDA."""
    generator = torch.Generator().manual_seed(seed)
    place_model(model, device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    n = len(data.train_y)
    total = config.total_steps(n)
    scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
                 if config.schedule == "cosine" else None)
    x_all, y_all = place_batch(data.train_x, device), data.train_y.to(device)
    step, loss_value, start = 0, math.nan, time.perf_counter()
    with progress.task("train target", total=total) as advance:
        while step < total:
            order = torch.randperm(n, generator=generator).to(device)
            for begin in range(0, n, config.batch_size):
                index = order[begin : begin + config.batch_size]
                with autocast(device, amp):
                    loss = loss_fn(model(x_all[index]), y_all[index])
                take_step(optimizer, loss, scheduler)
                if after_step is not None:
                    after_step()
                step += 1
                loss_value = loss.item()
                advance(1, f"loss {loss_value:.4f}")
                if step >= total:
                    break
    model.eval()
    if not math.isfinite(loss_value):
        raise FloatingPointError(f"target training diverged (loss {loss_value})")
    return {
        "steps": step,
        "epochs": round(step * config.batch_size / n, 2),
        "final_loss": loss_value,
        "seconds": time.perf_counter() - start,
    }
