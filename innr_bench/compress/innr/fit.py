"""Fitting an INNR to standardized weights, full batch."""

from __future__ import annotations

import math
import time
from typing import Any

import torch
from torch import nn

from innr_bench.progress import Progress

HISTORY_EVERY = 50  # epochs between stored loss values: enough for a curve, small in JSON


def fit_full_batch(
    net: nn.Module,
    coords: torch.Tensor,
    targets: torch.Tensor,
    *,
    epochs: int,
    lr: float,
    device: torch.device,
    progress: Progress,
) -> dict[str, Any]:
    """Adam on MSE over every coordinate each step, no shuffling (the seed's recipe).

    Returns final loss, a loss history and seconds; raises FloatingPointError on NaN/inf.
    """
    net.to(device).train()
    x, y = coords.to(device), targets.to(device).reshape(-1, 1)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    history: list[list[float]] = []
    start = time.perf_counter()
    loss_value = math.nan
    with progress.task("fit INNR", total=epochs) as advance:
        for epoch in range(1, epochs + 1):
            loss = nn.functional.mse_loss(net(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if epoch % HISTORY_EVERY == 0 or epoch in (1, epochs):
                loss_value = loss.item()
                if not math.isfinite(loss_value):
                    raise FloatingPointError(f"INNR fit diverged at epoch {epoch} (loss {loss_value})")
                history.append([epoch, loss_value])
                advance(epoch - int(history[-2][0]) if len(history) > 1 else 1, f"mse {loss_value:.4f}")
    net.eval()
    return {"final_mse": loss_value, "history": history, "seconds": time.perf_counter() - start}
