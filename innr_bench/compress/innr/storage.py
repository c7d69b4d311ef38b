"""Storage precision of the INNR's own weights: fp32, fp16, or int8 with per-tensor scales."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import torch

Precision = Literal["fp32", "fp16", "int8"]
SCALE_SUFFIX = ".scale"


def pack(state: Mapping[str, torch.Tensor], precision: Precision) -> dict[str, torch.Tensor]:
    """Tensors to store: cast to fp16, or int8 values plus one fp32 scale per tensor."""
    if precision == "fp32":
        return {k: v.detach().float().cpu() for k, v in state.items()}
    if precision == "fp16":
        return {k: v.detach().half().cpu() for k, v in state.items()}
    packed = {}
    for name, value in state.items():
        value = value.detach().float().cpu()
        scale = value.abs().max().clamp_min(1e-12) / 127.0  # symmetric: zero stays exactly zero
        packed[name] = torch.round(value / scale).clamp(-127, 127).to(torch.int8)
        packed[name + SCALE_SUFFIX] = scale.reshape(1)
    return packed


def unpack(tensors: Mapping[str, torch.Tensor], precision: Precision) -> dict[str, torch.Tensor]:
    """fp32 state dict back from `pack`'s output."""
    if precision != "int8":
        return {k: v.float() for k, v in tensors.items()}
    return {k: v.float() * tensors[k + SCALE_SUFFIX].float() for k, v in tensors.items()
            if not k.endswith(SCALE_SUFFIX)}
