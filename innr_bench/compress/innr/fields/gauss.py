"""Gaussian activations (Ramasinghe & Lucey, ECCV 2022): exp(-(scale * z)^2) after each linear
layer, which is exp(-z^2 / (2 s^2)) with scale = 1 / (sqrt(2) s), as in the authors' and WIRE's
code. No special initialization: PyTorch's default."""

from __future__ import annotations

from typing import Annotated

import torch
from pydantic import Field
from torch import nn

from innr_bench.compress.innr.fields.base import HeadField, mlp
from innr_bench.params import PositiveInt
from innr_bench.registry import FIELDS

# exp(-80) ~ 1.8e-35 is as small as a Gaussian unit gets: below that the values are subnormal
# floats, which made a fit 3-20x slower on the CPU (measured: a LeNet-300-100 fit at scale 9 took
# 176 s against 8 s at scale 3) for a difference of at most 1.8e-35 in any output.
MAX_EXPONENT = 80.0


def gaussian(x: torch.Tensor) -> torch.Tensor:
    """exp(-x^2), never subnormal."""
    return torch.exp(-x.square().clamp(max=MAX_EXPONENT))


class Gaussian(nn.Module):
    """exp(-(scale * x)^2), element-wise."""

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return gaussian(self.scale * x)


@FIELDS.register("gauss", size="width", version=2)  # 2: outputs never subnormal
class GaussField(HeadField):
    """An MLP with Gaussian activations exp(-(scale z)^2) (Ramasinghe & Lucey 2022), linear head."""

    def __init__(
        self,
        *,
        dim_in: int,
        dim_out: int,
        width: PositiveInt = 64,
        depth: PositiveInt = 3,
        scale: Annotated[float, Field(gt=0)] = 2.0,  # bump width 1/scale: tuned for these grids
    ) -> None:
        super().__init__()
        self.width, self.depth, self.scale = width, depth, scale
        self.hidden = mlp(dim_in, width, depth, lambda: Gaussian(scale))
        self.head = nn.Linear(width, dim_out)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.hidden(x)

    def describe(self) -> str:
        return f"Gauss (scale {self.scale:g}) {self.width}x{self.depth}"
