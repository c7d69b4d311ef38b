from __future__ import annotations

import pytest
import torch
from torch import nn

from innr_bench.attacks.fgsm import FGSM
from innr_bench.engine.evaluate import predict
from innr_bench.models.seed_cnn import seed_cnn


def test_fgsm_equals_hand_computation_on_a_linear_model() -> None:
    model = nn.Linear(3, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, -2.0, 0.5], [-1.0, 1.0, 2.0]]))
    x = torch.tensor([[0.5, 0.5, 0.5]])
    y = torch.tensor([0])
    # d CE / d x = W^T (softmax(Wx) - onehot(y)); softmax over logits (-0.25, 1.0).
    p = torch.softmax(torch.tensor([-0.25, 1.0]), 0)
    grad = torch.tensor([[1.0, -1.0], [-2.0, 1.0], [0.5, 2.0]]) @ (p - torch.tensor([1.0, 0.0]))
    expected = x + 0.1 * grad.sign()
    (eps, adv), = FGSM(eps=[0.1], clamp=False).perturb(model, x, y)
    assert eps == 0.1
    assert torch.allclose(adv, expected)


def test_fgsm_clamps_to_pixel_range_unless_told_not_to() -> None:
    model = seed_cnn(c=2).eval()
    x, y = torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))
    clamped = dict(FGSM(eps=[0.5]).perturb(model, x, y))[0.5]
    raw = dict(FGSM(eps=[0.5], clamp=False).perturb(model, x, y))[0.5]
    assert clamped.min() >= 0 and clamped.max() <= 1
    assert raw.min() < 0 or raw.max() > 1
    step = (raw - x).abs()
    # sign(0) = 0 where max-pooling gives a pixel no gradient; elsewhere the step is exactly eps
    assert torch.all(((step - 0.5).abs() < 1e-6) | (step == 0)) and (step > 0).any()


def test_eps_zero_leaves_predictions_unchanged() -> None:
    model = seed_cnn(c=2).eval()
    x, y = torch.rand(16, 1, 28, 28), torch.randint(0, 10, (16,))
    (_, adv), = FGSM(eps=[0.0]).perturb(model, x, y)
    cpu = torch.device("cpu")
    assert torch.equal(predict(model, adv, batch_size=8, device=cpu),
                       predict(model, x, batch_size=8, device=cpu))


def test_fgsm_matches_torchattacks() -> None:
    torchattacks = pytest.importorskip("torchattacks")
    model = seed_cnn(c=2).eval()
    x, y = torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))
    reference = torchattacks.FGSM(model, eps=0.0924)(x, y)
    (_, ours), = FGSM(eps=[0.0924]).perturb(model, x, y)
    assert torch.allclose(ours, reference, atol=1e-6)
