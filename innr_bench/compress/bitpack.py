"""Unsigned integer codes packed at an exact bit width into a uint8 byte stream, and back."""

from __future__ import annotations

import math

import torch

MAX_BITS = 32  # codes up to 32 bits: indices into tensors of up to 4G entries


def packed_bytes(count: int, bits: int) -> int:
    """Bytes that `count` codes of `bits` bits occupy once packed."""
    return math.ceil(count * bits / 8)


def pack_bits(codes: torch.Tensor, bits: int) -> torch.Tensor:
    """Pack non-negative integer codes < 2**bits (any shape, flattened) into ceil(n*bits/8) bytes."""
    if not 1 <= bits <= MAX_BITS:
        raise ValueError(f"bits must be in 1..{MAX_BITS}, got {bits}")
    flat = codes.reshape(-1).to(torch.int64)
    if flat.numel() and (int(flat.min()) < 0 or int(flat.max()) >= 2**bits):
        raise ValueError(f"codes must lie in [0, {2**bits - 1}] for {bits} bits")
    shifts = torch.arange(bits, dtype=torch.int64)
    bit_stream = ((flat.unsqueeze(1) >> shifts) & 1).reshape(-1)  # little-endian bits per code
    padding = (-bit_stream.numel()) % 8
    bit_stream = torch.cat([bit_stream, bit_stream.new_zeros(padding)]).reshape(-1, 8)
    return (bit_stream << torch.arange(8, dtype=torch.int64)).sum(1).to(torch.uint8)


def unpack_bits(packed: torch.Tensor, bits: int, count: int) -> torch.Tensor:
    """The first `count` codes (int64) from `pack_bits`' output."""
    bit_stream = (packed.to(torch.int64).unsqueeze(1) >> torch.arange(8, dtype=torch.int64)) & 1
    bits_needed = count * bits
    if bit_stream.numel() < bits_needed:
        raise ValueError(f"{packed.numel()} bytes hold fewer than {count} codes of {bits} bits")
    per_code = bit_stream.reshape(-1)[:bits_needed].reshape(count, bits)
    return (per_code << torch.arange(bits, dtype=torch.int64)).sum(1)
