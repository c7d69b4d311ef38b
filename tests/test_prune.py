from __future__ import annotations

import pytest
import torch

from innr_bench.compress.base import CompressContext
from innr_bench.compress.prune import FilterPruning, GlobalMagnitudePruning, LayerMagnitudePruning
from innr_bench.compress.sparse import decode_mask, encode_mask
from innr_bench.config import parse_suite
from innr_bench.data.datasets import synthetic
from innr_bench.errors import ConfigError
from innr_bench.models.seed_cnn import seed_cnn
from innr_bench.models.train import TrainConfig
from innr_bench.progress import Progress

CPU = CompressContext(seed=0, device=torch.device("cpu"), progress=Progress(enabled=False))
BASE = {"name": "t", "seeds": [0], "datasets": [{"name": "synthetic"}], "targets": [{"name": "seed-cnn"}]}


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return seed_cnn(c=8)


def test_indices_into_a_large_tensor_need_more_than_16_bits_and_round_trip() -> None:
    mask = torch.rand(784 * 300) < 0.02  # lenet-300-100's first layer at 98 % sparsity
    stored, fmt = encode_mask(mask)
    assert fmt == "indices" and stored.numel() == -(-int(mask.sum()) * 18 // 8)  # 18-bit indices
    assert torch.equal(decode_mask(stored, fmt, mask.numel(), int(mask.sum())), mask)


@pytest.mark.parametrize("density", [0.01, 0.05, 0.5, 1.0])
def test_mask_encoding_picks_the_smaller_format_and_round_trips(density: float) -> None:
    mask = torch.rand(4096) < density
    stored, fmt = encode_mask(mask)
    bitmap, indices = 4096 // 8, -(-int(mask.sum()) * 12 // 8)  # 12 bits index 4,096 positions
    assert fmt == ("indices" if indices < bitmap else "bitmap")
    assert stored.numel() == min(bitmap, indices)
    assert torch.equal(decode_mask(stored, fmt, 4096, int(mask.sum())), mask)


@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.9])
def test_global_pruning_zeroes_the_smallest_weights_across_layers(sparsity: float) -> None:
    model = _model()
    compressed = GlobalMagnitudePruning(sparsity=sparsity).compress(model, CPU)
    original = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    decoded = torch.cat([p.detach().reshape(-1) for p in compressed.reconstruct(model).parameters()])
    zeroed = decoded == 0
    assert int(zeroed.sum()) == round(sparsity * original.numel())
    if sparsity:
        assert original[zeroed].abs().max() <= original[~zeroed].abs().min()
    assert torch.equal(decoded[~zeroed], original[~zeroed])  # kept values exact in fp32


def test_layer_pruning_gives_every_layer_the_same_sparsity() -> None:
    model = _model()
    rebuilt = LayerMagnitudePruning(sparsity=0.6).compress(model, CPU).reconstruct(model)
    for p in rebuilt.parameters():
        assert float((p == 0).float().mean()) == pytest.approx(0.6, abs=0.01)


def test_filter_pruning_removes_whole_low_l1_filters_and_keeps_the_classifier() -> None:
    model = _model()
    compressed = FilterPruning(sparsity=0.5).compress(model, CPU)
    rebuilt = compressed.reconstruct(model)
    originals = [p.detach() for p in model.parameters()]
    decoded = [p.detach() for p in rebuilt.parameters()]
    for original, pruned in zip(originals[:-1], decoded[:-1]):
        removed = pruned.reshape(len(pruned), -1).abs().sum(1) == 0
        assert int(removed.sum()) == len(pruned) // 2
        norms = original.reshape(len(original), -1).abs().sum(1)
        assert norms[removed].max() <= norms[~removed].min()
    assert torch.equal(decoded[-1], originals[-1])
    kept = sum(int((p != 0).sum()) for p in decoded)
    assert 4 * kept < compressed.size_bytes <= 4 * kept + 2 + 1  # + one row bitmap per pruned layer


def test_prune_then_quantize_stores_codebooks_and_is_smaller() -> None:
    model = _model()
    plain = GlobalMagnitudePruning(sparsity=0.8).compress(model, CPU)
    shared = GlobalMagnitudePruning(sparsity=0.8, bits=4).compress(model, CPU)
    assert shared.size_bytes < plain.size_bytes / 2
    decoded = torch.cat([p.detach().reshape(-1) for p in shared.reconstruct(model).parameters()])
    assert float((decoded == 0).float().mean()) >= 0.8


def test_finetuning_uses_data_keeps_the_mask_and_is_not_data_free() -> None:
    model = _model()
    data = synthetic(n_train=256, n_test=64)
    pruner = GlobalMagnitudePruning(sparsity=0.7, finetune_epochs=1, finetune_lr=1e-3)
    assert pruner.data_free is False and GlobalMagnitudePruning(sparsity=0.7).data_free is True
    with pytest.raises(ConfigError, match="finetune_epochs needs training data"):
        pruner.compress(model, CPU)
    ctx = CompressContext(seed=0, device=torch.device("cpu"), progress=Progress(enabled=False),
                          data=data, train=TrainConfig(batch_size=64))
    tuned = pruner.compress(model, ctx).reconstruct(model)
    untuned = GlobalMagnitudePruning(sparsity=0.7).compress(model, CPU).reconstruct(model)
    for a, b in zip(tuned.parameters(), untuned.parameters()):
        assert torch.equal(a == 0, b == 0)
    assert any(not torch.equal(a, b) for a, b in zip(tuned.parameters(), untuned.parameters()))


@pytest.mark.parametrize(("params", "message"), [
    ({"sparsity": 1.0}, r"compressors\[0\]\.params\.sparsity: 1\.0 is invalid"),
    ({"sparsity": -0.1}, r"compressors\[0\]\.params\.sparsity: -0\.1 is invalid"),
    ({}, r"compressors\[0\]\.params\.sparsity: .*required"),
    ({"sparsity": 0.5, "bits": 9}, r"compressors\[0\]\.params\.bits: 9 is invalid"),
    ({"sparsity": 0.5, "finetune_epochs": -1}, r"finetune_epochs: -1 is invalid"),
])
def test_bad_pruning_settings_are_config_errors(params: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_suite(BASE | {"compressors": [{"name": "prune-global", "params": params}]})


def test_storage_says_which_mask_format_each_tensor_uses() -> None:
    model = _model()
    dense_ish = GlobalMagnitudePruning(sparsity=0.5).compress(model, CPU)
    sparse = GlobalMagnitudePruning(sparsity=0.99, bits=2).compress(model, CPU)
    assert dense_ish.info["storage"] == "bitmap + fp32 values"
    assert set(dense_ish.info["mask_formats"].values()) == {"bitmap"}
    assert "indices" in sparse.info["mask_formats"].values()  # the big conv: positions are smaller
    assert sparse.info["storage"].endswith("indices + 2-bit k-means values")
