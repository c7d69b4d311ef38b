"""innr-siren after the weight fit: narrower codes, per-row statistics, quantization-aware
refitting and distillation through the decoded net (on data, or on synthetic inputs)."""

from __future__ import annotations

import math

import pytest
import torch

from innr_bench.compress.base import CompressContext, Compressed, payload_bytes
from innr_bench.compress.innr import storage
from innr_bench.compress.innr.compressor import InnrSiren
from innr_bench.compress.innr.distill import teacher_probabilities
from innr_bench.compress.innr.layouts import Rows
from innr_bench.compress.innr.synthetic import (
    class_impressions,
    impression_batch,
    impression_targets,
    noise_images,
)
from innr_bench.compress.serialize import from_bytes, payload_bytes_of, to_bytes
from innr_bench.data import synthetic
from innr_bench.errors import ConfigError
from innr_bench.models.train import TrainConfig, train
from innr_bench.progress import Progress
from innr_bench.registry import MODELS

DATA = synthetic(n_train=256, n_test=128)


def _context(data: bool) -> CompressContext:
    return CompressContext(seed=0, device=torch.device("cpu"), progress=Progress(enabled=False),
                           data=DATA if data else None, train=TrainConfig(lr=1e-3, batch_size=64),
                           input_shape=tuple(DATA.test_x.shape[1:]))


def _trained_cnn() -> torch.nn.Module:
    torch.manual_seed(0)
    model = MODELS.get("seed-cnn")(c=4)
    train(model, DATA, TrainConfig(lr=3e-3, batch_size=64, epochs=3), seed=0,
          device=torch.device("cpu"), progress=Progress(enabled=False))
    return model.eval()


def _divergence(original: torch.nn.Module, copy: torch.nn.Module) -> float:
    """KL(original || copy) of the predicted class distributions on the test inputs."""
    with torch.no_grad():
        target = original(DATA.test_x).log_softmax(1)
        return float(torch.nn.functional.kl_div(copy(DATA.test_x).log_softmax(1), target,
                                                log_target=True, reduction="batchmean"))


class TestStorage:
    @pytest.mark.parametrize("bits", [2, 3, 4, 6, 8])
    @pytest.mark.parametrize("entropy", ["none", "huffman"])
    def test_stored_codes_decode_to_the_fake_quantized_weights(self, bits: int, entropy: str) -> None:
        torch.manual_seed(bits)
        state = {"w": torch.randn(40, 30), "b": torch.randn(7)}
        packed = storage.pack(state, "int8", entropy, bits)
        shapes = {k: v.shape for k, v in state.items()}
        unpacked = storage.unpack(packed, "int8", shapes, bits)
        for name, value in state.items():
            assert torch.equal(unpacked[name], storage.fake_quantize(value, bits))
            assert len(unpacked[name].unique()) <= 2 ** bits - 1

    @pytest.mark.parametrize("bits", [3, 5, 7])
    def test_narrow_codes_take_bits_per_value_plus_a_scale(self, bits: int) -> None:
        packed = storage.pack({"w": torch.randn(1000)}, "int8", "none", bits)
        assert payload_bytes(packed) == math.ceil(1000 * bits / 8) + 4

    def test_fake_quantize_passes_gradients_straight_through(self) -> None:
        value = torch.randn(50, requires_grad=True)
        storage.fake_quantize(value, 4).sum().backward()
        assert torch.equal(value.grad, torch.ones(50))


class TestRowNormalization:
    def test_rows_round_trip_through_fp16_stats(self) -> None:
        torch.manual_seed(0)
        weights = {"a": torch.randn(6, 3, 5, 5) * torch.linspace(0.01, 3, 6).reshape(6, 1, 1, 1),
                   "b": torch.randn(4)}
        layout = Rows(block=25, normalize="row")
        data = layout.encode(weights)
        assert data.stats.dtype == torch.float16 and data.stats.shape == (7, 2)  # 6 rows + 1 bias row
        per_row = data.targets[:18].reshape(6, 3 * 25)  # each row standardized on its own
        assert torch.allclose(per_row.std(1), torch.ones(6), atol=1e-2)
        shapes = [list(w.shape) for w in weights.values()]
        decoded = layout.decode(data.targets, data.stats, list(weights), shapes)
        for name, weight in weights.items():
            assert torch.allclose(decoded[name], weight, atol=1e-5, rtol=1e-5)


class TestOptions:
    @pytest.mark.parametrize(("params", "match"), [
        ({"bits": 4}, "bits: 4 needs integer codes; set precision: int8"),
        ({"qat_epochs": 10, "precision": "fp16"}, "qat_epochs: 10 needs integer codes"),
        ({"recipe": "seed", "normalize": "row"}, "rows layout"),
        ({"recipe": "distill-noise", "distill_label_loss": 0.5}, "needs training labels"),
    ])
    def test_inconsistent_options_are_config_errors(self, params: dict, match: str) -> None:
        with pytest.raises(ConfigError, match=match):
            InnrSiren(**params)

    def test_only_distillation_on_data_reads_data(self) -> None:
        assert InnrSiren().data_free
        assert InnrSiren(precision="int8", qat_epochs=5).data_free
        assert InnrSiren(distill_steps=5, distill_inputs="noise").data_free
        assert InnrSiren(distill_steps=5, distill_inputs="impressions").data_free
        assert InnrSiren(recipe="distill-impressions").data_free
        assert not InnrSiren(distill_steps=5, distill_inputs="data").data_free
        assert not InnrSiren(recipe="distill-quick").data_free

    def test_teacher_probabilities_are_computed_once_per_image_as_per_batch(self) -> None:
        model = _trained_cnn()
        cached = teacher_probabilities(model, DATA.train_x, 2.0, torch.device("cpu"), chunk=100)
        with torch.no_grad():
            direct = torch.softmax(model(DATA.train_x[:37]) / 2.0, dim=1)
        assert cached.shape == (len(DATA.train_x), 10)
        assert torch.allclose(cached[:37], direct, atol=1e-6)

    def test_synthetic_inputs_are_images_in_range_and_read_no_data(self) -> None:
        images = noise_images((1, 28, 28), 16, torch.Generator().manual_seed(0))
        assert images.shape == (16, 1, 28, 28)
        assert float(images.min()) >= 0 and float(images.max()) <= 1
        assert float(images.std()) > 0.05


class TestClassImpressions:
    def test_targets_are_distributions_led_by_their_class(self) -> None:
        targets = impression_targets(50, 10, torch.Generator().manual_seed(0))
        assert torch.allclose(targets.sum(1), torch.ones(50))
        assert torch.equal(targets.argmax(1), torch.arange(50) % 10)
        assert float(targets.max(1).values.min()) >= 0.5

    def test_the_original_calls_its_impressions_their_class(self) -> None:
        torch.manual_seed(0)
        model = MODELS.get("lenet5")().eval()  # untrained: its logits barely move, so it is a hard case

        def make() -> torch.Tensor:
            return class_impressions(model, (1, 28, 28), 40, 100, torch.Generator().manual_seed(3),
                                     torch.device("cpu"))

        pool = make()
        assert pool.shape == (40, 1, 28, 28)
        assert float(pool.min()) >= 0 and float(pool.max()) <= 1
        with torch.no_grad():
            called = model(pool).argmax(1)
            from_noise = model(noise_images((1, 28, 28), 40, torch.Generator().manual_seed(3))).argmax(1)
        hits = float((called == torch.arange(40) % 10).float().mean())
        assert hits >= 0.9 > float((from_noise == torch.arange(40) % 10).float().mean())
        assert torch.equal(make(), pool)  # the generator alone decides them
        assert all(p.grad is None for p in model.parameters())  # only the pixels were optimized

    def test_a_batch_is_half_impressions_half_noise(self) -> None:
        pool = torch.zeros(8, 1, 28, 28)
        pool[:, :, 10:18, 10:18] = 1.0  # a square far from the border: rolling keeps its area
        batch = impression_batch(pool, 16, torch.Generator().manual_seed(0))
        assert batch.shape == (16, 1, 28, 28)
        assert torch.equal(batch[:8].sum((1, 2, 3)), torch.full((8,), 64.0))
        assert float(batch[8:].std()) > 0.05


class TestFineTuning:
    def _compress(self, model: torch.nn.Module, data: bool, **params) -> tuple:
        compressor = InnrSiren(width=16, epochs=60, precision="int8", bits=6, entropy="huffman",
                               normalize="row", **params)
        compressed = compressor.compress(model, _context(data))
        # decoded from the serialized blob, as a user loading the file would
        blob = to_bytes(compressed)
        assert payload_bytes_of(blob) == compressed.size_bytes
        method, tensors, meta = from_bytes(blob)
        stored = Compressed(method, tensors, meta, compressed.size_bytes, compressed.info)
        return compressed, stored.reconstruct(model)

    def test_distillation_on_data_moves_the_copy_towards_the_original(self) -> None:
        model = _trained_cnn()
        plain, before = self._compress(model, data=False)
        tuned, after = self._compress(model, data=True, distill_steps=150, distill_lr=1e-3)
        assert tuned.info["distill_steps"] == 150 and tuned.info["distill_inputs"] == "data"
        assert tuned.size_bytes <= plain.size_bytes + 64  # same field; Huffman streams may differ
        assert _divergence(model, after) < 0.5 * _divergence(model, before)
        assert "distilled 150 steps on data" in tuned.info["storage"]

    def test_a_label_loss_pulls_the_copy_towards_the_training_labels(self) -> None:
        model = _trained_cnn()

        def label_loss(copy: torch.nn.Module) -> float:
            with torch.no_grad():
                return float(torch.nn.functional.cross_entropy(copy(DATA.train_x), DATA.train_y))

        steps = {"distill_steps": 150, "distill_lr": 1e-3}
        _, kl_only = self._compress(model, data=True, **steps, distill_label_loss=0.0)
        tuned, with_labels = self._compress(model, data=True, **steps, distill_label_loss=2.0)
        assert tuned.meta["spec"]["fit"][1]["label_loss"] == 2.0
        assert label_loss(with_labels) < label_loss(kl_only)

    def test_distillation_on_noise_runs_without_data(self) -> None:
        model = _trained_cnn()
        tuned, after = self._compress(model, data=False, distill_steps=50, distill_inputs="noise")
        assert tuned.info["distill_inputs"] == "noise"
        assert all(torch.isfinite(p).all() for p in after.parameters())

    def test_distillation_on_impressions_runs_without_data(self) -> None:
        model = _trained_cnn()
        tuned, after = self._compress(model, data=False, distill_steps=20, distill_inputs="impressions",
                                      distill_pool=30, distill_pool_steps=5)
        assert tuned.info["distill_inputs"] == "impressions" and tuned.info["impressions"] == 30
        assert "distilled 20 steps on impressions" in tuned.info["storage"]
        assert all(torch.isfinite(p).all() for p in after.parameters())

    def test_quantization_aware_refit_lowers_the_stored_weight_error(self) -> None:
        model = _trained_cnn()
        weights = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

        def error(copy: torch.nn.Module) -> float:
            rebuilt = torch.cat([p.detach().reshape(-1) for p in copy.parameters()])
            return float((rebuilt - weights).norm() / weights.norm())

        compressor = dict(width=16, epochs=60, precision="int8", bits=3)
        plain = InnrSiren(**compressor).compress(model, _context(False)).reconstruct(model)
        refit = InnrSiren(**compressor, qat_epochs=100).compress(model, _context(False)).reconstruct(model)
        assert error(refit) < error(plain)
