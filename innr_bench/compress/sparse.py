"""Which entries of a tensor are kept: a bitmap or a list of positions, whichever is smaller."""

from __future__ import annotations

import math
from typing import Literal

import torch

from innr_bench.compress.bitpack import pack_bits, packed_bytes, unpack_bits

MaskFormat = Literal["bitmap", "indices"]


def index_bits(numel: int) -> int:
    """Bits of one position in a tensor of `numel` entries."""
    return max(1, math.ceil(math.log2(numel))) if numel > 1 else 1


def encode_mask(mask: torch.Tensor) -> tuple[torch.Tensor, MaskFormat]:
    """The smaller of a 1-bit-per-entry bitmap and the kept positions packed at index_bits each."""
    flat = mask.reshape(-1).bool()
    bits = index_bits(flat.numel())
    kept = int(flat.sum())
    if packed_bytes(kept, bits) < packed_bytes(flat.numel(), 1):
        return pack_bits(flat.nonzero().reshape(-1), bits), "indices"
    return pack_bits(flat.long(), 1), "bitmap"


def decode_mask(stored: torch.Tensor, fmt: MaskFormat, numel: int, kept: int) -> torch.Tensor:
    """The flat boolean mask back from `encode_mask`'s output."""
    if fmt == "bitmap":
        return unpack_bits(stored, 1, numel).bool()
    mask = torch.zeros(numel, dtype=torch.bool)
    mask[unpack_bits(stored, index_bits(numel), kept)] = True
    return mask
