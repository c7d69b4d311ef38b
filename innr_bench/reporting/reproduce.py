"""Do two result sets agree? Cell by cell where that is meaningful, setting by setting where not,
and a verdict in words at the end.

A cell is one (data, target, kind, component, seed). Two records of the same cell from the same
seed are compared **per seed**: in the same environment (torch, device kind and name, CPU
threads, numerics) each seed's change must stay within the tolerance (0.5 point by default;
numerically identical runs differ by 0); across environments the mean same-seed change must stay
within the tolerance plus the half-width of its 95 % t interval, so a cell that floating-point
order moves is judged by how much it is measured to move. Where no seed is on both sides, the
means over seeds are compared by their spread. All three are `comparison.compare_samples`, the
rule the gate uses too.

Compressor cells compare their accuracy; attack cells compare every (eps, source, evaluated net)
accuracy of the transfer matrix and of the inheritance board (every copy under the original's
attack and its own) and report the largest difference. The verdict says one of: reproduced
exactly; reproduced within tolerance or floating-point noise (naming each setting that moved
beyond the tolerance on some seed, once); differs (each differing setting once, with its numbers).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from innr_bench.engine.records import (
    AttackModel,
    CompressorModel,
    Identity,
    comparable_environment,
    identity,
)
from innr_bench.engine.store import ResultStore
from innr_bench.errors import InnrBenchError
from innr_bench.reporting.comparison import MODES, Sample, Verdict, compare_samples

DEFAULT_TOLERANCE_PT = 0.5
ENVIRONMENT_FIELDS = ("innr_bench", "git_commit", "python", "platform", "device", "device_name", "cpu",
                      "torch_threads")


@dataclass(frozen=True)
class SettingResult:
    """The verdict on one setting (its seeds together): the value furthest beyond its allowance,
    and the value whose same-seed change was largest."""

    name: str  # "data / target / kind / setting"
    agrees: bool
    worst: str  # the value a verdict of "differs" rests on ("" when none was measured on both sides)
    verdict: Verdict | None  # that value's
    moved: str  # the value with the largest same-seed change
    moved_by: Verdict | None  # that value's
    tolerance_pt: float = DEFAULT_TOLERANCE_PT

    @property
    def largest_same_seed(self) -> float:
        return 0.0 if self.moved_by is None else self.moved_by.largest_same_seed

    def numbers(self) -> str:
        """What a verdict on this setting rests on, e.g. `accuracy: seeds +0.00, -1.00 pt (paired,
        allowed 0.50 each)`."""
        verdict = self.verdict if not self.agrees else self.moved_by
        name = self.worst if not self.agrees else self.moved
        if verdict is None:
            return "no value measured on both sides"
        seeds = ", ".join(f"seed {s} {c:+.2f}" for s, c in sorted(verdict.changes.items()))
        if verdict.mode == "paired":
            return f"{name}: {seeds} pt (paired, allowed {verdict.allowed:.2f} each)"
        if verdict.mode == "cross-env":
            return (f"{name}: {seeds} pt, mean {verdict.change:+.2f} (cross-env, allowed "
                    f"{verdict.allowed:.2f}: {verdict.allowed - self.tolerance_pt:.2f} measured "
                    f"noise + the tolerance)")
        return f"{name}: mean {verdict.change:+.2f} pt (spread, allowed {verdict.allowed:.2f})"


@dataclass
class Comparison:
    """The verdict on every cell, per setting, and what differs between the environments."""

    table: pd.DataFrame  # a row per setting: values, differences, mode, verdict
    cells: int = 0
    agreeing: int = 0
    settings: list[SettingResult] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # cells on one side only
    # settings whose component differs between the sides (resolved spec or version): compared anyway,
    # but a difference there may be the new definition, not the environment
    redefined: list[str] = field(default_factory=list)
    environment: pd.DataFrame = field(default_factory=pd.DataFrame)  # field, A, B where they differ
    tolerance_pt: float = DEFAULT_TOLERANCE_PT

    @property
    def differing(self) -> list[str]:
        """Each setting beyond its allowance, once: `setting: the numbers it rests on`."""
        return [f"{s.name}: {s.numbers()}" for s in self.settings if not s.agrees]

    def summary(self) -> str:
        line = (f"{self.agreeing} of {self.cells} cells within tolerance ({self.tolerance_pt:g} pt a seed "
                f"in the same environment; across environments, {self.tolerance_pt:g} pt plus the "
                f"noise the same-seed changes measure)")
        if self.differing:
            shown = "; ".join(self.differing[:5]) + ("; ..." if len(self.differing) > 5 else "")
            line += f"; {len(self.differing)} settings differ: {shown}"
        if self.missing:
            line += f"; {len(self.missing)} on one side only"
        if self.redefined:
            line += f"; {len(self.redefined)} settings defined differently: {'; '.join(self.redefined[:3])}"
        return line

    def verdict(self) -> str:
        """The verdict in words (reporting/verdict.py)."""
        from innr_bench.reporting.verdict import in_words

        return in_words(self)

    def ok(self) -> bool:
        return not self.differing


def load(results_dir: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A result set's current finished records and its manifest; a clear error if it is none."""
    store = ResultStore(results_dir).require()
    return [r for r in store.records() if r.get("status") == "ok"], store.manifest()


def values(record: dict[str, Any]) -> dict[str, float]:
    """What a cell measured, in accuracy points, by name."""
    if record["kind"] == "compressor":
        return {"accuracy": 100 * CompressorModel.model_validate(record).accuracy}
    attack = AttackModel.model_validate(record)
    found = {f"eps {row.eps:g} {row.source}->{row.evaluated}": 100 * row.accuracy for row in attack.transfer}
    for own in attack.inheritance:  # every copy: the original's attack and its own
        found[f"eps {own.eps:g} white-box {own.net}"] = 100 * own.whitebox_accuracy
        if own.accuracy is not None:
            found[f"eps {own.eps:g} original->{own.net}"] = 100 * own.accuracy
    return found


def definition(record: dict[str, Any]) -> dict[str, Any]:
    """A cell's component as computed, as dotted paths: its resolved spec (for records made
    before specs existed, the spec its stored settings resolve to) and its input limit."""
    from innr_bench.engine.migrate import stored_spec

    component = record[record["kind"]]
    try:
        spec = stored_spec(record)
    except (InnrBenchError, KeyError, ValueError, TypeError):  # settings no longer resolve
        spec = {"params": component.get("params", {}), "revision": component.get("revision")}
    return _flat(spec, "") | ({"limit": component["limit"]} if component.get("limit") is not None else {})


def _flat(value: Any, path: str) -> dict[str, Any]:
    if isinstance(value, dict):
        return {k: v for key, item in value.items()
                for k, v in _flat(item, f"{path}.{key}" if path else key).items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in _flat(item, f"{path}[{i}]").items()}
    return {path: value}


def redefinition(a: dict[str, Any], b: dict[str, Any]) -> str:
    """What differs between two definitions, e.g. `fit[1].steps 3000 -> 6000`."""
    return ", ".join(f"{k} {a.get(k)} -> {b.get(k)}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k))


def environment_of(record: dict[str, Any]) -> dict[str, Any] | None:
    """The environment two records of one seed must share to pair as the same (records.
    comparable_environment); None when the record predates recorded environments."""
    return comparable_environment(record)


def compare(a: Path, b: Path, tolerance_pt: float = DEFAULT_TOLERANCE_PT) -> Comparison:
    """Compare result set `b` against `a` (the reference)."""
    records_a, manifest_a = load(a)
    records_b, manifest_b = load(b)
    by_a = {identity(r): r for r in records_a}
    by_b = {identity(r): r for r in records_b}
    settings: dict[tuple[str, ...], list[Identity]] = defaultdict(list)
    for cell in sorted(set(by_a) | set(by_b), key=str):
        settings[cell[:4]].append(cell)
    result = Comparison(pd.DataFrame(), tolerance_pt=tolerance_pt)
    rows = []
    for key, cells in settings.items():
        pairs = [(by_a[c], by_b[c]) for c in cells if c in by_a and c in by_b]
        result.missing += [f"{'/'.join(map(str, c))} only in {'A' if c in by_a else 'B'}"
                           for c in cells if not (c in by_a and c in by_b)]
        if not pairs:
            continue
        result.cells += len(pairs)
        defined = [definition(r) for r in pairs[0]]
        if defined[0] != defined[1]:
            result.redefined.append(f"{' / '.join(key)} ({redefinition(*defined)})")
        row, verdicts, agreeing = _compare_setting(key, pairs, tolerance_pt)
        rows.append(row)
        result.agreeing += agreeing
        result.settings.append(_setting_result(" / ".join(key), verdicts, tolerance_pt))
    result.table = pd.DataFrame(rows)
    result.environment = environment_differences(manifest_a, manifest_b, records_a, records_b)
    return result


def _setting_result(name: str, verdicts: dict[str, Verdict], tolerance_pt: float) -> SettingResult:
    # the value furthest beyond its allowance, and the one whose same seed moved most
    worst = max(verdicts, key=lambda n: verdicts[n].excess, default="")
    moved = max(verdicts, key=lambda n: _finite_or_inf(verdicts[n].largest_same_seed), default="")
    return SettingResult(name, bool(verdicts) and all(v.agrees for v in verdicts.values()), worst,
                         verdicts.get(worst), moved, verdicts.get(moved), tolerance_pt)


def _finite_or_inf(value: float) -> float:
    return math.inf if math.isnan(value) else value


def _compare_setting(
    key: tuple[str, ...], pairs: list[tuple[dict[str, Any], dict[str, Any]]], tolerance_pt: float
) -> tuple[dict[str, Any], dict[str, Verdict], int]:
    """One table row for a setting, the verdict on each value it measured (`comparison.compare_samples`
    over its seeds), and how many of its cells agree."""
    same_environment = all(environment_of(ra) is not None and environment_of(ra) == environment_of(rb)
                           for ra, rb in pairs)
    measured = [(str(ra["seed"]), values(ra), values(rb)) for ra, rb in pairs]
    verdicts = {
        name: compare_samples(Sample.of({s: va[name] for s, va, _ in measured}),
                              Sample.of({s: vb[name] for s, _, vb in measured}),
                              same_environment=same_environment, tolerance_pt=tolerance_pt)
        for name in measured[0][1] if all(name in va and name in vb for _, va, vb in measured)}
    # nothing measured on both sides (e.g. other eps lists) is not agreement
    rejected = set().union(*(v.seeds_beyond() for v in verdicts.values())) if verdicts else {"*"}
    agreeing = sum(1 for seed, _, _ in measured if seed not in rejected and "*" not in rejected)
    summary = _setting_result("", verdicts, tolerance_pt)
    compressor = key[2] == "compressor"
    first_a, first_b = pairs[0]
    mean = {side: sum(m[side]["accuracy"] for m in measured) / len(measured) if compressor else None
            for side in (1, 2)}
    shown = summary.moved_by if summary.agrees else summary.verdict
    shift = (0.0 if shown is None else shown.worst_seed if shown.worst_seed is not None else shown.change)
    row = {"data": key[0], "target": key[1], "kind": key[2], "setting": key[3], "seeds": len(pairs),
           "mode": shown.mode if shown else ("paired" if same_environment else "cross-env"),
           "A %": None if mean[1] is None else round(mean[1], 2),
           "B %": None if mean[2] is None else round(mean[2], 2),
           "largest Δ pt": round(shift, 2),
           "allowed pt": round(shown.allowed, 2) if shown else round(tolerance_pt, 2),
           # whatever the mode: the largest change of one cell against the same seed
           "same-seed largest abs Δ pt": round(summary.largest_same_seed, 2),
           "A bytes": first_a.get("size_bytes") if compressor else None,
           "B bytes": first_b.get("size_bytes") if compressor else None,
           "status": "ok" if summary.agrees else "DIFFERS"}
    return row, verdicts, agreeing


def environment_differences(
    manifest_a: dict[str, Any], manifest_b: dict[str, Any],
    records_a: list[dict[str, Any]], records_b: list[dict[str, Any]],
) -> pd.DataFrame:
    """Environment fields (and package versions, and the cells' key environments) that differ."""
    env_a, env_b = manifest_a.get("environment", {}), manifest_b.get("environment", {})
    rows = [(name, _shown(env_a.get(name)), _shown(env_b.get(name))) for name in ENVIRONMENT_FIELDS
            if env_a.get(name) != env_b.get(name)]
    packages_a, packages_b = env_a.get("packages", {}), env_b.get("packages", {})
    rows += [(f"package {name}", _shown(packages_a.get(name)), _shown(packages_b.get(name)))
             for name in sorted(set(packages_a) | set(packages_b))
             if packages_a.get(name) != packages_b.get(name)]
    keys_a = {str(environment_of(r)) for r in records_a}
    keys_b = {str(environment_of(r)) for r in records_b}
    if keys_a != keys_b:
        rows.append(("cells' environment", "; ".join(sorted(keys_a)), "; ".join(sorted(keys_b))))
    return pd.DataFrame(rows, columns=["field", "A", "B"])


def _shown(value: Any) -> str:
    return "not recorded" if value is None else str(value)


def render(comparison: Comparison, a: Path, b: Path) -> str:
    """The report as markdown: summary, settings that differ (or all), environment differences."""
    from tabulate import tabulate

    lines = [f"# Reproducibility: {b} against {a}", "", "## Verdict", "", comparison.verdict(), "",
             "## Cells", "", comparison.summary(), ""]
    table = comparison.table
    if not table.empty:
        lines += ["Modes: " + "; ".join(f"**{mode}**: {meaning}" for mode, meaning in MODES.items()), ""]
        shown = table.astype(object).where(table.notna(), "")
        lines += [tabulate(shown, headers="keys", tablefmt="github", showindex=False), ""]
    if comparison.redefined:
        lines += ["Settings defined differently on the two sides (a change there may be the new "
                  "definition, not the environment): " + "; ".join(comparison.redefined), ""]
    if comparison.missing:
        lines += ["Cells on one side only: " + "; ".join(comparison.missing[:20])
                  + (" ..." if len(comparison.missing) > 20 else ""), ""]
    if comparison.environment.empty:
        lines.append("Environments: no differences recorded.")
    else:
        lines += ["Environment differences:", "",
                  tabulate(comparison.environment.astype(str), headers="keys", tablefmt="github",
                           showindex=False)]
    return "\n".join(lines) + "\n"
