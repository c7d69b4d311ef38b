"""Deep Compression: pruning with retraining, trained shared weights, Huffman-coded storage."""

from __future__ import annotations

import pytest
import torch

from innr_bench.compress.base import CompressContext
from innr_bench.compress.deep_compression import DeepCompression
from innr_bench.compress.huffman import gaps_decode, gaps_encode, huffman_decode, huffman_encode
from innr_bench.compress.serialize import from_bytes, payload_bytes_of, to_bytes
from innr_bench.data.datasets import synthetic
from innr_bench.errors import ConfigError
from innr_bench.models.train import TrainConfig
from innr_bench.progress import Progress
from innr_bench.registry import MODELS

DATA = synthetic(n_train=128, n_test=64)


def _context() -> CompressContext:
    return CompressContext(seed=0, device=torch.device("cpu"), progress=Progress(enabled=False),
                           data=DATA, train=TrainConfig(lr=1e-3, batch_size=64, epochs=1))


def _lenet() -> torch.nn.Module:
    torch.manual_seed(0)
    return MODELS.get("lenet-300-100")()


class TestHuffman:
    @pytest.mark.parametrize("positions", [[], [0], [254], [255], [0, 1, 254, 255, 509, 510, 1000, 70_000]])
    def test_relative_positions_round_trip_across_skips(self, positions: list[int]) -> None:
        flat = torch.tensor(positions, dtype=torch.int64)
        assert torch.equal(gaps_decode(gaps_encode(flat)), flat)

    def test_skips_are_counted_like_filler_entries(self) -> None:
        assert gaps_encode(torch.tensor([600])).tolist() == [255, 255, 91]  # 601 = 255 + 255 + 91

    def test_skewed_symbols_shrink_and_decode_exactly(self) -> None:
        torch.manual_seed(0)
        symbols = (torch.rand(20_000) ** 4 * 64).long()  # mostly small codes, as after pruning
        coded = huffman_encode(symbols)
        assert torch.equal(huffman_decode(coded), symbols)
        assert coded.numel() < 20_000 * 6 / 8  # fewer bits than the fixed 6-bit width

    def test_non_byte_symbols_are_refused(self) -> None:
        with pytest.raises(ValueError, match="bytes"):
            huffman_encode(torch.tensor([256]))


class TestDeepCompression:
    def test_prunes_each_layer_to_its_fraction_and_shares_at_most_2_to_the_bits_values(self) -> None:
        model = _lenet()
        keep = [0.1, 0.2, 0.5]
        compressed = DeepCompression(keep=keep, bits=[4, 3, 2], rounds=2, retrain_epochs=1).compress(
            model, _context())
        rebuilt = compressed.reconstruct(model)
        weights = [p for n, p in rebuilt.named_parameters() if p.dim() == 2]
        for weight, fraction, bits in zip(weights, keep, [4, 3, 2]):
            nonzero = weight[weight != 0]
            assert nonzero.numel() / weight.numel() == pytest.approx(fraction, abs=0.002)
            assert nonzero.unique().numel() <= 2**bits
        assert compressed.info["train_steps"] == 2 * 2 + 2  # 2 rounds x 1 epoch, 1 epoch of centroids
        kept = 784 * 300 * 0.1 + 300 * 100 * 0.2 + 100 * 10 * 0.5
        assert compressed.info["sparsity"] == pytest.approx(1 - kept / 266_200, abs=1e-3)

    def test_size_is_the_serialized_payload_and_decodes_from_the_blob(self) -> None:
        model = _lenet()
        compressed = DeepCompression(keep=0.1, bits=5, rounds=1, retrain_epochs=0,
                                     quantize_epochs=0).compress(model, _context())
        blob = to_bytes(compressed)
        assert payload_bytes_of(blob) == compressed.size_bytes
        method, tensors, meta = from_bytes(blob)
        assert method == "deep-compression"
        decoded = DeepCompression.decode(tensors, meta)
        rebuilt = dict(compressed.reconstruct(model).named_parameters())
        assert all(torch.equal(decoded[name], rebuilt[name].detach()) for name in decoded)
        # Independent count: Huffman streams, fp32 codebooks, fp32 biases, nothing else.
        layers = compressed.info["layers"]
        streams = ("codes_bytes_huffman", "positions_bytes_huffman", "codebook_bytes")
        expected = sum(layer[k] for layer in layers.values() for k in streams) + 4 * (300 + 100 + 10)
        assert compressed.size_bytes == expected
        assert all(layer["codes_bytes_huffman"] <= layer["codes_bytes_fixed"] * 1.05
                   for layer in layers.values())

    def test_centroid_fine_tuning_moves_shared_values_but_not_the_sparsity_pattern(self) -> None:
        model = _lenet()
        frozen = DeepCompression(keep=0.2, bits=3, rounds=1, retrain_epochs=0, quantize_epochs=0)
        tuned = DeepCompression(keep=0.2, bits=3, rounds=1, retrain_epochs=0, quantize_epochs=2)
        a = frozen.compress(model, _context()).reconstruct(model)
        b = tuned.compress(model, _context()).reconstruct(model)
        for (name, wa), wb in zip(a.named_parameters(), b.parameters()):
            if wa.dim() == 2:
                assert torch.equal(wa != 0, wb != 0), name
                assert not torch.equal(wa, wb), name

    def test_one_setting_per_tensor_must_match_the_target(self) -> None:
        with pytest.raises(ConfigError, match=r"keep lists 2 values but the target has 3 weight tensors"):
            DeepCompression(keep=[0.1, 0.2]).compress(_lenet(), _context())

    def test_needs_training_data(self) -> None:
        context = CompressContext(seed=0, device=torch.device("cpu"), progress=Progress(enabled=False))
        with pytest.raises(ConfigError, match="retrains on the training data"):
            DeepCompression().compress(_lenet(), context)
