"""SIREN (Sitzmann et al., NeurIPS 2020) with the layout and initialization of siren-pytorch's
`SirenNet`: the study's field, and the one every published innr-siren result was made with."""

from __future__ import annotations

import math

import torch
from torch import nn

from innr_bench.params import PositiveFloat, PositiveInt
from innr_bench.registry import FIELDS


class SineLayer(nn.Module):
    """sin(w0 * (x W^T + b)); or the plain affine map when `sine` is False (output layer)."""

    def __init__(self, dim_in: int, dim_out: int, *, w0: float, is_first: bool, sine: bool = True):
        super().__init__()
        self.w0, self.sine = w0, sine
        # siren-pytorch's init: U(-1/fan_in, 1/fan_in) for the first layer, else
        # U(-sqrt(6/fan_in)/w0, +sqrt(6/fan_in)/w0); weights then biases, drawn in that order
        # so the same RNG seed gives the same network.
        bound = 1.0 / dim_in if is_first else math.sqrt(6.0 / dim_in) / w0
        self.weight = nn.Parameter(torch.zeros(dim_out, dim_in).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.zeros(dim_out).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = nn.functional.linear(x, self.weight, self.bias)
        return torch.sin(self.w0 * out) if self.sine else out


@FIELDS.register("siren", size="width")
class Siren(nn.Module):
    """SIREN: `depth` sine layers of `width` (the first with w0_initial, the rest w0), linear output."""

    head: nn.Linear  # the linear output: `features` then `head`, which the weight fit can solve

    def __init__(
        self,
        *,
        dim_in: int,
        dim_out: int,
        width: PositiveInt = 64,
        depth: PositiveInt = 4,
        w0: PositiveFloat = 30.0,
        w0_initial: PositiveFloat = 30.0,
    ) -> None:
        super().__init__()
        self.width, self.depth = width, depth
        self.layers = nn.ModuleList(
            SineLayer(
                dim_in if i == 0 else width,
                width,
                w0=w0_initial if i == 0 else w0,
                is_first=i == 0,
            )
            for i in range(depth)
        )
        self.last_layer = SineLayer(width, dim_out, w0=w0, is_first=False, sine=False)

    @property
    def head(self) -> SineLayer:
        """The linear output layer (what the least-squares solve sets)."""
        return self.last_layer

    def features(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.last_layer(self.features(x))

    def describe(self) -> str:
        return f"SIREN {self.width}x{self.depth}"


def siren_parameter_count(*, dim_in: int, width: int, dim_out: int, depth: int) -> int:
    """Parameters of a Siren with this layout (weights and biases)."""
    first = (dim_in + 1) * width
    hidden = (depth - 1) * (width + 1) * width
    return first + hidden + (width + 1) * dim_out
