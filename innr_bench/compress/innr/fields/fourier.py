"""Fourier features and a ReLU MLP (Tancik et al., NeurIPS 2020).

gamma(v) = [sin(2 pi B v), cos(2 pi B v)] with B ~ N(0, sigma^2) of shape (frequencies, dim_in),
then `depth` ReLU layers and a linear head. B is fixed, never trained, and drawn from its own
generator seeded by `seed`, so it is rebuilt at decoding and never stored (a non-persistent
buffer); what is stored is the MLP.
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


@FIELDS.register("fourier-mlp", size="width")
class FourierMLP(HeadField):
    """Gaussian random Fourier features of the coordinates, then a ReLU MLP (Tancik et al. 2020)."""

    def __init__(
        self,
        *,
        dim_in: int,
        dim_out: int,
        width: PositiveInt = 64,
        depth: PositiveInt = 3,
        frequencies: PositiveInt = 32,  # rows of B: the encoding has twice as many features
        # std of B on [-1, 1] coordinates (the paper's sigma on [0, 1] is twice this); tuned
        sigma: Annotated[float, Field(gt=0)] = 1.0,
        seed: Annotated[int, Field(ge=0)] = 0,
    ) -> None:
        super().__init__()
        self.width, self.depth, self.sigma = width, depth, sigma
        generator = torch.Generator().manual_seed(seed)
        projection = torch.randn(frequencies, dim_in, generator=generator) * sigma
        self.register_buffer("projection", projection, persistent=False)
        self.hidden = mlp(2 * frequencies, width, depth, nn.ReLU)
        self.head = nn.Linear(width, dim_out)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        angles = (2 * math.pi) * x @ self.projection.T
        return self.hidden(torch.cat([torch.sin(angles), torch.cos(angles)], dim=1))

    def describe(self) -> str:
        return f"Fourier features (sigma {self.sigma:g}) + ReLU MLP {self.width}x{self.depth}"
