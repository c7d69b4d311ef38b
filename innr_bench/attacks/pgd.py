"""Projected gradient descent in the L-inf ball (Madry et al. 2018), torch only; untargeted or
targeted (a random other class, or the source net's least-likely class)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Literal

import torch
from pydantic import Field
from torch import nn

from innr_bench.attacks.fgsm import Epsilon, stacked_loss
from innr_bench.models.stacked import Stacked
from innr_bench.registry import ATTACKS

TargetMode = Literal["none", "random", "least-likely"]


def target_classes(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, mode: TargetMode, generator: torch.Generator
) -> torch.Tensor | None:
    """Target classes: none, a uniformly random class other than y, or the class the model
    finds least likely on the clean input."""
    if mode == "none":
        return None
    with torch.no_grad():
        logits = model(x)
    if mode == "least-likely":
        return logits.argmin(1)
    classes = logits.shape[1]
    offsets = torch.randint(1, classes, (len(y),), generator=generator).to(y.device)
    return (y + offsets) % classes


def pgd(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    steps: int,
    step_size: float,
    start: torch.Tensor | None,
    target_class: torch.Tensor | None,
    clamp: bool,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = nn.functional.cross_entropy,
) -> torch.Tensor:
    """Iterated signed-gradient steps projected onto ||x' - x||_inf <= eps (and [0, 1] if `clamp`).
    Untargeted: ascend the loss of the true class; targeted: descend the loss of `target_class`.
    `model` may be a `Stacked` (x then (K, B, ...), `loss_fn` = `stacked_loss`)."""
    if eps == 0:
        return x.detach().clone()
    adv = x.detach() + (start if start is not None else 0.0)
    for _ in range(steps):
        adv = (adv.clamp(0.0, 1.0) if clamp else adv).detach().requires_grad_(True)
        logits = model(adv)
        loss = loss_fn(logits, y if target_class is None else target_class)
        (grad,) = torch.autograd.grad(loss, adv)
        direction = grad.sign() if target_class is None else -grad.sign()
        adv = x + (adv.detach() + step_size * direction - x).clamp(-eps, eps)
    return (adv.clamp(0.0, 1.0) if clamp else adv).detach()


@ATTACKS.register("pgd")
class PGD:
    """L-inf PGD over a list of eps (pixel units): steps, step size, random start, target mode."""

    def __init__(
        self,
        *,
        eps: Annotated[list[Epsilon], Field(min_length=1)] = [0.0, 0.0924],  # noqa: B006 (pydantic copies)
        steps: Annotated[int, Field(gt=0, le=10_000)] = 10,
        step_size: Annotated[float, Field(gt=0)] | None = None,  # None: 2.5 * eps / steps
        random_start: bool = True,
        target: TargetMode = "none",
        clamp: bool = True,
        seed: int = 0,  # random starts and random targets
    ) -> None:
        self.eps, self.steps, self.step_size = list(eps), steps, step_size
        self.random_start, self.target, self.clamp, self.seed = random_start, target, clamp, seed

    def perturb(
        self, model: nn.Module, x: torch.Tensor, y: torch.Tensor
    ) -> Iterator[tuple[float, torch.Tensor]]:
        # A fresh generator per call: every source net gets the same targets and starts for the
        # same batch, so transfer compares like with like.
        generator = torch.Generator().manual_seed(self.seed)
        goal = target_classes(model, x, y, self.target, generator)
        noise = torch.rand(x.shape, generator=generator).to(x.device) * 2 - 1 if self.random_start else None
        for eps in self.eps:
            step = self.step_size if self.step_size is not None else 2.5 * eps / self.steps
            start = noise * eps if noise is not None else None
            yield eps, pgd(model, x, y, eps=eps, steps=self.steps, step_size=step, start=start,
                           target_class=goal, clamp=self.clamp)

    def perturb_stacked(self, stacked: Stacked, x: torch.Tensor, y: torch.Tensor
                        ) -> Iterator[tuple[float, torch.Tensor]]:
        """`perturb` on every stacked net at once, with the starts and targets each would get
        alone: (eps, (K, B, ...) adversarials)."""
        generator = torch.Generator().manual_seed(self.seed)
        goal = stacked_target_classes(stacked, x, y, self.target, generator)
        noise = torch.rand(x.shape, generator=generator).to(x.device) * 2 - 1 if self.random_start else None
        xk = x.unsqueeze(0).expand(stacked.size, *x.shape)
        for eps in self.eps:
            step = self.step_size if self.step_size is not None else 2.5 * eps / self.steps
            start = noise * eps if noise is not None else None
            yield eps, pgd(stacked, xk, y, eps=eps, steps=self.steps, step_size=step, start=start,
                           target_class=goal, clamp=self.clamp, loss_fn=stacked_loss)


def stacked_target_classes(stacked: Stacked, x: torch.Tensor, y: torch.Tensor, mode: TargetMode,
                    generator: torch.Generator) -> torch.Tensor | None:
    """`target_classes` for every stacked net: (K, B), or None untargeted."""
    if mode == "none":
        return None
    with torch.no_grad():
        logits = stacked.shared(x)
    if mode == "least-likely":
        return logits.argmin(-1)
    offsets = torch.randint(1, logits.shape[-1], (len(y),), generator=generator).to(y.device)
    return ((y + offsets) % logits.shape[-1]).expand(stacked.size, len(y))
