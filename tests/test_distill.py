"""Distillation through the decoded net: on data, with a label loss, on noise; the teacher's
probabilities computed once."""

from __future__ import annotations

import torch

from innr_bench.compress.base import CompressContext, Compressed
from innr_bench.compress.innr.compressor import InnrSiren
from innr_bench.compress.innr.distill import teacher_probabilities
from innr_bench.compress.serialize import from_bytes, payload_bytes_of, to_bytes
from innr_bench.data.datasets import synthetic
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


def test_teacher_probabilities_are_computed_once_per_image_as_per_batch() -> None:
    model = _trained_cnn()
    cached = teacher_probabilities(model, DATA.train_x, 2.0, torch.device("cpu"), chunk=100)
    with torch.no_grad():
        direct = torch.softmax(model(DATA.train_x[:37]) / 2.0, dim=1)
    assert cached.shape == (len(DATA.train_x), 10)
    assert torch.allclose(cached[:37], direct, atol=1e-6)



def _compress(model: torch.nn.Module, data: bool, **params) -> tuple:
    compressor = InnrSiren(width=16, epochs=60, precision="int8", bits=6, entropy="huffman",
                           normalize="row", **params)
    compressed = compressor.compress(model, _context(data))
    # decoded from the serialized blob, as a user loading the file would
    blob = to_bytes(compressed)
    assert payload_bytes_of(blob) == compressed.size_bytes
    method, tensors, meta = from_bytes(blob)
    stored = Compressed(method, tensors, meta, compressed.size_bytes, compressed.info)
    return compressed, stored.reconstruct(model)


def test_distillation_on_data_moves_the_copy_towards_the_original() -> None:
    model = _trained_cnn()
    plain, before = _compress(model, data=False)
    tuned, after = _compress(model, data=True, distill_steps=150, distill_lr=1e-3)
    assert tuned.info["distill_steps"] == 150 and tuned.info["distill_inputs"] == "data"
    assert tuned.size_bytes <= plain.size_bytes + 64  # same field; Huffman streams may differ
    assert _divergence(model, after) < 0.5 * _divergence(model, before)
    assert "distilled 150 steps on data" in tuned.info["storage"]


def test_a_label_loss_pulls_the_copy_towards_the_training_labels() -> None:
    model = _trained_cnn()

    def label_loss(copy: torch.nn.Module) -> float:
        with torch.no_grad():
            return float(torch.nn.functional.cross_entropy(copy(DATA.train_x), DATA.train_y))

    steps = {"distill_steps": 150, "distill_lr": 1e-3}
    _, kl_only = _compress(model, data=True, **steps, distill_label_loss=0.0)
    tuned, with_labels = _compress(model, data=True, **steps, distill_label_loss=2.0)
    assert tuned.meta["spec"]["fit"][1]["label_loss"] == 2.0
    assert label_loss(with_labels) < label_loss(kl_only)


def test_distillation_on_noise_runs_without_data() -> None:
    model = _trained_cnn()
    tuned, after = _compress(model, data=False, distill_steps=50, distill_inputs="noise")
    assert tuned.info["distill_inputs"] == "noise"
    assert all(torch.isfinite(p).all() for p in after.parameters())


def test_distillation_on_impressions_runs_without_data() -> None:
    model = _trained_cnn()
    tuned, after = _compress(model, data=False, distill_steps=20, distill_inputs="impressions",
                                  distill_pool=30, distill_pool_steps=5)
    assert tuned.info["distill_inputs"] == "impressions" and tuned.info["impressions"] == 30
    assert "distilled 20 steps on impressions" in tuned.info["storage"]
    assert all(torch.isfinite(p).all() for p in after.parameters())


def test_quantization_aware_refit_lowers_the_stored_weight_error() -> None:
    model = _trained_cnn()
    weights = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def error(copy: torch.nn.Module) -> float:
        rebuilt = torch.cat([p.detach().reshape(-1) for p in copy.parameters()])
        return float((rebuilt - weights).norm() / weights.norm())

    compressor = dict(width=16, epochs=60, precision="int8", bits=3)
    plain = InnrSiren(**compressor).compress(model, _context(False)).reconstruct(model)
    refit = InnrSiren(**compressor, qat_epochs=100).compress(model, _context(False)).reconstruct(model)
    assert error(refit) < error(plain)

