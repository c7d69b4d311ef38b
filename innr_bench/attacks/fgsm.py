"""Fast gradient sign method, torch only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import torch
from pydantic import Field
from torch import nn

from innr_bench.models.stacked import Stacked
from innr_bench.registry import ATTACKS

Epsilon = Annotated[float, Field(ge=0, le=1)]


def input_gradient_sign(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """sign(d CE(model(x), y) / dx), the model in eval mode."""
    x = x.detach().clone().requires_grad_(True)
    loss = nn.functional.cross_entropy(model(x), y)
    (grad,) = torch.autograd.grad(loss, x)
    return grad.sign()


def stacked_gradient_sign(stacked: Stacked, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(K, B, ...) signs, one input gradient per stacked net: each net's own mean loss (the sum
    over nets of their means, so each gradient is the one `input_gradient_sign` takes)."""
    xk = x.detach().unsqueeze(0).expand(stacked.size, *x.shape).clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(stacked_loss(stacked(xk), y), xk)
    return grad.sign()


def stacked_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Sum over nets of each net's mean cross-entropy, logits (K, B, classes), labels (B,) or (K, B)."""
    k, b = logits.shape[:2]
    labels = (y if y.dim() == 2 else y.expand(k, b)).reshape(-1)
    losses = nn.functional.cross_entropy(logits.reshape(k * b, -1), labels, reduction="none")
    return losses.view(k, b).mean(1).sum()


def fgsm_step(x: torch.Tensor, sign: torch.Tensor, eps: float, *, clamp: bool) -> torch.Tensor:
    """x + eps * sign, clamped to the pixel range [0, 1] unless `clamp` is False."""
    adv = x + eps * sign
    return adv.clamp(0.0, 1.0) if clamp else adv


@ATTACKS.register("fgsm")
class FGSM:
    """Untargeted FGSM over a list of eps (pixel units); one gradient serves every eps."""

    def __init__(
        self,
        *,
        eps: Annotated[list[Epsilon], Field(min_length=1)] = [0.0, 0.0924],  # noqa: B006 (pydantic copies)
        clamp: bool = True,  # False reproduces the seed, which never clamped
    ) -> None:
        self.eps, self.clamp = list(eps), clamp

    def perturb(
        self, model: nn.Module, x: torch.Tensor, y: torch.Tensor
    ) -> Iterator[tuple[float, torch.Tensor]]:
        sign = input_gradient_sign(model, x, y)
        for eps in self.eps:
            yield eps, fgsm_step(x, sign, eps, clamp=self.clamp).detach()

    def perturb_stacked(self, stacked: Stacked, x: torch.Tensor, y: torch.Tensor
                        ) -> Iterator[tuple[float, torch.Tensor]]:
        """`perturb` on every stacked net at once: (eps, (K, B, ...) adversarials)."""
        sign = stacked_gradient_sign(stacked, x, y)
        for eps in self.eps:
            yield eps, fgsm_step(x.unsqueeze(0), sign, eps, clamp=self.clamp).detach()
