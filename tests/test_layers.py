"""Layers shared by the targets: the pooling that runs its gradient-free passes as elementwise
maxima gives exactly what nn.MaxPool2d gives, and hands gradients to aten's kernel."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from innr_bench.models.layers import MaxPool2d
from innr_bench.models.placement import place_batch, place_model
from innr_bench.registry import MODELS


@pytest.mark.parametrize("quantized", [False, True])  # True: many tied windows
def test_the_fast_pool_gives_nn_maxpool2ds_values(quantized: bool) -> None:
    x = torch.randn(8, 5, 12, 10)
    if quantized:
        x = torch.round(x * 2) / 2
    x[0, 0, 0, 0] = float("nan")  # NaN propagates in both
    with torch.no_grad():
        fast, reference = MaxPool2d(2, 2)(x), nn.MaxPool2d(2, 2)(x)
    assert torch.equal(fast.isnan(), reference.isnan())
    assert torch.equal(fast.nan_to_num(), reference.nan_to_num())


def test_gradients_go_through_atens_kernel_and_its_tie_order() -> None:
    x = (torch.round(torch.randn(4, 3, 8, 8)) * 0.5).requires_grad_()  # ties everywhere
    y = x.detach().clone().requires_grad_()
    grad = torch.randn(4, 3, 4, 4)
    MaxPool2d(2, 2)(x).backward(grad)
    nn.MaxPool2d(2, 2)(y).backward(grad)
    assert torch.equal(x.grad, y.grad)


@pytest.mark.parametrize("name", ["seed-cnn", "lenet5", "lenet5-caffe"])
def test_every_pooled_target_predicts_bit_identically(name: str) -> None:
    torch.manual_seed(0)
    model = MODELS.get(name)().eval()
    reference = nn.Sequential(*[nn.MaxPool2d(2, 2) if isinstance(m, MaxPool2d) else m for m in model])
    x = torch.rand(64, 1, 28, 28)
    x[x < 0.6] = 0.0  # MNIST-like: a constant background gives tied windows
    with torch.no_grad():
        assert torch.equal(model(x), reference(x))
        # and in the channels-last layout the engine evaluates in
        cpu = torch.device("cpu")
        placed, reference = place_model(model, cpu), place_model(reference, cpu)
        assert torch.equal(placed(place_batch(x, cpu)), reference(place_batch(x, cpu)))


def test_gradients_through_vmap_are_atens_too() -> None:
    """Stacked white-box attacks take input gradients through a vmap (Stacked's forward), inside
    which the tensor reports requires_grad False: the layer must still hand the gradient to
    aten's kernel and its tie order."""
    from torch.func import vmap

    xs = torch.round(torch.rand(3, 2, 4, 6, 6) * 2) / 2  # three nets' inputs, many ties
    ours, theirs = xs.clone().requires_grad_(), xs.clone().requires_grad_()
    vmap(MaxPool2d(2, 2))(ours).pow(2).sum().backward()
    torch.stack([nn.MaxPool2d(2, 2)(v) for v in theirs]).pow(2).sum().backward()
    assert torch.equal(ours.grad, theirs.grad)
