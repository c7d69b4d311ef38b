"""What the inheritance board costs: an FGSM cell (4 eps, 1,000 inputs, as in suites/mnist.yaml)
on the seed CNN with the transfer matrix alone (original, 2 copies, control) and with 4 and 8
more copies on the board. Each added copy costs forward passes under the original's
adversarials (crafted once per batch) plus one white-box attack on itself.

    pytest benchmarks/test_inheritance_cost.py --benchmark-only
"""

from __future__ import annotations

import copy

import pytest
import torch

from innr_bench.attacks.fgsm import FGSM
from innr_bench.engine.evaluate import attack_pairs
from innr_bench.models.seed_cnn import seed_cnn
from innr_bench.progress import Progress

CPU = torch.device("cpu")


def _nets(extra: int) -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    original = seed_cnn(c=32).eval()
    nets = {"original": original}
    for i in range(2 + extra):  # copies: the original with small weight noise
        net = copy.deepcopy(original)
        with torch.no_grad():
            for p in net.parameters():
                p.add_(0.01 * i * p.std() * torch.randn_like(p))
        nets[f"copy-{i}"] = net
    torch.manual_seed(1)
    nets["control"] = seed_cnn(c=32).eval()
    return nets


@pytest.mark.parametrize("extra", [0, 4, 8])
def test_fgsm_cell_with_more_copies_on_the_board(benchmark, extra: int) -> None:
    nets = _nets(extra)
    matrix = ["original", "copy-0", "copy-1", "control"]
    evaluated_on = {n: matrix for n in matrix}
    evaluated_on["original"] = list(nets)
    evaluated_on.update({n: [n] for n in nets if n not in matrix})
    x, y = torch.rand(1000, 1, 28, 28), torch.randint(0, 10, (1000,))
    attack = FGSM(eps=[0.0, 0.05, 0.0924, 0.3], clamp=True)
    rows = benchmark(lambda: attack_pairs(nets, evaluated_on, attack, x, y, batch_size=1000, device=CPU,
                                          progress=Progress(enabled=False)))
    assert len(rows) == 4 * (len(matrix) ** 2 + 2 * extra)
