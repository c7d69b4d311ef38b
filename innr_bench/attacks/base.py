"""The protocol every attack follows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import torch
from torch import nn


class Attack(Protocol):
    """A registered attack class: keyword-only options in __init__, then `perturb`."""

    eps: list[float]

    def perturb(
        self, model: nn.Module, x: torch.Tensor, y: torch.Tensor
    ) -> Iterator[tuple[float, torch.Tensor]]:
        """Yield (eps, adversarial batch) for every eps, crafted on `model`."""
        ...
