"""Synthetic distillation inputs that read no data: noise images and class impressions."""

from __future__ import annotations

import torch

from innr_bench.compress.innr.synthetic import (
    class_impressions,
    impression_batch,
    impression_targets,
    noise_images,
)
from innr_bench.registry import MODELS


def test_synthetic_inputs_are_images_in_range_and_read_no_data() -> None:
    images = noise_images((1, 28, 28), 16, torch.Generator().manual_seed(0))
    assert images.shape == (16, 1, 28, 28)
    assert float(images.min()) >= 0 and float(images.max()) <= 1
    assert float(images.std()) > 0.05



def test_targets_are_distributions_led_by_their_class() -> None:
    targets = impression_targets(50, 10, torch.Generator().manual_seed(0))
    assert torch.allclose(targets.sum(1), torch.ones(50))
    assert torch.equal(targets.argmax(1), torch.arange(50) % 10)
    assert float(targets.max(1).values.min()) >= 0.5


def test_the_original_calls_its_impressions_their_class() -> None:
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


def test_a_batch_is_half_impressions_half_noise() -> None:
    pool = torch.zeros(8, 1, 28, 28)
    pool[:, :, 10:18, 10:18] = 1.0  # a square far from the border: rolling keeps its area
    batch = impression_batch(pool, 16, torch.Generator().manual_seed(0))
    assert batch.shape == (16, 1, 28, 28)
    assert torch.equal(batch[:8].sum((1, 2, 3)), torch.full((8,), 64.0))
    assert float(batch[8:].std()) > 0.05

