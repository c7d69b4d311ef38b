"""The weight fit of several INNRs of one shape as one batched fit.

K fields with the same architecture (the seeds of one setting: one target architecture, one
budget, so one field size) are fit in one loop: their parameters stacked, the forward pass
mapped over them (`torch.func.vmap` of `functional_call`), one Adam over the stacked tensors and
the sum of their losses. Each field's loss reads only its own parameters and Adam works element
by element, so every field gets the steps it would get alone; only the summation order of the
batched matrix products differs (tests/test_fit_together.py bounds the difference on the CPU).

Why: a step on a card costs about the same at any size (launch-bound), so K fits in one step
cost about one fit's launches (`benchmarks/fit_stack.py`: 8 SIREN fits 3.7-5.0x cheaper per
fit-step on an H200). On 2 CPU cores nothing is gained; suites fit one at a time by default
(`eval.stack_fits`).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from innr_bench.compress.innr.loop import train_loop
from innr_bench.compress.innr.stages import HISTORY_EVERY, WeightFit, masked_mse, solve_head
from innr_bench.numerics import autocast

if TYPE_CHECKING:
    from innr_bench.compress.innr.state import FitState


def fit_weights_together(stage: WeightFit, states: Sequence[FitState]) -> list[dict[str, Any]]:
    """Run `stage` on every state's field as one batched fit; each state's field is left trained
    in place and its stage info returned, in order. `fit_seconds` is each field's share of the
    group's time; `fit_group` says how many were fit together and the group's seconds.

    Raises FloatingPointError when the summed loss is NaN/inf (the caller decides what then)."""
    _check_same_shape(states)
    if any(state.checkpoint is not None for state in states):
        raise ValueError("checkpoints inspect one field's fit; fit fields together without them")
    ctx = states[0].ctx  # one run: one device, one precision, one progress display
    fields = [state.field.to(ctx.device).train() for state in states]
    x = torch.stack([state.queries.coords.to(ctx.device) for state in states])
    y = torch.stack([state.queries.values.to(ctx.device).reshape(x.shape[1], -1) for state in states])
    weight = _stacked_masks(states, y)
    solving = stage.solve_every is not None
    start = time.perf_counter()
    if solving:
        for k, field in enumerate(fields):
            solve_head(field, x[k], y[k])
    setup = time.perf_counter() - start
    params, buffers = stack_module_state(fields)  # copies: the fields are written back at the end
    params = {name: p.detach().requires_grad_(True) for name, p in params.items()}
    template = copy.deepcopy(fields[0]).to("meta")

    def one(p: dict[str, torch.Tensor], b: dict[str, torch.Tensor], xk: torch.Tensor) -> torch.Tensor:
        return functional_call(template, (p, b), (xk,))

    forward = vmap(one)
    losses = vmap(masked_mse, in_dims=(0, 0, None if weight is None else 0))
    last: dict[str, torch.Tensor] = {}
    histories: list[list[list[float]]] = [[] for _ in states]

    def loss(epoch: int) -> torch.Tensor:
        with autocast(x.device, ctx.amp):
            out = forward(params, buffers, x)
        each = losses(out.float(), y, weight)
        last["each"] = each.detach()
        return each.sum()  # each field's own mean: its gradient as alone

    def after(epoch: int) -> None:
        if solving and (epoch == stage.epochs or (stage.solve_every and epoch % stage.solve_every == 0)):
            with torch.no_grad():
                for k, field in enumerate(fields):
                    _write_back(field, params, k)
                    solve_head(field, x[k], y[k])
                    for name, p in field.named_parameters():
                        params[name][k].copy_(p)
        if epoch % HISTORY_EVERY == 0 or epoch in (1, stage.epochs):  # as the loop records its own
            for history, value in zip(histories, last["each"].tolist(), strict=True):
                history.append([epoch, value])

    result = train_loop([{"params": list(params.values())}], loss, steps=stage.epochs, lr=stage.lr,
                        what=f"fit {len(states)} INNRs together", progress=ctx.progress,
                        schedule=stage.schedule, warmup=stage.warmup, history_every=HISTORY_EVERY,
                        after_step=after, label="summed mse")
    for k, field in enumerate(fields):
        _write_back(field, params, k)
        field.eval()
    seconds = result.seconds + setup
    return [{"final_mse": history[-1][1], "history": history, "fit_seconds": seconds / len(states),
             "fit_group": {"members": len(states), "seconds": seconds}} for history in histories]


def _check_same_shape(states: Sequence[FitState]) -> None:
    """Fields of one architecture, fit to queries of one shape: else they cannot share a stack."""
    first = states[0]
    shapes = {k: v.shape for k, v in first.field.state_dict().items()}
    for state in states[1:]:
        other = {k: v.shape for k, v in state.field.state_dict().items()}
        if type(state.field) is not type(first.field) or other != shapes:
            raise ValueError("fields fit together must share one architecture; got "
                             f"{type(first.field).__name__} {_summary(shapes)} and "
                             f"{type(state.field).__name__} {_summary(other)}")
        if state.queries.coords.shape != first.queries.coords.shape or \
                state.queries.values.shape != first.queries.values.shape:
            raise ValueError("fields fit together must fit queries of one shape; got "
                             f"{tuple(first.queries.values.shape)} and {tuple(state.queries.values.shape)}")


def _summary(shapes: dict[str, torch.Size]) -> str:
    return f"({sum(s.numel() for s in shapes.values()):,} values in {len(shapes)} tensors)"


def _stacked_masks(states: Sequence[FitState], y: torch.Tensor) -> torch.Tensor | None:
    """(K, queries, values) weights of the real values (padding 0), or None when nothing is padded."""
    masks = [state.queries.mask for state in states]
    if all(mask is None for mask in masks):
        return None
    ones = torch.ones_like(y[0])
    return torch.stack([ones if mask is None else mask.to(y.device).float().reshape(ones.shape)
                        for mask in masks])


@torch.no_grad()
def _write_back(field: nn.Module, params: dict[str, torch.Tensor], k: int) -> None:
    """The k-th stacked parameters into `field`'s own."""
    for name, p in field.named_parameters():
        p.copy_(params[name][k])
