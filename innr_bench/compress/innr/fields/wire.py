"""WIRE (Saragadam et al., CVPR 2023), real variant: the Gabor wavelet cos(w0 z) exp(-(s0 z)^2)
after each linear layer (one linear map feeds both factors, as in FINER++'s RealGaborLayer).
The complex original spends two reals per weight; the real one keeps the bytes simple to count.
PyTorch's default initialization, as in the authors' code."""

from __future__ import annotations

import torch
from torch import nn

from innr_bench.compress.innr.fields.base import HeadField, mlp
from innr_bench.compress.innr.fields.gauss import gaussian
from innr_bench.params import PositiveFloat, PositiveInt
from innr_bench.registry import FIELDS


class Gabor(nn.Module):
    """cos(w0 x) exp(-(s0 x)^2), element-wise."""

    def __init__(self, w0: float, s0: float) -> None:
        super().__init__()
        self.w0, self.s0 = w0, s0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cos(self.w0 * x) * gaussian(self.s0 * x)


@FIELDS.register("wire", size="width", version=2)  # 2: the envelope never subnormal
class WireField(HeadField):
    """An MLP with real Gabor-wavelet activations cos(w0 z) exp(-(s0 z)^2) (WIRE, real), linear head."""

    def __init__(
        self,
        *,
        dim_in: int,
        dim_out: int,
        width: PositiveInt = 64,
        depth: PositiveInt = 3,
        w0: PositiveFloat = 10.0,  # the wavelet's frequency (authors: 10-30 by task)
        s0: PositiveFloat = 5.0,  # the envelope's inverse width (authors: 5-40 by task)
    ) -> None:
        super().__init__()
        self.width, self.depth, self.w0, self.s0 = width, depth, w0, s0
        self.hidden = mlp(dim_in, width, depth, lambda: Gabor(w0, s0))
        self.head = nn.Linear(width, dim_out)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.hidden(x)

    def describe(self) -> str:
        return f"WIRE (w0 {self.w0:g}, s0 {self.s0:g}) {self.width}x{self.depth}"
