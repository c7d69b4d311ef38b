"""What a compressor cell and an attack cell compute: their results, before the record's common
fields are added (`worker.py`)."""

from __future__ import annotations

import time
from typing import Any

import torch

from innr_bench.compress.base import fp32_bytes, named_weights
from innr_bench.config import CONTROL, ORIGINAL, Component
from innr_bench.engine.context import WorkContext
from innr_bench.engine.copies import Copies
from innr_bench.engine.degraded import degradation
from innr_bench.engine.evaluate import attack_pairs, inheritance_rows, weight_errors
from innr_bench.engine.plan import TargetGroup, attacked, inherited
from innr_bench.engine.records import pack_correct
from innr_bench.engine.targets import ensure_target
from innr_bench.registry import ATTACKS


def compress_cell(ctx: WorkContext, copies: Copies, group: TargetGroup,
                  compressor: Component) -> dict[str, Any]:
    """The copy's accuracy, agreement with the original, stored bytes and weight error."""
    assert group.model is not None
    compressed = copies.get(group, compressor)
    with ctx.stage("evaluate"):
        rebuilt = compressed.reconstruct(group.model)
        preds = ctx.predict(rebuilt, group.data.test_x)
        if group.test_predictions is None:
            group.test_predictions = ctx.predict(group.model, group.data.test_x)
        original_preds = group.test_predictions
        errors = weight_errors(named_weights(group.model), named_weights(rebuilt))
    accuracy = float((preds == group.data.test_y).float().mean())
    reference = fp32_bytes(group.model)
    if not all(torch.isfinite(p).all() for p in rebuilt.parameters()):
        raise FloatingPointError("reconstructed weights contain NaN or inf")
    result = {
        "target_accuracy": group.info["accuracy"],
        "target_train": {k: group.info.get(k) for k in ("steps", "epochs", "seconds")},
        "accuracy": accuracy,
        "delta": accuracy - group.info["accuracy"],
        "agreement": float((preds == original_preds).float().mean()),
        # which test inputs it got right: rows are then compared input by input (McNemar)
        "correct": {"n": len(preds), "bits": pack_correct((preds == group.data.test_y).cpu().numpy())},
        "size_bytes": compressed.size_bytes,
        "fp32_bytes": reference,
        "ratio": compressed.size_bytes / reference,
        "data_free": compressor.data_free,
        "compress_seconds": compressed.info.get("seconds"),
        "weight_error": errors,
        "info": compressed.info,
        "classes": group.data.num_classes,
    }
    return {**result, "degraded": degradation(result, target_info=group.info)}


def attack_cell(ctx: WorkContext, copies: Copies, group: TargetGroup, attack: Component) -> dict[str, Any]:
    """The transfer matrix between the original, the copies marked `transfer` and the control;
    and the inheritance board: every copy under the original's adversarials (crafted once
    per batch and reused) and under its own (white-box). A `whitebox_only` attack: each net
    on its own, no transfer."""
    assert group.model is not None
    suite, plan = ctx.plan.suite, ctx.plan
    in_matrix, on_board = attacked(suite.compressors, group), inherited(suite, attack, group)
    matrix = [ORIGINAL, *(c.label for c in in_matrix)]
    labels = [c.label for c in on_board]
    nets = {ORIGINAL: group.model}
    for compressor in in_matrix + on_board:
        if compressor.label not in nets:
            nets[compressor.label] = copies.get(group, compressor).reconstruct(group.model)
    control = None
    if plan.has_control(group):
        control = plan.control(group)
        ensure_target(ctx, control)
        nets[CONTROL] = control.model
        matrix.append(CONTROL)
    board = [*labels, *([CONTROL] if control is not None else [])]
    if attack.whitebox_only:
        evaluated_on = {name: [name] for name in [ORIGINAL, *board]}
    else:
        evaluated_on = {name: list(matrix) for name in matrix}
        evaluated_on[ORIGINAL] = list(dict.fromkeys([*matrix, *board]))
        evaluated_on.update({name: [name] for name in labels if name not in evaluated_on})
    limit = attack.limit or suite.eval.attack_limit
    x, y = group.data.test_x[:limit], group.data.test_y[:limit]
    start = time.perf_counter()
    with ctx.stage("attack"):
        rows = attack_pairs(nets, evaluated_on, ATTACKS.get(attack.name)(**attack.params), x, y,
                            batch_size=suite.eval.batch_size, device=ctx.device,
                            progress=ctx.progress, stack=suite.eval.stack_copies)
    matrix_nets = set(matrix)
    return {"nets": [] if attack.whitebox_only else matrix, "n_attacked": len(y),
            "transfer": [] if attack.whitebox_only else
            [r for r in rows if r["source"] in matrix_nets and r["evaluated"] in matrix_nets],
            "inheritance": inheritance_rows(rows, ORIGINAL, [ORIGINAL, *board],
                                            whitebox_only=attack.whitebox_only),
            "whitebox_only": attack.whitebox_only, "copies": len(labels),
            "attack_seconds": round(time.perf_counter() - start, 3),
            "control": None if control is None else {"seed": control.seed, "key": control.key,
                                                     "accuracy": control.info.get("accuracy")}}
