"""Post-training, weight-only, symmetric uniform quantization (data-free)."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import torch
from pydantic import Field
from torch import nn

from innr_bench.compress.base import CompressContext, Compressed, named_weights
from innr_bench.registry import COMPRESSORS

Granularity = Literal["per-channel", "per-tensor"]


def quantize_tensor(
    weight: torch.Tensor, bits: int, granularity: Granularity
) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer codes in [-(2^(b-1)-1), 2^(b-1)-1] and fp32 scales (one per output channel or tensor)."""
    levels = 2 ** (bits - 1) - 1
    rows = weight.reshape(weight.shape[0], -1) if granularity == "per-channel" else weight.reshape(1, -1)
    scales = rows.abs().amax(dim=1, keepdim=True).clamp_min(1e-12) / levels
    codes = torch.round(rows / scales).clamp(-levels, levels).to(torch.int8)
    return codes.reshape(weight.shape), scales.reshape(-1).float()


def dequantize_tensor(codes: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    rows = codes.reshape(len(scales), -1).float() * scales.reshape(-1, 1)
    return rows.reshape(codes.shape)


@COMPRESSORS.register("quantize")
class Quantize:
    """Post-training weight quantization: symmetric uniform, per-channel or per-tensor scales."""

    data_free = True

    def __init__(
        self,
        *,
        bits: Annotated[int, Field(ge=2, le=8)] = 8,
        granularity: Granularity = "per-channel",
    ) -> None:
        self.bits, self.granularity = bits, granularity

    def compress(self, model: nn.Module, ctx: CompressContext) -> Compressed:
        start = time.perf_counter()
        tensors: dict[str, torch.Tensor] = {}
        size = 0
        for name, weight in named_weights(model).items():
            codes, scales = quantize_tensor(weight, self.bits, self.granularity)
            tensors[name], tensors[name + ".scale"] = codes, scales
            # codes packed at `bits` each, fp32 scales; int8 containers in the cache are a
            # convenience, not what one must store
            size += math.ceil(codes.numel() * self.bits / 8) + 4 * scales.numel()
        meta = {"bits": self.bits, "granularity": self.granularity}
        return Compressed("quantize", tensors, meta, size, {"seconds": time.perf_counter() - start})

    @staticmethod
    def decode(tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        return {name: dequantize_tensor(codes, tensors[name + ".scale"])
                for name, codes in tensors.items() if not name.endswith(".scale")}
