from __future__ import annotations

import pytest
import torch

from innr_bench.compress.base import CompressContext, fp32_bytes, payload_bytes
from innr_bench.compress.innr import storage
from innr_bench.compress.innr.compressor import InnrSiren
from innr_bench.compress.innr.layouts import Rows
from innr_bench.compress.innr.rows import BlockLayout, standardize_per_tensor, unstandardize_per_tensor
from innr_bench.compress.serialize import payload_bytes_of, to_bytes
from innr_bench.models.seed_cnn import seed_cnn
from innr_bench.progress import Progress

CPU = CompressContext(seed=0, device=torch.device("cpu"), progress=Progress(enabled=False))


def test_block_layout_coordinates_exact_values() -> None:
    layout = BlockLayout(("conv", "fc"), ((2, 1, 1, 2), (1, 3)), block=2)
    # conv: 2 rows of 2 values -> 1 chunk each; fc: 1 row of 3 values -> 2 chunks (last padded)
    assert torch.equal(layout.coordinates(), torch.tensor([
        [-1.0, -1.0, -1.0], [1.0, -1.0, -1.0],
        [-1.0, -1.0, 1.0], [-1.0, 1.0, 1.0],
    ]))


def test_block_layout_round_trip_and_padding_mask() -> None:
    layout = BlockLayout(("a", "b", "c"), ((3, 2, 5, 5), (10, 31), (4,)), block=25)
    tensors = [torch.randn(3, 2, 5, 5), torch.randn(10, 31), torch.randn(4)]
    blocks, mask = layout.to_blocks(tensors)
    assert blocks.shape == (3 * 2 + 10 * 2 + 1, 25)
    assert int(mask.sum()) == sum(t.numel() for t in tensors)
    assert all(torch.equal(a, b) for a, b in zip(layout.from_blocks(blocks), tensors))


def test_per_tensor_standardization_inverts() -> None:
    tensors = [torch.randn(4, 3) * 5 + 2, torch.randn(7) * 0.1, torch.ones(3)]
    scaled, stats = standardize_per_tensor(tensors)
    assert stats.shape == (3, 2) and stats.dtype == torch.float32
    assert abs(float(scaled[0].mean())) < 1e-5 and abs(float(scaled[0].std()) - 1) < 1e-5
    for a, b in zip(unstandardize_per_tensor(scaled, stats), tensors):
        assert torch.allclose(a, b, atol=1e-5)


def test_huffman_coded_int8_decodes_to_the_same_weights_and_is_never_larger() -> None:
    torch.manual_seed(0)
    # a peaked tensor (codes near zero dominate: Huffman wins) and a tiny one (it would not)
    state = {"w": torch.randn(64, 64) ** 3, "b": torch.randn(3)}
    plain, coded = storage.pack(state, "int8"), storage.pack(state, "int8", "huffman")
    assert "w.huffman" in coded and "w" not in coded and "b" in coded  # b stays plain: smaller
    assert payload_bytes(coded) < payload_bytes(plain)
    shapes = {k: v.shape for k, v in state.items()}
    restored, reference = storage.unpack(coded, "int8", shapes), storage.unpack(plain, "int8")
    assert all(torch.equal(restored[k], reference[k]) for k in state)
    with pytest.raises(ValueError, match="needs its shape"):
        storage.unpack(coded, "int8")


def test_huffman_needs_int8_weights() -> None:
    from innr_bench.compress.innr.compressor import InnrSiren
    from innr_bench.errors import ConfigError

    with pytest.raises(ConfigError, match=r"entropy: 'huffman' needs integer codes; set precision: int8"):
        InnrSiren(entropy="huffman")


@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_storage_precision_round_trip_and_bytes(precision: str) -> None:
    state = {"w": torch.randn(8, 4), "b": torch.randn(8)}
    packed = storage.pack(state, precision)
    per_value = {"fp32": 4, "fp16": 2, "int8": 1}[precision]
    scales = 2 * 4 if precision == "int8" else 0
    assert payload_bytes(packed) == 40 * per_value + scales
    restored = storage.unpack(packed, precision)
    tolerance = {"fp32": 0.0, "fp16": 1e-2, "int8": 3e-2}[precision]
    for name, value in state.items():
        assert (restored[name] - value).abs().max() <= tolerance * value.abs().max() + 1e-12


@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_fast_recipe_size_counts_every_stored_byte(precision: str) -> None:
    model = seed_cnn(c=4)
    compressed = InnrSiren(width=16, depth=2, epochs=5, precision=precision).compress(model, CPU)
    assert compressed.meta["spec"]["storage"]["precision"] == precision
    assert payload_bytes_of(to_bytes(compressed)) == compressed.size_bytes  # what the file holds
    n = compressed.info["innr_parameters"]
    per_value = {"fp32": 4, "fp16": 2, "int8": 1}[precision]
    scales = 4 * 6 if precision == "int8" else 0  # 6 SIREN tensors (3 layers x weight, bias)
    assert compressed.size_bytes == n * per_value + scales + 3 * 8  # + per-tensor mean/std
    rebuilt = compressed.reconstruct(model)
    assert all(torch.isfinite(p).all() for p in rebuilt.parameters())


@pytest.mark.parametrize(("recipe", "precision", "ratio"), [("fast", "fp16", 0.624), ("seed", "fp32", 0.742)])
def test_recipe_defaults_fit_the_size_budget(recipe: str, precision: str, ratio: float) -> None:
    model = seed_cnn(c=32)
    compressed = InnrSiren(recipe=recipe, epochs=1).compress(model, CPU)
    assert compressed.meta["spec"]["storage"]["precision"] == precision
    assert compressed.size_bytes / fp32_bytes(model) == pytest.approx(ratio, abs=5e-4)


def test_fast_recipe_beats_the_seed_recipe_on_weight_error_at_equal_epochs() -> None:
    model = seed_cnn(c=8)
    fast = InnrSiren(recipe="fast", width=32, depth=3, epochs=150).compress(model, CPU)
    seed = InnrSiren(recipe="seed", width=32, depth=3, epochs=150).compress(model, CPU)
    assert fast.size_bytes < fp32_bytes(model)
    assert fast.info["final_mse"] < seed.info["final_mse"]


def test_block_with_the_seed_recipe_is_rejected() -> None:
    from innr_bench.errors import ConfigError

    with pytest.raises(ConfigError, match="block: 5 is invalid"):
        InnrSiren(recipe="seed", block=5)


def test_rows_round_trip_through_fp16_stats() -> None:
    torch.manual_seed(0)
    weights = {"a": torch.randn(6, 3, 5, 5) * torch.linspace(0.01, 3, 6).reshape(6, 1, 1, 1),
               "b": torch.randn(4)}
    layout = Rows(block=25, normalize="row")
    data = layout.encode(weights)
    assert data.stats.dtype == torch.float16 and data.stats.shape == (7, 2)  # 6 rows + 1 bias row
    per_row = data.values[:18].reshape(6, 3 * 25)  # each row standardized on its own
    assert torch.allclose(per_row.std(1), torch.ones(6), atol=1e-2)
    shapes = [list(w.shape) for w in weights.values()]
    decoded = layout.decode(data.values, data.stats, list(weights), shapes)
    for name, weight in weights.items():
        assert torch.allclose(decoded[name], weight, atol=1e-5, rtol=1e-5)

