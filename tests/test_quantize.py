from __future__ import annotations

import math

import pytest
import torch

from innr_bench.compress.base import CompressContext, fp32_bytes
from innr_bench.compress.quantize import Quantize, dequantize_tensor, quantize_tensor
from innr_bench.config import parse_suite
from innr_bench.errors import ConfigError
from innr_bench.models.seed_cnn import seed_cnn
from innr_bench.progress import Progress

CPU = CompressContext(seed=0, device=torch.device("cpu"), progress=Progress(enabled=False))


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
@pytest.mark.parametrize("granularity", ["per-channel", "per-tensor"])
def test_error_is_at_most_half_a_step(bits: int, granularity: str) -> None:
    weight = torch.randn(6, 3, 5, 5)
    codes, scales = quantize_tensor(weight, bits, granularity)
    assert codes.abs().max() <= 2 ** (bits - 1) - 1
    assert len(scales) == (6 if granularity == "per-channel" else 1)
    step = scales.max()
    assert (dequantize_tensor(codes, scales) - weight).abs().max() <= step / 2 + 1e-6


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_size_counts_packed_codes_and_scales(bits: int) -> None:
    model = seed_cnn(c=32)
    compressed = Quantize(bits=bits).compress(model, CPU)
    channels = 32 + 64 + 10
    expected = sum(math.ceil(p.numel() * bits / 8) for p in model.parameters()) + 4 * channels
    assert compressed.size_bytes == expected
    assert compressed.size_bytes < fp32_bytes(model) * bits / 32 + 4 * channels + 3
    rebuilt = compressed.reconstruct(model)
    assert all(torch.isfinite(p).all() for p in rebuilt.parameters())


def test_bad_bits_and_granularity_are_config_errors() -> None:
    base = {"name": "t", "seeds": [0], "datasets": [{"name": "synthetic"}],
            "targets": [{"name": "seed-cnn"}]}
    with pytest.raises(ConfigError, match=r"compressors\[0\]\.params\.bits: 9 is invalid"):
        parse_suite(base | {"compressors": [{"name": "quantize", "params": {"bits": 9}}]})
    with pytest.raises(ConfigError, match=r"compressors\[0\]\.params\.granularity: 'per-row' is invalid"):
        parse_suite(base | {"compressors": [{"name": "quantize", "params": {"granularity": "per-row"}}]})
