"""Storage precision of the INNR's own weights: fp32, fp16, or int8 with per-tensor scales;
int8 codes may be Huffman-coded (`entropy: huffman`), tensor by tensor, where that is smaller."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import torch

from innr_bench.compress.huffman import huffman_decode, huffman_encode

Precision = Literal["fp32", "fp16", "int8"]
Entropy = Literal["none", "huffman"]
SCALE_SUFFIX = ".scale"
HUFFMAN_SUFFIX = ".huffman"  # an int8 tensor stored as a Huffman-coded byte stream
INT8_OFFSET = 128  # int8 codes -127..127 as byte symbols 1..255


def pack(
    state: Mapping[str, torch.Tensor], precision: Precision, entropy: Entropy = "none"
) -> dict[str, torch.Tensor]:
    """Tensors to store: cast to fp16, or int8 values plus one fp32 scale per tensor. With
    `entropy: huffman` each int8 tensor is kept as a Huffman stream where that is smaller (so a
    stored tensor never exceeds its 8-bit size)."""
    if precision == "fp32":
        return {k: v.detach().float().cpu() for k, v in state.items()}
    if precision == "fp16":
        return {k: v.detach().half().cpu() for k, v in state.items()}
    packed = {}
    for name, value in state.items():
        value = value.detach().float().cpu()
        scale = value.abs().max().clamp_min(1e-12) / 127.0  # symmetric: zero stays exactly zero
        codes = torch.round(value / scale).clamp(-127, 127).to(torch.int8)
        coded = huffman_encode(codes.to(torch.int64) + INT8_OFFSET) if entropy == "huffman" else None
        if coded is not None and coded.numel() < codes.numel():
            packed[name + HUFFMAN_SUFFIX] = coded
        else:
            packed[name] = codes
        packed[name + SCALE_SUFFIX] = scale.reshape(1)
    return packed


def unpack(
    tensors: Mapping[str, torch.Tensor], precision: Precision,
    shapes: Mapping[str, torch.Size] | None = None,
) -> dict[str, torch.Tensor]:
    """fp32 state dict back from `pack`'s output; Huffman-coded tensors need their `shapes`."""
    if precision != "int8":
        return {k: v.float() for k, v in tensors.items()}
    state = {}
    for key, value in tensors.items():
        if key.endswith(SCALE_SUFFIX):
            continue
        name = key.removesuffix(HUFFMAN_SUFFIX)
        if key.endswith(HUFFMAN_SUFFIX):
            if shapes is None:
                raise ValueError(f"{name}: a Huffman-coded tensor needs its shape to decode")
            value = (huffman_decode(value) - INT8_OFFSET).reshape(shapes[name])
        state[name] = value.float() * tensors[name + SCALE_SUFFIX].float()
    return state
