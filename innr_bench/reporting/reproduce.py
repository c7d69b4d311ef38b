"""Do two result sets agree? Cell by cell where that is meaningful, setting by setting where not.

A cell is one (data, target, kind, component, seed). Two records of the same cell made in the
same environment (torch, device kind and name, CPU threads, numerics) from the same seed compute
the same thing, so they are compared **paired**: the cell agrees when its accuracy differs by at
most the tolerance (0.5 point by default; numerically identical runs differ by 0). When the
environments differ (or one side does not record its environment, as records written before
innr-bench recorded it), the same seed no longer gives the same target, and a setting is
compared by its **spread**: the means over seeds agree when they differ by at most the tolerance
plus two standard errors of the difference; each of its cells takes that verdict. Both are
`comparison.compare_samples`, the rule the gate uses too.

Compressor cells compare their accuracy; attack cells compare every (eps, source, evaluated net)
accuracy of the transfer matrix and of the inheritance board (every copy under the original's
attack and its own) and report the largest difference."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from innr_bench.engine.records import AttackModel, CompressorModel, Identity, identity, setting
from innr_bench.engine.store import ResultStore
from innr_bench.errors import InnrBenchError
from innr_bench.reporting.comparison import Sample, compare_samples

DEFAULT_TOLERANCE_PT = 0.5
ENVIRONMENT_FIELDS = ("innr_bench", "git_commit", "python", "platform", "device", "device_name",
                      "torch_threads")


@dataclass
class Comparison:
    """The verdict on every cell, per setting, and what differs between the environments."""

    table: pd.DataFrame  # a row per setting: values, differences, mode, verdict
    cells: int = 0
    agreeing: int = 0
    differing: list[str] = field(default_factory=list)  # "setting seed s: a -> b"
    missing: list[str] = field(default_factory=list)  # cells on one side only
    # settings whose component differs between the sides (resolved spec or version): compared anyway,
    # but a difference there may be the new definition, not the environment
    redefined: list[str] = field(default_factory=list)
    environment: pd.DataFrame = field(default_factory=pd.DataFrame)  # field, A, B where they differ
    tolerance_pt: float = DEFAULT_TOLERANCE_PT

    def summary(self) -> str:
        line = (f"{self.agreeing} of {self.cells} cells within tolerance ({self.tolerance_pt:g} pt paired "
                f"per seed in the same environment; else per setting, {self.tolerance_pt:g} pt plus 2 "
                f"standard errors)")
        if self.differing:
            shown = "; ".join(self.differing[:5]) + ("; ..." if len(self.differing) > 5 else "")
            line += f"; {len(self.differing)} differ: {shown}"
        if self.missing:
            line += f"; {len(self.missing)} on one side only"
        if self.redefined:
            line += f"; {len(self.redefined)} settings defined differently: {'; '.join(self.redefined[:3])}"
        return line

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
    """The environment that entered the record's key; None when the record predates it."""
    return record.get("environment")


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
        row, verdicts = _compare_setting(key, pairs, tolerance_pt)
        rows.append(row)
        for (ra, _), fine, worst in verdicts:
            if fine:
                result.agreeing += 1
            else:
                result.differing.append(f"{' / '.join(setting(ra))} seed {ra['seed']}: {worst}")
    result.table = pd.DataFrame(rows)
    result.environment = environment_differences(manifest_a, manifest_b, records_a, records_b)
    return result


def _compare_setting(
    key: tuple[str, ...], pairs: list[tuple[dict[str, Any], dict[str, Any]]], tolerance_pt: float
) -> tuple[dict[str, Any], list[tuple[tuple[dict[str, Any], dict[str, Any]], bool, str]]]:
    """One table row for a setting and each pair's (records, agrees, largest change): every value
    the setting measured is judged by `comparison.compare_samples` over its seeds."""
    same_environment = all(environment_of(ra) is not None and environment_of(ra) == environment_of(rb)
                           for ra, rb in pairs)
    measured = [(str(ra["seed"]), values(ra), values(rb)) for ra, rb in pairs]
    verdicts = {
        name: compare_samples(Sample.of({s: va[name] for s, va, _ in measured}),
                              Sample.of({s: vb[name] for s, _, vb in measured}),
                              same_environment=same_environment, tolerance_pt=tolerance_pt)
        for name in measured[0][1] if all(name in va and name in vb for _, va, vb in measured)}
    # the value furthest beyond its allowance (the one a verdict of "differs" rests on)
    worst = max(verdicts, key=lambda n: verdicts[n].excess, default="")
    judged = []
    for (ra, rb), (seed, va, vb) in zip(pairs, measured):
        # nothing measured on both sides (e.g. other eps lists) is not agreement
        agrees = bool(verdicts) and not any(seed in v.seeds_beyond() for v in verdicts.values())
        if verdicts and verdicts[worst].mode == "paired":  # this seed's own largest change
            name = max(verdicts, key=lambda n: abs(verdicts[n].changes[seed]))
            text = f"{name} {va[name]:.2f} -> {vb[name]:.2f}"
        else:
            text = (f"mean {worst} {verdicts[worst].change:+.2f} pt (allowed {verdicts[worst].allowed:.2f})"
                    if worst else "no value measured on both sides")
        judged.append(((ra, rb), agrees, text))
    if verdicts and verdicts[worst].mode == "paired":  # the largest change of one seed
        shift_name = max(verdicts, key=lambda n: verdicts[n].largest_same_seed)
        shift = max(verdicts[shift_name].changes.values(), key=abs)
    else:
        shift_name, shift = worst, verdicts[worst].change if worst else 0.0
    compressor = key[2] == "compressor"
    first_a, first_b = pairs[0]
    mean = {side: sum(m[side]["accuracy"] for m in measured) / len(measured) if compressor else None
            for side in (1, 2)}
    row = {"data": key[0], "target": key[1], "kind": key[2], "setting": key[3], "seeds": len(pairs),
           "mode": verdicts[worst].mode if worst else ("paired" if same_environment else "spread"),
           "A %": None if mean[1] is None else round(mean[1], 2),
           "B %": None if mean[2] is None else round(mean[2], 2),
           "largest Δ pt": round(shift, 2),
           "allowed pt": round(verdicts[shift_name].allowed, 2) if shift_name else round(tolerance_pt, 2),
           # whatever the mode: the largest change of one cell against the same seed
           "same-seed largest abs Δ pt": round(max((v.largest_same_seed for v in verdicts.values()),
                                                    default=0.0), 2),
           "A bytes": first_a.get("size_bytes") if compressor else None,
           "B bytes": first_b.get("size_bytes") if compressor else None,
           "status": "ok" if all(agrees for _, agrees, _ in judged) else "DIFFERS"}
    return row, judged


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

    lines = [f"# Reproducibility: {b} against {a}", "", comparison.summary(), ""]
    table = comparison.table
    if not table.empty:
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
