"""FINER (Liu et al., CVPR 2024): variable-periodic sines sin(w0 (|z| + 1) z), |z| + 1 taken
without gradient as in the authors' code, on SIREN's initialization; the first layer's biases
are drawn from U(-k, k) (`first_bias_scale`), which spreads the units over the sine's wider
spectrum."""

from __future__ import annotations

import math

import torch
from torch import nn

from innr_bench.compress.innr.fields.base import HeadField
from innr_bench.params import PositiveFloat, PositiveInt
from innr_bench.registry import FIELDS


class FinerLayer(nn.Module):
    """sin(w0 (|z| + 1) z) with z = x W^T + b; SIREN's init, first-layer biases U(-k, k)."""

    def __init__(self, dim_in: int, dim_out: int, *, w0: float, first: bool, bias_scale: float) -> None:
        super().__init__()
        self.w0 = w0
        self.linear = nn.Linear(dim_in, dim_out)
        bound = 1.0 / dim_in if first else math.sqrt(6.0 / dim_in) / w0
        with torch.no_grad():
            self.linear.weight.uniform_(-bound, bound)
            if first:
                self.linear.bias.uniform_(-bias_scale, bias_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.linear(x)
        with torch.no_grad():
            scale = z.abs() + 1
        return torch.sin(self.w0 * scale * z)


@FIELDS.register("finer", size="width")
class FinerField(HeadField):
    """FINER: variable-periodic sine layers sin(w0 (|z|+1) z) (Liu et al. 2024), linear head."""

    def __init__(
        self,
        *,
        dim_in: int,
        dim_out: int,
        width: PositiveInt = 64,
        depth: PositiveInt = 3,
        w0: PositiveFloat = 30.0,
        w0_initial: PositiveFloat = 30.0,
        first_bias_scale: PositiveFloat = 1.0,  # authors' SDF setting; larger widens the spectrum
    ) -> None:
        super().__init__()
        self.width, self.depth = width, depth
        self.hidden = nn.Sequential(*(
            FinerLayer(dim_in if i == 0 else width, width, w0=w0_initial if i == 0 else w0,
                       first=i == 0, bias_scale=first_bias_scale)
            for i in range(depth)))
        self.head = nn.Linear(width, dim_out)
        with torch.no_grad():  # SIREN's output layer: U(-sqrt(6/width)/w0, ...)
            bound = math.sqrt(6.0 / width) / w0
            self.head.weight.uniform_(-bound, bound)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.hidden(x)

    def describe(self) -> str:
        return f"FINER {self.width}x{self.depth}"
