"""Accuracy, agreement, weight reconstruction error, attack-transfer matrices and inheritance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from innr_bench.attacks.base import Attack
from innr_bench.models.placement import place_batch, place_model
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
    targets_of: Mapping[str, Sequence[str]],
    attack: Attack,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    batch_size: int,
    device: torch.device,
    progress: Progress,
) -> list[dict[str, Any]]:
    """Craft adversarials on each source net (each key of `targets_of`) once per batch and
    evaluate them on the nets it lists (the source itself always included: its white-box row).

    One row per (eps, source, target) with counts, so rates can be pooled over seeds:
    `correct` (target right on the source's adversarials), `n`, and for the conditional transfer
    rate `cond_n` (both nets right on the clean input and the source fooled by its adversarial)
    and `cond_transferred` (of those, the target fooled too); `relative_transfer` = the target's
    attack success (1 - accuracy) over the source's white-box success. Inputs go in batches;
    the cost is one attack per source and batch plus one forward pass per evaluated net.
    """
    pairs = {s: list(dict.fromkeys([s, *targets])) for s, targets in targets_of.items()}
    involved = list(dict.fromkeys(n for s, targets in pairs.items() for n in targets))
    for name in involved:
        place_model(nets[name], device).eval()
    counts: dict[tuple[float, str, str], list[int]] = {}
    batches = list(zip(x.split(batch_size), y.split(batch_size)))
    with progress.task("attack", total=len(batches) * len(pairs)) as advance:
        for xb, yb in batches:
            xb, yb = place_batch(xb, device), yb.to(device)
            with torch.no_grad():
                clean_ok = {n: nets[n](xb).argmax(1) == yb for n in involved}
            for source, targets in pairs.items():
                for eps, adv in attack.perturb(nets[source], xb, yb):
                    if torch.equal(adv, xb):  # eps = 0: the clean predictions, no forward needed
                        fooled = {n: ~clean_ok[n] for n in targets}
                    else:
                        with torch.no_grad():
                            fooled = {n: nets[n](adv).argmax(1) != yb for n in targets}
                    for target in targets:
                        cond = clean_ok[source] & clean_ok[target] & fooled[source]
                        row = counts.setdefault((eps, source, target), [0, 0, 0, 0])
                        row[0] += int((~fooled[target]).sum())
                        row[1] += len(yb)
                        row[2] += int(cond.sum())
                        row[3] += int((cond & fooled[target]).sum())
                advance(1, source)

    def relative(eps: float, source: str, target_correct: int, n: int) -> float | None:
        white_box_success = 1 - counts[(eps, source, source)][0] / n
        return (1 - target_correct / n) / white_box_success if white_box_success > 0 else None

    return [
        {"eps": eps, "source": s, "target": t, "correct": c, "n": n, "cond_n": cn,
         "cond_transferred": ct, "accuracy": c / n,
         "transfer_rate": ct / cn if cn else None, "relative_transfer": relative(eps, s, c, n)}
        for (eps, s, t), (c, n, cn, ct) in counts.items()
    ]


# What a copy inherits from the original's attack: its row of the original's transfer matrix.
INHERITED_FIELDS = ("correct", "cond_n", "cond_transferred", "accuracy", "transfer_rate", "relative_transfer")


def inheritance_rows(rows: list[dict[str, Any]], original: str, nets: Sequence[str],
                     whitebox_only: bool = False) -> list[dict[str, Any]]:
    """Per (eps, net): what the net inherits from `original` (accuracy under the original's
    adversarials, conditional and relative transfer; None when `whitebox_only`) and its own
    white-box accuracy (the attack crafted on the net itself), from `attack_pairs` rows."""
    cell = {(r["eps"], r["source"], r["target"]): r for r in rows}
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
