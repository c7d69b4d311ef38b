"""Accuracy, agreement, weight reconstruction error, attack-transfer matrices and inheritance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from innr_bench.attacks.base import Attack
from innr_bench.models.placement import place_batch, place_model
from innr_bench.models.stacked import Stacked, stacks
from innr_bench.progress import Progress


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, *, batch_size: int, device: torch.device) -> torch.Tensor:
    """Predicted classes (on the CPU) for every input, in batches."""
    place_model(model, device).eval()
    return torch.cat([model(place_batch(b, device)).argmax(1).cpu() for b in x.split(batch_size)])


def weight_errors(
    original: Mapping[str, torch.Tensor], decoded: Mapping[str, torch.Tensor]
) -> dict[str, Any]:
    """Weight MSE and relative L2 error, per parameter tensor and over all of them."""
    per_layer = {}
    for name, w in original.items():
        diff = decoded[name].reshape(w.shape).float() - w.float()
        per_layer[name] = {
            "mse": float(diff.pow(2).mean()),
            "rel_l2": float(diff.norm() / w.norm().clamp_min(1e-12)),
        }
    flat_w = torch.cat([w.reshape(-1).float() for w in original.values()])
    flat_d = torch.cat([decoded[n].reshape(-1).float() for n in original])
    return {
        "mse": float((flat_d - flat_w).pow(2).mean()),
        "rel_l2": float((flat_d - flat_w).norm() / flat_w.norm().clamp_min(1e-12)),
        "per_layer": per_layer,
    }


def attack_pairs(
    nets: Mapping[str, nn.Module],
    evaluated_on: Mapping[str, Sequence[str]],
    attack: Attack,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    batch_size: int,
    device: torch.device,
    progress: Progress,
    stack: int = 1,
) -> list[dict[str, Any]]:
    """Craft adversarials on each source net (each key of `evaluated_on`) once per batch and
    evaluate them on the nets it lists (the source itself always included: its white-box row).

    One row per (eps, source, evaluated) with counts, so rates can be pooled over seeds:
    `correct` (the evaluated net right on the source's adversarials), `n`, and for the conditional
    transfer rate `cond_n` (both nets right on the clean input and the source fooled by its
    adversarial) and `cond_transferred` (of those, the evaluated net fooled too);
    `relative_transfer` = the evaluated net's
    attack success (1 - accuracy) over the source's white-box success. Inputs go in batches;
    the cost is one attack per source and batch plus one forward pass per evaluated net.

    `stack` > 1 runs up to that many nets of one architecture as one (`Stacked`): clean and
    transferred predictions in one pass per stack, and the white-box attack of the sources
    attacked only on themselves (the copies) batched too where the attack has
    `perturb_stacked`. Batched kernels may sum in another order than one net at a time (on the
    CPU nets measured so far the counts were identical), which is why it is a setting of its
    own, in the attack cell's key; on 2 CPU cores it is slower for convolutions
    (benchmarks/inheritance_stack.py), so it is meant for GPUs.
    """
    pairs = {s: list(dict.fromkeys([s, *nets_of])) for s, nets_of in evaluated_on.items()}
    involved = list(dict.fromkeys(n for nets_of in pairs.values() for n in nets_of))
    for name in involved:
        place_model(nets[name], device).eval()
    alone = [s for s, nets_of in pairs.items() if nets_of == [s]]
    together = stack > 1 and hasattr(attack, "perturb_stacked")
    predictions = StackedPredictions(nets, stack)
    own = predictions.stacks(alone) if together else []  # the same stacks the predictions use
    crafted_alone = [s for s in pairs if not (together and s in alone)]
    counts: dict[tuple[float, str, str], list[int]] = {}

    def tally(eps: float, source: str, evaluated: str, fooled: dict[str, torch.Tensor],
              clean_ok: dict[str, torch.Tensor], yb: torch.Tensor) -> None:
        cond = clean_ok[source] & clean_ok[evaluated] & fooled[source]
        row = counts.setdefault((eps, source, evaluated), [0, 0, 0, 0])
        row[0] += int((~fooled[evaluated]).sum())
        row[1] += len(yb)
        row[2] += int(cond.sum())
        row[3] += int((cond & fooled[evaluated]).sum())

    batches = list(zip(x.split(batch_size), y.split(batch_size)))
    with progress.task("attack", total=len(batches) * (len(crafted_alone) + len(own))) as advance:
        for xb, yb in batches:
            xb, yb = place_batch(xb, device), yb.to(device)
            clean_ok = predictions.right(involved, xb, yb)
            for source in crafted_alone:
                on = pairs[source]
                for eps, adv in attack.perturb(nets[source], xb, yb):
                    if torch.equal(adv, xb):  # eps = 0: the clean predictions, no forward needed
                        fooled = {n: ~clean_ok[n] for n in on}
                    else:
                        fooled = {n: ~ok for n, ok in predictions.right(on, adv, yb).items()}
                    for evaluated in on:
                        tally(eps, source, evaluated, fooled, clean_ok, yb)
                advance(1, source)
            for names, stacked in own:  # each copy on its own adversarials, all at once
                for eps, adv in attack.perturb_stacked(stacked, xb, yb):
                    if eps == 0 and torch.equal(adv[0], xb):
                        fooled = {n: ~clean_ok[n] for n in names}
                    else:
                        with torch.no_grad():
                            wrong = stacked(adv).argmax(-1) != yb
                        fooled = dict(zip(names, wrong, strict=True))
                    for name in names:
                        tally(eps, name, name, fooled, clean_ok, yb)
                advance(1, names[-1])

    def relative(eps: float, source: str, evaluated_correct: int, n: int) -> float | None:
        white_box_success = 1 - counts[(eps, source, source)][0] / n
        return (1 - evaluated_correct / n) / white_box_success if white_box_success > 0 else None

    return [
        {"eps": eps, "source": s, "evaluated": t, "correct": c, "n": n, "cond_n": cn,
         "cond_transferred": ct, "accuracy": c / n,
         "transfer_rate": ct / cn if cn else None, "relative_transfer": relative(eps, s, c, n)}
        for (eps, s, t), (c, n, cn, ct) in counts.items()
    ]


class StackedPredictions:
    """Which inputs of a batch each net classifies right: one net at a time (`stack` <= 1), or
    nets of one architecture in stacks of up to `stack`, one pass a stack (stacks built once)."""

    def __init__(self, nets: Mapping[str, nn.Module], stack: int) -> None:
        self.nets, self.stack = nets, stack
        self.built: dict[tuple[str, ...], list[tuple[list[str], Stacked]]] = {}

    def stacks(self, names: Sequence[str]) -> list[tuple[list[str], Stacked]]:
        """The nets `names` in stacks of at most `stack`, built once per list of names."""
        if tuple(names) not in self.built:
            self.built[tuple(names)] = stacks(self.nets, names, self.stack)
        return self.built[tuple(names)]

    def right(self, names: Sequence[str], x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        nets = self.nets
        with torch.no_grad():
            if self.stack <= 1:
                return {n: nets[n](x).argmax(1) == y for n in names}
            right: dict[str, torch.Tensor] = {}
            for group, stacked in self.stacks(names):
                if len(group) == 1:
                    right[group[0]] = nets[group[0]](x).argmax(1) == y
                else:
                    right.update(zip(group, stacked.shared(x).argmax(-1) == y, strict=True))
            return right


# What a copy inherits from the original's attack: its row of the original's transfer matrix.
INHERITED_FIELDS = ("correct", "cond_n", "cond_transferred", "accuracy", "transfer_rate", "relative_transfer")


def inheritance_rows(rows: list[dict[str, Any]], original: str, nets: Sequence[str],
                     whitebox_only: bool = False) -> list[dict[str, Any]]:
    """Per (eps, net): what the net inherits from `original` (accuracy under the original's
    adversarials, conditional and relative transfer; None when `whitebox_only`) and its own
    white-box accuracy (the attack crafted on the net itself), from `attack_pairs` rows."""
    cell = {(r["eps"], r["source"], r["evaluated"]): r for r in rows}
    out = []
    for eps in sorted({r["eps"] for r in rows}):
        for net in nets:
            own = cell[(eps, net, net)]
            inherited = None if whitebox_only else cell.get((eps, original, net))
            out.append({
                "eps": eps, "net": net, "n": own["n"], "whitebox_correct": own["correct"],
                "whitebox_accuracy": own["accuracy"],
                **{k: None if inherited is None else inherited[k] for k in INHERITED_FIELDS},
            })
    return out
