"""INNR storage: integer codes of any width, entropy coding, straight-through fake quantization."""

from __future__ import annotations

import math

import pytest
import torch

from innr_bench.compress.base import payload_bytes
from innr_bench.compress.innr import storage


@pytest.mark.parametrize("bits", [2, 3, 4, 6, 8])
@pytest.mark.parametrize("entropy", ["none", "huffman"])
def test_stored_codes_decode_to_the_fake_quantized_weights(bits: int, entropy: str) -> None:
    torch.manual_seed(bits)
    state = {"w": torch.randn(40, 30), "b": torch.randn(7)}
    packed = storage.pack(state, "int8", entropy, bits)
    shapes = {k: v.shape for k, v in state.items()}
    unpacked = storage.unpack(packed, "int8", shapes, bits)
    for name, value in state.items():
        assert torch.equal(unpacked[name], storage.fake_quantize(value, bits))
        assert len(unpacked[name].unique()) <= 2 ** bits - 1


@pytest.mark.parametrize("bits", [3, 5, 7])
def test_narrow_codes_take_bits_per_value_plus_a_scale(bits: int) -> None:
    packed = storage.pack({"w": torch.randn(1000)}, "int8", "none", bits)
    assert payload_bytes(packed) == math.ceil(1000 * bits / 8) + 4


def test_fake_quantize_passes_gradients_straight_through() -> None:
    value = torch.randn(50, requires_grad=True)
    storage.fake_quantize(value, 4).sum().backward()
    assert torch.equal(value.grad, torch.ones(50))

