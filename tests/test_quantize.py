from __future__ import annotations

import math

import pytest
import torch

from innr_bench.compress.base import CompressContext, fp32_bytes
from innr_bench.compress.bitpack import pack_bits, unpack_bits
from innr_bench.compress.kmeans import KMeansSharing, kmeans_1d
from innr_bench.compress.quantize import Quantize, dequantize_tensor, quantize_tensor
from innr_bench.config import parse_suite
from innr_bench.data.datasets import synthetic
from innr_bench.errors import ConfigError
from innr_bench.models.seed_cnn import seed_cnn
from innr_bench.models.train import TrainConfig
from innr_bench.progress import Progress
from innr_bench.registry import MODELS

CPU = CompressContext(seed=0, device=torch.device("cpu"), progress=Progress(enabled=False))
BASE = {"name": "t", "seeds": [0], "datasets": [{"name": "synthetic"}], "targets": [{"name": "seed-cnn"}]}


@pytest.mark.parametrize("bits", [1, 2, 3, 7, 8, 13, 16])
def test_bit_packing_round_trips_at_exact_width(bits: int) -> None:
    codes = torch.randint(0, 2**bits, (1001,))
    packed = pack_bits(codes, bits)
    assert packed.dtype == torch.uint8 and packed.numel() == math.ceil(1001 * bits / 8)
    assert torch.equal(unpack_bits(packed, bits, 1001), codes)


def test_bit_packing_rejects_codes_that_do_not_fit() -> None:
    with pytest.raises(ValueError, match=r"codes must lie in \[0, 7\]"):
        pack_bits(torch.tensor([8]), 3)


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
@pytest.mark.parametrize("granularity", ["per-channel", "per-tensor"])
@pytest.mark.parametrize("scheme", ["symmetric", "asymmetric"])
def test_error_is_at_most_half_a_step_and_zero_is_exact(bits: int, granularity: str, scheme: str) -> None:
    weight = torch.randn(6, 3, 5, 5) + (0.5 if scheme == "asymmetric" else 0.0)
    weight[0, 0, 0, 0] = 0.0
    q = quantize_tensor(weight, bits, granularity, scheme)
    assert int(q.codes.min()) >= 0 and int(q.codes.max()) < 2**bits
    assert len(q.scales) == (6 if granularity == "per-channel" else 1)
    restored = dequantize_tensor(q, weight.shape)
    assert (restored - weight).abs().max() <= q.scales.max() / 2 + 1e-6
    assert restored[0, 0, 0, 0] == 0.0


def test_asymmetric_uses_every_code_on_a_one_sided_tensor() -> None:
    weight = torch.rand(4, 100) + 0.1  # all positive: symmetric wastes the negative half
    sym = dequantize_tensor(quantize_tensor(weight, 3, "per-channel", "symmetric"), weight.shape)
    asym = dequantize_tensor(quantize_tensor(weight, 3, "per-channel", "asymmetric"), weight.shape)
    assert (asym - weight).pow(2).mean() < (sym - weight).pow(2).mean() / 2


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


def test_kmeans_finds_well_separated_clusters_exactly() -> None:
    values = torch.tensor([-2.0, -2.0, -2.0, 0.5, 0.5, 3.0, 3.0, 3.0])[torch.randperm(8)]
    codebook, index = kmeans_1d(values, 4)
    assert torch.equal(codebook[index], values)


def test_kmeans_sharing_beats_uniform_quantization_on_gaussian_weights() -> None:
    torch.manual_seed(0)
    model = seed_cnn(c=16)
    weights = [p.detach().clone() for p in model.parameters()]
    for module in (KMeansSharing(bits=3), Quantize(bits=3, granularity="per-tensor")):
        decoded = module.compress(model, CPU).reconstruct(model)
        errors = [(p - w).pow(2).mean() for p, w in zip(decoded.parameters(), weights)]
        if isinstance(module, KMeansSharing):
            kmeans_error = sum(errors)
        else:
            assert kmeans_error < sum(errors)


@pytest.mark.parametrize(("params", "message"), [
    ({"bits": 17}, r"compressors\[0\]\.params\.bits: 17 is invalid"),
    ({"bits": 0}, r"compressors\[0\]\.params\.bits: 0 is invalid"),
    ({"bits": 1}, r"bits: 1 is invalid for scheme 'symmetric'"),
    ({"bits": "four"}, r"compressors\[0\]\.params\.bits: 'four' is invalid"),
    ({"granularity": "per-row"}, r"compressors\[0\]\.params\.granularity: 'per-row' is invalid"),
    ({"scheme": "affine"}, r"compressors\[0\]\.params\.scheme: 'affine' is invalid"),
])
def test_bad_quantization_settings_are_config_errors(params: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_suite(BASE | {"compressors": [{"name": "quantize", "params": params}]})


def test_bad_kmeans_bits_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"compressors\[0\]\.params\.bits: 9 is invalid"):
        parse_suite(BASE | {"compressors": [{"name": "kmeans", "params": {"bits": 9}}]})


class TestFineTuned:
    """k-means with trained codebooks and quantization-aware fine-tuning: the data-aware baselines."""

    @staticmethod
    def _setting(data: bool) -> tuple[torch.nn.Module, CompressContext]:
        torch.manual_seed(0)
        dataset = synthetic(n_train=128, n_test=32)
        ctx = CompressContext(seed=0, device=torch.device("cpu"), progress=Progress(enabled=False),
                              data=dataset if data else None, train=TrainConfig(lr=1e-3, batch_size=64))
        return MODELS.get("lenet-300-100")(), ctx

    def test_trained_codebooks_keep_the_assignments_and_the_size(self) -> None:
        model, ctx = self._setting(data=True)
        plain = KMeansSharing(bits=3).compress(model, ctx)
        tuned_compressor = KMeansSharing(bits=3, finetune_epochs=2)
        tuned = tuned_compressor.compress(model, ctx)
        assert not tuned_compressor.data_free and KMeansSharing(bits=3).data_free
        assert tuned.size_bytes == plain.size_bytes and tuned.info["finetune_steps"] == 4
        for name in plain.meta["shapes"]:
            assert torch.equal(tuned.tensors[f"{name}.index"], plain.tensors[f"{name}.index"])
        assert any(not torch.equal(tuned.tensors[k], plain.tensors[k]) for k in plain.tensors
                   if k.endswith(".codebook"))
        rebuilt = tuned.reconstruct(model)
        for (name, weight), shape in zip(rebuilt.named_parameters(), plain.meta["shapes"].values()):
            assert len(weight.unique()) <= 8 and list(weight.shape) == shape, name

    def test_quantization_aware_weights_stay_on_the_grid_they_trained_through(self) -> None:
        model, ctx = self._setting(data=True)
        compressor = Quantize(bits=3, finetune_epochs=1)
        tuned = compressor.compress(model, ctx)
        assert not compressor.data_free and tuned.info["finetune_steps"] == 2
        rebuilt = tuned.reconstruct(model)
        original = dict(model.named_parameters())
        changed = False
        for name, weight in rebuilt.named_parameters():
            rows = weight.detach().reshape(weight.shape[0] if weight.dim() > 1 else 1, -1)
            assert max(len(row.unique()) for row in rows) <= 7, name  # symmetric 3-bit: 7 levels
            changed |= not torch.equal(weight, original[name])
        assert changed

    @pytest.mark.parametrize("compressor", [KMeansSharing(bits=2, finetune_epochs=1),
                                            Quantize(bits=4, finetune_epochs=1)])
    def test_fine_tuning_without_data_is_a_config_error(self, compressor) -> None:
        model, ctx = self._setting(data=False)
        with pytest.raises(ConfigError, match="needs the training data"):
            compressor.compress(model, ctx)
