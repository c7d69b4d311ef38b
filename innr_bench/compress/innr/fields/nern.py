"""NeRN's predictor (Ashkenazi et al., ICLR 2023): a sin/cos positional encoding of the query
(filter, channel, layer) with frequencies that decrease geometrically (base < 1), then a ReLU
MLP whose output is a whole kernel (the `kernel` layout: one query per conv kernel).

NeRN encodes raw integer indices p with sin/cos(pi base^l p), l = 0..L-1 (their configs: L 40,
base 0.76). Our queries are in [-1, 1] per tensor, so the frequencies are scaled by
`max_frequency` (pi max_frequency base^l x): an index step of a layer with n filters is 2/(n-1),
so max_frequency ~ n/2 puts the top frequency where NeRN's is. PyTorch's default init, as theirs.
"""

from __future__ import annotations

import math
from typing import Annotated

import torch
from pydantic import Field
from torch import nn

from innr_bench.compress.innr.fields.base import HeadField, mlp
from innr_bench.params import PositiveInt
from innr_bench.registry import FIELDS


@FIELDS.register("nern", size="width")
class NernField(HeadField):
    """NeRN's kernel predictor: sin/cos encoding with decreasing frequencies, ReLU MLP (Ashkenazi 2023)."""

    def __init__(
        self,
        *,
        dim_in: int,
        dim_out: int,
        width: PositiveInt = 64,
        depth: PositiveInt = 4,  # NeRN: 5 linear layers, i.e. 4 hidden and the output
        frequencies: PositiveInt = 16,
        base: Annotated[float, Field(gt=0, lt=1)] = 0.76,  # NeRN's configs
        max_frequency: Annotated[float, Field(gt=0)] = 32.0,
    ) -> None:
        super().__init__()
        self.width, self.depth = width, depth
        scales = math.pi * max_frequency * base ** torch.arange(frequencies, dtype=torch.float32)
        self.register_buffer("scales", scales, persistent=False)
        self.hidden = mlp(2 * frequencies * dim_in, width, depth, nn.ReLU)
        self.head = nn.Linear(width, dim_out)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        angles = (x[:, :, None] * self.scales).flatten(1)  # (N, dim_in * frequencies)
        return self.hidden(torch.cat([torch.sin(angles), torch.cos(angles)], dim=1))

    def describe(self) -> str:
        return f"NeRN predictor {self.width}x{self.depth}"
