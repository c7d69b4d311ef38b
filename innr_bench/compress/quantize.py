"""Weight-only uniform quantization: symmetric or asymmetric (affine), per-channel or per-tensor,
1-16 bits, codes bit-packed at their exact width. Post-training (data-free) by default;
`finetune_epochs` first trains the weights on the training data through the same rounding with
straight-through gradients (quantization-aware fine-tuning), which makes the setting use data."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import torch
from pydantic import Field
from torch import nn

from innr_bench.compress.base import BaseCompressor, CompressContext, Encoding, named_weights
from innr_bench.compress.bitpack import pack_bits, unpack_bits
from innr_bench.compress.finetune import train_through
from innr_bench.errors import ConfigError
from innr_bench.registry import COMPRESSORS

Granularity = Literal["per-channel", "per-tensor"]
Scheme = Literal["symmetric", "asymmetric"]
MAX_QUANT_BITS = 16  # wider codes approach fp32's own size; 16 is the useful ceiling
Bits = Annotated[int, Field(ge=1, le=MAX_QUANT_BITS)]


@dataclass
class Quantized:
    """Codes in [0, 2^bits), one fp32 scale per row and, for the affine scheme, integer zero points."""

    codes: torch.Tensor
    scales: torch.Tensor
    zero_points: torch.Tensor  # the symmetric scheme's fixed zero point is 2^(bits-1) - 1


def _rows(weight: torch.Tensor, granularity: Granularity) -> torch.Tensor:
    """Rows that share a scale: output channels, or the whole tensor (always for 1-D tensors such
    as biases, where one scale per value would cost more than the values)."""
    per_channel = granularity == "per-channel" and weight.dim() > 1
    return weight.reshape(weight.shape[0], -1) if per_channel else weight.reshape(1, -1)


def quantize_tensor(weight: torch.Tensor, bits: int, granularity: Granularity, scheme: Scheme) -> Quantized:
    """Round `weight` to `bits`-bit codes; the error is at most half a step everywhere."""
    rows = _rows(weight.float(), granularity)
    if scheme == "symmetric":
        if bits < 2:
            raise ValueError("symmetric quantization needs at least 2 bits")
        levels = 2 ** (bits - 1) - 1  # codes -levels..levels: zero is exact, one code unused
        scales = rows.abs().amax(1, keepdim=True).clamp_min(1e-12) / levels
        zero_points = torch.full_like(scales, levels)
    else:
        top = 2**bits - 1
        low, high = rows.amin(1, keepdim=True).clamp_max(0), rows.amax(1, keepdim=True).clamp_min(0)
        scales = ((high - low) / top).clamp_min(1e-12)  # the range holds zero, so it is exact
        zero_points = torch.round(-low / scales).clamp(0, top)
    codes = (torch.round(rows / scales) + zero_points).clamp(0, 2**bits - 1)
    return Quantized(codes.to(torch.int64), scales.reshape(-1), zero_points.reshape(-1).to(torch.int64))


def dequantize_tensor(q: Quantized, shape: torch.Size | list[int]) -> torch.Tensor:
    rows = (q.codes.reshape(len(q.scales), -1) - q.zero_points.reshape(-1, 1)).float()
    return (rows * q.scales.reshape(-1, 1)).reshape(shape)


class FakeQuantized(nn.Module):
    """A weight as `quantize` will store it, with a straight-through gradient to the float weight."""

    def __init__(self, bits: int, granularity: Granularity, scheme: Scheme) -> None:
        super().__init__()
        self.bits, self.granularity, self.scheme = bits, granularity, scheme

    def forward(self, original: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            q = quantize_tensor(original, self.bits, self.granularity, self.scheme)
            rounded = dequantize_tensor(q, original.shape).to(original.dtype)
        return original + (rounded - original).detach()


def pack_quantized(name: str, q: Quantized, bits: int, scheme: Scheme) -> dict[str, torch.Tensor]:
    """The tensors one stores: packed codes, fp32 scales, packed zero points (affine only)."""
    stored = {f"{name}.codes": pack_bits(q.codes, bits), f"{name}.scale": q.scales.float()}
    if scheme == "asymmetric":
        stored[f"{name}.zero_point"] = pack_bits(q.zero_points, bits)
    return stored


def unpack_quantized(
    tensors: Mapping[str, torch.Tensor], name: str, shape: list[int], bits: int, scheme: Scheme
) -> Quantized:
    scales = tensors[f"{name}.scale"]
    count = int(torch.Size(shape).numel())
    codes = unpack_bits(tensors[f"{name}.codes"], bits, count)
    if scheme == "asymmetric":
        zero_points = unpack_bits(tensors[f"{name}.zero_point"], bits, len(scales))
    else:
        zero_points = torch.full((len(scales),), 2 ** (bits - 1) - 1, dtype=torch.int64)
    return Quantized(codes, scales, zero_points)


@COMPRESSORS.register("quantize")
class Quantize(BaseCompressor):
    """Post-training weight quantization: uniform, symmetric or asymmetric, per-channel or per-tensor."""

    def __init__(
        self, *, bits: Bits = 8, granularity: Granularity = "per-channel", scheme: Scheme = "symmetric",
        # quantization-aware training on the data; None (unset, so earlier cells keep their
        # keys): post-training only
        finetune_epochs: Annotated[int, Field(ge=1)] | None = None,
        finetune_lr: Annotated[float, Field(gt=0)] | None = None,  # None: a tenth of the target's lr
    ) -> None:
        if scheme == "symmetric" and bits < 2:
            raise ConfigError(f"bits: {bits} is invalid for scheme 'symmetric' (it needs at least 2 "
                              "bits; use scheme: asymmetric for 1 bit)")
        self.bits, self.granularity, self.scheme = bits, granularity, scheme
        self.finetune_epochs, self.finetune_lr = finetune_epochs, finetune_lr
        self.data_free = finetune_epochs is None

    def encode(self, model: nn.Module, ctx: CompressContext, **options: Any) -> Encoding:
        tensors: dict[str, torch.Tensor] = {}
        steps = 0
        if self.finetune_epochs:
            # The float weights train through the rounding; quantizing them afterwards stores
            # exactly what the last forward pass used.
            model = copy.deepcopy(model)
            forms = {name: FakeQuantized(self.bits, self.granularity, self.scheme)
                     for name, _ in model.named_parameters()}
            recipe_lr = (ctx.train.lr if ctx.train else 1e-3) / 10
            steps = train_through(model, forms, ctx, epochs=self.finetune_epochs,
                                  lr=self.finetune_lr or recipe_lr, seed=ctx.seed * 1000 + 2,
                                  who="quantize", keep_originals=True)
        weights = named_weights(model)
        for name, weight in weights.items():
            q = quantize_tensor(weight, self.bits, self.granularity, self.scheme)
            tensors |= pack_quantized(name, q, self.bits, self.scheme)
        meta = {"bits": self.bits, "granularity": self.granularity, "scheme": self.scheme,
                "shapes": {name: list(w.shape) for name, w in weights.items()}}
        zero_points = f" + {self.bits}-bit zero points" if self.scheme == "asymmetric" else ""
        tuned = f", quantization-aware {steps} steps" if self.finetune_epochs else ""
        info = {"finetune_steps": steps,
                "storage": f"{self.bits}-bit codes + fp32 scales{zero_points} ({self.granularity}{tuned})"}
        return Encoding(tensors, meta, info, buffers_from=model)

    @staticmethod
    def decode(tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        bits, scheme = meta["bits"], meta.get("scheme", "symmetric")
        return {name: dequantize_tensor(unpack_quantized(tensors, name, shape, bits, scheme), shape)
                for name, shape in meta["shapes"].items()}
