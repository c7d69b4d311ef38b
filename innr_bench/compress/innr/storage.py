"""Storage precision of the INNR's own weights: fp32, fp16, or integer codes with one fp32 scale
per tensor (`precision: int8`, `bits` 2..8: codes in -(2^(bits-1)-1)..2^(bits-1)-1, packed at
`bits` bits). Integer codes may be Huffman-coded (`entropy: huffman`), tensor by tensor, where
that is smaller, or coded losslessly all together by the standard codec, MPEG NNC's DeepCABAC
(`entropy: nnc`, the `[nnc]` extra), where that is smaller than their fixed-width sum.
`fake_quantize` is the same rounding with a straight-through gradient, for quantization-aware
fitting."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Annotated, Any, Literal

import numpy as np
import torch
from pydantic import Field

from innr_bench.compress.bitpack import pack_bits, unpack_bits
from innr_bench.compress.huffman import huffman_decode, huffman_encode
from innr_bench.errors import CorruptArtifactError

Precision = Literal["fp32", "fp16", "int8"]
Entropy = Literal["none", "huffman", "nnc"]
SCALE_SUFFIX = ".scale"
HUFFMAN_SUFFIX = ".huffman"  # integer codes stored as a Huffman-coded byte stream
PACKED_SUFFIX = ".packed"  # integer codes narrower than 8 bits, bit-packed
INT8_OFFSET = 128  # codes -127..127 as byte symbols 1..255
NNC_KEY = "nnc-codes"  # every tensor's integer codes in one lossless NNC bitstream (uint8)


@dataclass(frozen=True, kw_only=True)
class StorageSpec:
    """How the field's own weights are stored: precision, code width, entropy coding."""

    precision: Precision = "fp16"
    bits: Annotated[int, Field(ge=2, le=8)] = 8  # code width of precision int8
    # huffman: integer codes Huffman-coded tensor by tensor where smaller; nnc: all codes in one
    # lossless NNC (DeepCABAC) bitstream where smaller (precision int8)
    entropy: Entropy = "none"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def code_bits(self) -> int | None:
        """The width the field's weights are rounded to when stored (None: fp16/fp32)."""
        return self.bits if self.precision == "int8" else None

    def describe(self) -> str:
        precision = f"int{self.bits}" if self.precision == "int8" else self.precision
        return precision + {"none": "", "huffman": " + Huffman", "nnc": " + NNC"}[self.entropy]


def levels(bits: int) -> int:
    """Largest code magnitude of a symmetric `bits`-bit quantizer (zero stays exactly zero)."""
    return 2 ** (bits - 1) - 1


def _scale(value: torch.Tensor, bits: int) -> torch.Tensor:
    return value.detach().abs().max().clamp_min(1e-12) / levels(bits)


def quantize_codes(value: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-tensor codes (int64) and their fp32 scale."""
    scale = _scale(value.float(), bits)
    codes = torch.round(value.float() / scale).clamp(-levels(bits), levels(bits))
    return codes.to(torch.int64), scale


def fake_quantize(value: torch.Tensor, bits: int) -> torch.Tensor:
    """`value` rounded exactly as `pack` stores it; gradients pass straight through the rounding."""
    scale = _scale(value, bits)
    rounded = torch.round(value / scale).clamp(-levels(bits), levels(bits)) * scale
    return value + (rounded - value).detach()


def pack(
    state: Mapping[str, torch.Tensor], precision: Precision, entropy: Entropy = "none", bits: int = 8,
) -> dict[str, torch.Tensor]:
    """Tensors to store: cast to fp16, or integer codes plus one fp32 scale per tensor. With
    `entropy: huffman` each code tensor is kept as a Huffman stream where that is smaller (so a
    stored tensor never exceeds its fixed-width size); with `entropy: nnc` the codes of every
    tensor are one NNC bitstream where that is smaller than their fixed-width sum."""
    if precision == "fp32":
        return {k: v.detach().float().cpu() for k, v in state.items()}
    if precision == "fp16":
        return {k: v.detach().half().cpu() for k, v in state.items()}
    packed, all_codes, fixed_keys = {}, {}, []
    for name, value in state.items():
        codes, scale = quantize_codes(value.detach().cpu(), bits)
        if bits == 8:
            fixed_key, fixed = name, codes.to(torch.int8)
        else:
            fixed_key, fixed = name + PACKED_SUFFIX, pack_bits(codes + levels(bits), bits)
        coded = huffman_encode(codes + INT8_OFFSET) if entropy == "huffman" else None
        if coded is not None and coded.numel() < fixed.numel():
            packed[name + HUFFMAN_SUFFIX] = coded
        else:
            packed[fixed_key] = fixed
            fixed_keys.append(fixed_key)
        all_codes[name] = codes
        packed[name + SCALE_SUFFIX] = scale.reshape(1)
    if entropy == "nnc":
        bitstream = _nnc_lossless(all_codes)
        if len(bitstream) < sum(packed[key].numel() for key in fixed_keys):
            kept = {k: v for k, v in packed.items() if k.endswith(SCALE_SUFFIX)}
            return {**kept, NNC_KEY: torch.frombuffer(bytearray(bitstream), dtype=torch.uint8)}
    return packed


def _nnc_lossless(codes: Mapping[str, torch.Tensor]) -> bytes:
    """The integer codes as one NNC bitstream (int32 arrays, which NNC codes without loss)."""
    from innr_bench.compress import nnc_codec  # the optional codec, loaded only where used

    arrays = {name: c.reshape(c.shape or (1,)).numpy().astype(np.int32) for name, c in codes.items()}
    return nnc_codec.encode(arrays)[0]


def unpack(
    tensors: Mapping[str, torch.Tensor], precision: Precision,
    shapes: Mapping[str, torch.Size] | None = None, bits: int = 8,
) -> dict[str, torch.Tensor]:
    """fp32 state dict back from `pack`'s output; Huffman-coded and bit-packed tensors need their
    `shapes`."""
    if precision != "int8":
        return {k: v.float() for k, v in tensors.items()}
    state = {}
    if NNC_KEY in tensors:
        from innr_bench.compress import nnc_codec

        decoded = nnc_codec.decode(tensors[NNC_KEY].numpy().tobytes())
        scaled = {k.removesuffix(SCALE_SUFFIX) for k in tensors if k.endswith(SCALE_SUFFIX)}
        if not set(decoded) <= scaled:
            raise CorruptArtifactError(f"the field's NNC bitstream holds {sorted(set(decoded) - scaled)}, "
                                       "which have no stored scale")
        for name, codes in decoded.items():
            shape = shapes[name] if shapes is not None else codes.shape
            values = torch.from_numpy(codes.astype(np.float32)).reshape(shape)
            state[name] = values * tensors[name + SCALE_SUFFIX]
    for key, value in tensors.items():
        if key.endswith(SCALE_SUFFIX) or key == NNC_KEY:
            continue
        name = key.removesuffix(HUFFMAN_SUFFIX).removesuffix(PACKED_SUFFIX)
        if key != name and shapes is None:
            raise ValueError(f"{name}: a Huffman-coded or bit-packed tensor needs its shape to decode")
        if key.endswith(HUFFMAN_SUFFIX):
            value = (huffman_decode(value) - INT8_OFFSET).reshape(shapes[name])
        elif key.endswith(PACKED_SUFFIX):
            count = int(torch.Size(shapes[name]).numel())
            value = (unpack_bits(value, bits, count) - levels(bits)).reshape(shapes[name])
        state[name] = value.float() * tensors[name + SCALE_SUFFIX].float()
    return state
