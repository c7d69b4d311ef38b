"""A comparison of two result sets as a verdict a newcomer can act on: reproduced exactly;
reproduced within the tolerance or within floating-point noise (each setting that moved beyond
the tolerance on some seed named once, with the noise its own same-seed changes measure); or
differs (each differing setting once, with its numbers)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from innr_bench.reporting.comparison import SLACK

if TYPE_CHECKING:
    from innr_bench.reporting.reproduce import Comparison, SettingResult

# environment fields worth naming in a verdict, in this order (the rest are in the report's table)
NAMED_FIELDS = ("device_name", "cpu", "device", "package torch", "torch_threads", "python")


def in_words(comparison: Comparison) -> str:
    """The verdict: a first line in capitals (EXACTLY / REPRODUCED / DIFFERS / NOTHING COMPARED),
    then what it rests on, one setting a line."""
    tolerance = comparison.tolerance_pt
    settings = comparison.settings
    differing = [s for s in settings if not s.agrees]
    agreeing = [s for s in settings if s.agrees]
    by_spread = [s for s in agreeing if math.isnan(s.largest_same_seed)]
    beyond = [s for s in agreeing if s.largest_same_seed > tolerance + SLACK]
    within = [s for s in agreeing if 0 < s.largest_same_seed <= tolerance + SLACK]
    identical = [s for s in agreeing if s.largest_same_seed == 0]
    across = any(s.verdict is not None and s.verdict.mode != "paired" for s in settings)
    if not comparison.cells:
        lines = ["NOTHING COMPARED: no cell is on both sides."]
    elif differing:
        cause = "floating-point order explains" if across else "the tolerance allows"
        lines = [f"DIFFERS: {len(differing)} of {len(settings)} settings moved beyond what {cause}:",
                 *_listed(differing)]
        if beyond:
            lines.append(f"{len(beyond)} other settings moved beyond {tolerance:g} pt on some seed, within "
                         f"their measured noise: {', '.join(s.name for s in beyond)}.")
    elif not (beyond or within or by_spread):  # whatever the environments
        lines = [f"REPRODUCED EXACTLY: every value of the {comparison.cells} cells on both sides is "
                 "identical."]
    elif across:
        lines = [f"REPRODUCED WITHIN FLOATING-POINT NOISE: the environments differ "
                 f"({_environment(comparison)}), and no setting moved beyond the {tolerance:g} pt tolerance "
                 "plus the noise its own same-seed changes measure."]
        if beyond:
            lines += [f"Moved by floating-point order beyond {tolerance:g} pt on some seed, each within "
                      "what such cells are measured to move:", *_listed(beyond)]
    else:
        lines = [f"REPRODUCED WITHIN TOLERANCE: the same environment; every seed within {tolerance:g} pt."]
    if comparison.cells and (within or identical or by_spread) and (differing or across or within):
        counts = [f"{len(within)} moved by at most {tolerance:g} pt a seed" if within else "",
                  f"{len(identical)} identical" if identical else "",
                  f"{len(by_spread)} compared by seed spread (no seed on both sides)" if by_spread else ""]
        lines.append("Other settings: " + "; ".join(c for c in counts if c) + ".")
    if comparison.missing:
        lines.append(f"{len(comparison.missing)} cells are on one side only and were not compared.")
    if comparison.redefined:
        lines.append(f"{len(comparison.redefined)} settings are defined differently on the two sides: a "
                     "change there may be the new definition, not the environment.")
    return "\n".join(lines)


def _listed(settings: list[SettingResult]) -> list[str]:
    return [f"- {s.name}: {s.numbers()}" for s in settings]


def _environment(comparison: Comparison) -> str:
    """The environment differences that matter most, e.g. `device_name AMD EPYC vs NVIDIA H200`."""
    table = comparison.environment
    if table.empty:
        return "a side does not record its environment"
    rows = {row.field: (row.A, row.B) for row in table.itertuples()}
    named = [f"{name} {rows[name][0]} vs {rows[name][1]}" for name in NAMED_FIELDS if name in rows]
    return "; ".join(named) or "cells' environments"
