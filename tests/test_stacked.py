"""Copies of one architecture attacked and evaluated as one stack give the counts one net at a
time gives (on these nets, bit for bit), group by architecture, and fall back for attacks
without a stacked form."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator

import pytest
import torch
from torch import nn

from innr_bench.attacks.fgsm import FGSM
from innr_bench.attacks.pgd import PGD
from innr_bench.engine.evaluate import attack_pairs
from innr_bench.models.lenet import lenet_300_100
from innr_bench.models.seed_cnn import seed_cnn
from innr_bench.models.stacked import Stacked, stacks
from innr_bench.progress import Progress

CPU = torch.device("cpu")


def noisy_copies(build: Callable[[], nn.Module], count: int) -> dict[str, nn.Module]:
    torch.manual_seed(0)
    original = build().eval()
    nets = {"original": original}
    for i in range(count):
        net = copy.deepcopy(original)
        with torch.no_grad():
            for p in net.parameters():
                p.add_(0.05 * p.std() * torch.randn_like(p))
        nets[f"copy-{i}"] = net
    return nets


def counts(nets: dict[str, nn.Module], attack: object, stack: int) -> dict[tuple, tuple[int, int, int]]:
    torch.manual_seed(1)
    x, y = torch.rand(96, 1, 28, 28), torch.randint(0, 10, (96,))
    targets_of = {"original": list(nets), **{n: [n] for n in nets if n != "original"}}
    rows = attack_pairs(nets, targets_of, attack, x, y, batch_size=48, device=CPU,
                        progress=Progress(enabled=False), stack=stack)
    return {(r["eps"], r["source"], r["evaluated"]): (r["correct"], r["cond_n"], r["cond_transferred"])
            for r in rows}


@pytest.mark.parametrize("build", [lambda: seed_cnn(c=4), lenet_300_100], ids=["cnn", "mlp"])
@pytest.mark.parametrize("attack", [
    FGSM(eps=[0.0, 0.05, 0.3]),
    PGD(eps=[0.0, 0.05, 0.15], steps=3),
    PGD(eps=[0.1], steps=2, target="random"),
    PGD(eps=[0.1], steps=2, target="least-likely", random_start=False),
], ids=["fgsm", "pgd", "pgd-random-target", "pgd-least-likely"])
def test_stacked_counts_equal_one_net_at_a_time(build: Callable[[], nn.Module], attack: object) -> None:
    nets = noisy_copies(build, 5)
    one, stacked = counts(nets, attack, 1), counts(nets, attack, 3)  # stacks of 3 and 2
    assert one.keys() == stacked.keys()
    assert one == stacked


def test_stacks_group_by_architecture_and_size() -> None:
    nets = {**noisy_copies(lambda: seed_cnn(c=4), 3), "mlp-a": lenet_300_100(), "mlp-b": lenet_300_100()}
    groups = [names for names, _ in stacks(nets, list(nets), 3)]
    assert groups == [["original", "copy-0", "copy-1"], ["copy-2"], ["mlp-a", "mlp-b"]]
    x = torch.rand(7, 1, 28, 28)
    names, stacked = stacks(nets, ["mlp-a", "mlp-b"], 4)[0]
    with torch.no_grad():
        expected = torch.stack([nets[n](x) for n in names])
        torch.testing.assert_close(stacked.shared(x), expected)
        torch.testing.assert_close(stacked(x.expand(2, *x.shape)), expected)
    assert isinstance(stacked, Stacked) and stacked.size == 2


class SignOnly:
    """An attack with no stacked form: the copies are attacked one at a time."""

    eps = (0.1,)

    def perturb(self, model: nn.Module, x: torch.Tensor,
                y: torch.Tensor) -> Iterator[tuple[float, torch.Tensor]]:
        yield 0.1, (x + 0.1 * torch.sign(x - 0.5)).clamp(0, 1)


def test_an_attack_without_a_stacked_form_runs_one_net_at_a_time() -> None:
    nets = noisy_copies(lenet_300_100, 3)
    assert counts(nets, SignOnly(), 1) == counts(nets, SignOnly(), 4)


def test_torchattacks_stacked_gives_each_copy_its_own_attack() -> None:
    """A torchattacks attack over the stack as one model (K x B inputs): a deterministic one (BIM)
    counts as one net at a time; APGD's random starts are drawn for all inputs together, so its
    counts may differ a little, but each copy is still attacked on itself."""
    pytest.importorskip("torchattacks")
    from innr_bench.attacks.external import TorchAttacks

    nets = noisy_copies(lambda: seed_cnn(c=4), 4)
    bim = TorchAttacks(attack="BIM", eps=[0.0, 0.05], params={"steps": 3, "alpha": 0.02})
    assert counts(nets, bim, 1) == counts(nets, bim, 4)
    apgd = TorchAttacks(attack="APGD", eps=[0.1], params={"steps": 5, "seed": 0})
    one, stacked = counts(nets, apgd, 1), counts(nets, apgd, 4)
    for (eps, source, evaluated), (correct, _, _) in one.items():
        if source == evaluated and source != "original":  # white-box on each copy
            assert abs(stacked[(eps, source, evaluated)][0] - correct) <= 5
