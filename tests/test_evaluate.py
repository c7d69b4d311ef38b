"""Transfer counting against a hand computation on nets whose every prediction is fixed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from torch import nn

from innr_bench.engine.evaluate import attack_pairs
from innr_bench.progress import Progress

SHIFT = 100  # the fake attack moves input i to input SHIFT + i


class LookupNet(nn.Module):
    """Predicts the class its table gives for each input id (the input's value)."""

    def __init__(self, table: dict[int, int]) -> None:
        super().__init__()
        self.table = table

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        classes = torch.tensor([self.table[int(v)] for v in x.reshape(-1)])
        return nn.functional.one_hot(classes, 2).float()


class ShiftAttack:
    """eps 0 returns the inputs themselves; eps 0.1 the shifted inputs, whatever the source."""

    eps = (0.0, 0.1)

    def perturb(
        self, model: nn.Module, x: torch.Tensor, y: torch.Tensor
    ) -> Iterator[tuple[float, torch.Tensor]]:
        yield 0.0, x
        yield 0.1, x + SHIFT


def _net(clean: list[int], adversarial: list[int]) -> LookupNet:
    return LookupNet({**dict(enumerate(clean)), **{SHIFT + i: c for i, c in enumerate(adversarial)}})


@pytest.mark.parametrize("batch_size", [3, 4])  # counts pool across batches
def test_transfer_counts_match_a_hand_computation(batch_size: int) -> None:
    nets = {"a": _net([0, 0, 0, 1], [1, 1, 0, 1]), "b": _net([0, 0, 1, 1], [1, 0, 1, 0])}
    x, y = torch.arange(4, dtype=torch.float32).reshape(4, 1), torch.zeros(4, dtype=torch.int64)
    every_pair = {name: list(nets) for name in nets}  # the full transfer matrix
    rows = attack_pairs(nets, every_pair, ShiftAttack(), x, y, batch_size=batch_size,
                        device=torch.device("cpu"), progress=Progress(enabled=False))
    cell = {(r["eps"], r["source"], r["evaluated"]): r for r in rows}
    # a right on inputs 0,1,2 and fooled on 0,1,3; b right on 0,1 and fooled on 0,2.
    a_to_b = cell[(0.1, "a", "b")]
    assert (a_to_b["correct"], a_to_b["n"], a_to_b["cond_n"], a_to_b["cond_transferred"]) == (2, 4, 2, 1)
    assert a_to_b["transfer_rate"] == 0.5 and a_to_b["accuracy"] == 0.5
    assert a_to_b["relative_transfer"] == pytest.approx((1 - 2 / 4) / (1 - 1 / 4))  # b's success / a's
    b_to_a = cell[(0.1, "b", "a")]
    assert (b_to_a["correct"], b_to_a["cond_n"], b_to_a["cond_transferred"]) == (1, 1, 1)
    assert cell[(0.1, "a", "a")]["relative_transfer"] == pytest.approx(1.0)
    clean = cell[(0.0, "a", "b")]  # eps 0: clean accuracy, nothing can transfer
    assert clean["accuracy"] == 0.5 and clean["cond_n"] == 0 and clean["transfer_rate"] is None
    assert len(rows) == 2 * 2 * 2


def test_inheritance_rows_follow_the_original_s_adversarials_and_each_net_s_own() -> None:
    from innr_bench.engine.evaluate import inheritance_rows

    nets = {"original": _net([0, 0, 0, 1], [1, 1, 0, 1]), "copy": _net([0, 0, 1, 1], [1, 0, 1, 0])}
    x, y = torch.arange(4, dtype=torch.float32).reshape(4, 1), torch.zeros(4, dtype=torch.int64)
    calls: list[int] = []

    class Counted(ShiftAttack):
        def perturb(
            self, model: nn.Module, x: torch.Tensor, y: torch.Tensor
        ) -> Iterator[tuple[float, torch.Tensor]]:
            calls.append(id(model))
            yield from super().perturb(model, x, y)

    rows = attack_pairs(nets, {"original": ["original", "copy"], "copy": ["copy"]}, Counted(), x, y,
                        batch_size=2, device=torch.device("cpu"), progress=Progress(enabled=False))
    assert len(calls) == 2 * 2  # one attack per source and batch, however many nets it is tried on
    assert {(r["source"], r["evaluated"]) for r in rows} == {("original", "original"), ("original", "copy"),
                                                          ("copy", "copy")}
    board = {(r["eps"], r["net"]): r for r in inheritance_rows(rows, "original", ["original", "copy"])}
    copy = board[(0.1, "copy")]
    # under the original's adversarials (inputs 100-103) the copy is right on 101 and 103
    assert (copy["correct"], copy["accuracy"], copy["cond_n"], copy["cond_transferred"]) == (2, 0.5, 2, 1)
    assert copy["whitebox_accuracy"] == 0.5 and copy["whitebox_correct"] == 2  # its own: right on 1, 3
    assert board[(0.1, "original")]["whitebox_accuracy"] == 0.25
    only = inheritance_rows(rows, "original", ["copy"], whitebox_only=True)
    assert all(r["accuracy"] is None and r["transfer_rate"] is None for r in only)
