"""FGSM on one batch: our sweep (one input gradient for all eps) vs a per-eps loop, same run."""

from __future__ import annotations

import torch

from innr_bench.attacks.fgsm import FGSM, fgsm_step, input_gradient_sign
from innr_bench.models.seed_cnn import seed_cnn

EPS = [0.0, 0.02, 0.05, 0.0924, 0.15, 0.2, 0.3]


def _batch() -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    return seed_cnn(c=32).eval(), torch.rand(1000, 1, 28, 28), torch.randint(0, 10, (1000,))


def test_fgsm_sweep_7_eps(benchmark) -> None:
    model, x, y = _batch()
    attack = FGSM(eps=EPS)
    result = benchmark(lambda: [adv for _, adv in attack.perturb(model, x, y)])
    assert len(result) == len(EPS)


def test_fgsm_naive_loop_7_eps(benchmark) -> None:
    """The seed's way: one gradient per eps."""
    model, x, y = _batch()
    result = benchmark(
        lambda: [fgsm_step(x, input_gradient_sign(model, x, y), eps, clamp=True) for eps in EPS]
    )
    assert len(result) == len(EPS)
