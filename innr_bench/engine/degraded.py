"""Degraded results, named: a fit that diverged or ended far above its own first loss, a copy at
chance accuracy while its original is not, a target whose weight file was cast on loading. A
finished record carries the reasons in `degraded` (a list of one-line strings, empty when none);
the console prints them, every leaderboard format marks them, and the front marks leave them out
unless asked (docs/concepts.md, "Degraded results")."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

DIVERGED_FACTOR = 2.0  # a fit that ends above twice its first recorded loss went the wrong way
CHANCE_STANDARD_ERRORS = 3.0  # "at chance": within 3 binomial standard errors of 1 / classes
HISTORIES = {"history": "weight fit", "qat_history": "QAT refit", "distill_history": "distillation"}


def fit_problems(info: Mapping[str, Any]) -> list[str]:
    """Each fitting stage whose loss is not a number or ended far above where it started, from
    the loss histories a compressor's `info` holds."""
    found = []
    for key, stage in HISTORIES.items():
        losses = _losses(info.get(key))
        if not losses:
            continue
        first, last = losses[0], losses[-1]
        if not math.isfinite(last):
            found.append(f"{stage} diverged: its loss ended at {last}")
        elif math.isfinite(first) and first > 0 and last > DIVERGED_FACTOR * first:
            found.append(f"{stage} diverged: its loss ended at {last:.4g}, {last / first:.1f}x its first "
                         f"{first:.4g}")
    return found


def _losses(history: Any) -> list[float]:
    """The losses of a `[[step, loss], ...]` history; points of another shape (a plugin's own
    history format) are left out rather than failing a cell or a read."""
    found = []
    for point in history if isinstance(history, list | tuple) else []:
        try:
            found.append(float(point[1]))
        except (TypeError, ValueError, IndexError, KeyError):
            continue
    return found


def at_chance(accuracy: float, original: float, classes: int | None, n: int | None) -> str | None:
    """Why a copy counts as at chance accuracy (its original above it), or None."""
    if not classes or not n or classes < 2:
        return None
    chance = 1.0 / classes
    bound = chance + CHANCE_STANDARD_ERRORS * math.sqrt(chance * (1 - chance) / n)
    if accuracy <= bound < original:
        return (f"copy at chance accuracy: {100 * accuracy:.2f} % with {classes} classes (chance "
                f"{100 * chance:.2f} %), its original {100 * original:.2f} %")
    return None


def cast_on_loading(info: Mapping[str, Any]) -> str | None:
    """The weight file's casts, as a target's info records them (`models.checkpoint`)."""
    casts = info.get("weights_cast") or {}
    if not casts:
        return None
    shown = ", ".join(f"{source} -> {wanted} ({count} tensors)"
                      for source, (wanted, count) in sorted(casts.items()))
    return f"target weights cast on loading: {shown}"


def degradation(record: Mapping[str, Any], *, classes: int | None = None,
                target_info: Mapping[str, Any] | None = None) -> list[str]:
    """Every reason a finished compressor record is degraded (what the worker stores, and what
    readers derive for records made before the field existed)."""
    info = record.get("info")
    reasons = fit_problems(info if isinstance(info, Mapping) else {})
    correct = record.get("correct") or {}
    accuracy, original = record.get("accuracy"), record.get("target_accuracy")
    chance = (at_chance(float(accuracy), float(original), classes or record.get("classes"), correct.get("n"))
              if isinstance(accuracy, int | float) and isinstance(original, int | float) else None)
    cast = cast_on_loading(target_info or {})
    return reasons + [r for r in (chance, cast) if r]
