"""Fitting an INNR to standardized weights, full batch."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, Literal

import torch
from torch import nn

from innr_bench.numerics import autocast
from innr_bench.progress import Progress

HISTORY_EVERY = 25  # epochs between stored loss values (and checkpoint callbacks)
Schedule = Literal["constant", "one-cycle"]
# Called every `checkpoint_every` epochs with (epoch, fit seconds so far); fit time excludes it.
Checkpoint = Callable[[int, float], None]


def fit_full_batch(
    net: nn.Module,
    coords: torch.Tensor,
    targets: torch.Tensor,
    *,
    epochs: int,
    lr: float,
    device: torch.device,
    progress: Progress,
    mask: torch.Tensor | None = None,
    schedule: Schedule = "constant",
    warmup: float = 0.3,
    solve_every: int | None = None,
    checkpoint: Checkpoint | None = None,
    checkpoint_every: int = HISTORY_EVERY,
    amp: bool = False,
) -> dict[str, Any]:
    """Adam on MSE over every coordinate each step, no shuffling (the seed's recipe).

    `mask` excludes padded targets from the loss; `schedule` "one-cycle" warms the learning rate
    up to `lr` over the first `warmup` fraction of epochs and anneals it. `solve_every` = k sets
    the output layer to its least-squares optimum before training, every k epochs and after
    the last (0: before and after only). `amp`: forward passes under bf16 autocast on CUDA
    (the loss and least-squares solves stay fp32). Returns final loss, a loss history and fit
    seconds (checkpoint callbacks not counted); raises FloatingPointError on NaN/inf.
    """
    net.to(device).train()
    x, y = coords.to(device), targets.to(device).reshape(len(coords), -1)
    weight = None if mask is None else mask.to(device).float()
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    scheduler = (torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs,
                                                             pct_start=warmup)
                 if schedule == "one-cycle" else None)
    history: list[list[float]] = []
    fit_seconds, loss_value = 0.0, math.nan
    if solve_every is not None:
        start = time.perf_counter()
        solve_output_layer(net, x, y)
        fit_seconds += time.perf_counter() - start
    with progress.task("fit INNR", total=epochs) as advance:
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            with autocast(x.device, amp):
                out = net(x)
            out = out.float()
            loss = masked_mse(out, y, weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            if solve_every is not None and (epoch == epochs or (solve_every and epoch % solve_every == 0)):
                solve_output_layer(net, x, y)
            record = epoch % HISTORY_EVERY == 0 or epoch in (1, epochs)
            inspect = checkpoint is not None and (epoch % checkpoint_every == 0 or epoch == epochs)
            if record or inspect:
                loss_value = loss.item()
            fit_seconds += time.perf_counter() - start
            if not math.isfinite(loss_value):
                raise FloatingPointError(f"INNR fit diverged at epoch {epoch} (loss {loss_value})")
            if record:
                history.append([epoch, loss_value])
                advance(epoch - int(history[-2][0]) if len(history) > 1 else 1, f"mse {loss_value:.4f}")
            if inspect:
                net.eval()
                checkpoint(epoch, fit_seconds)
                net.train()
    net.eval()
    return {"final_mse": loss_value, "history": history, "fit_seconds": fit_seconds}


def masked_mse(out: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    """Mean squared error over the real targets: padded ones (weight 0) do not count."""
    if weight is None:
        return nn.functional.mse_loss(out, y)
    return ((out - y).pow(2) * weight).sum() / weight.sum()


@torch.no_grad()
def solve_output_layer(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    """Least-squares output layer for the current hidden features (padded targets count as 0).

    The output layer is linear in its weights, so its optimum for fixed hidden layers is one
    `lstsq` away; solving it gives gradient descent a far better start than a random output layer.
    """
    hidden = x
    for layer in net.layers:
        hidden = layer(hidden)
    features = torch.cat([hidden, torch.ones(len(hidden), 1, device=hidden.device)], dim=1)
    solution = torch.linalg.lstsq(features.cpu(), y.cpu()).solution.to(hidden.device)
    net.last_layer.weight.copy_(solution[:-1].T)
    net.last_layer.bias.copy_(solution[-1])
