"""Regression gate: summarize a results dir into a baseline, and check a results dir against one.

The verdict on each setting is `comparison.compare_samples`, the rule `compare` and the run's
reproducibility report use too: per seed wherever the baseline's seeds pair with the results'
(in the same environment a seed that drops by more than the tolerance regresses, and an
unchanged rerun changes by 0.00; across environments the mean same-seed change is judged against
the tolerance plus its 95 % t interval), by seed spread where no seed pairs or the baseline
predates per-seed values. A setting also regresses when its stored size grows, or when it is
missing. Improvements never fail the gate.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pydantic
from pydantic import Field
from pydantic.dataclasses import dataclass

from innr_bench.engine.records import CompressorModel, comparable_environment, finished
from innr_bench.engine.store import ResultStore, atomic_write_json
from innr_bench.errors import ConfigError
from innr_bench.params import format_validation_error
from innr_bench.reporting.comparison import Sample, compare_samples
from innr_bench.reporting.stats import sample_std

STRICT = pydantic.ConfigDict(extra="forbid")
KEY = ("data", "target", "method")


@dataclass(frozen=True, config=STRICT)
class BaselineEntry:
    data: str
    target: str
    method: str
    accuracy_mean: float
    accuracy_std: float = Field(ge=0)
    seeds: int = Field(gt=0)
    size_bytes: int = Field(ge=0)
    per_seed: dict[str, float] = Field(default_factory=dict)  # seed -> accuracy, for paired checks
    environment: dict[str, Any] | None = None  # what entered the keys; None: unknown or mixed


@dataclass(frozen=True, config=STRICT)
class Baseline:
    suite: str
    provenance: dict[str, Any]
    entries: list[BaselineEntry]


def summarize(results_dir: Path) -> pd.DataFrame:
    """Mean, std and seed count of accuracy, the size, the per-seed values and the environment
    that entered the keys, per (data, target, method), from the finished compressor records."""
    records: list[CompressorModel] = finished(ResultStore(results_dir).require().records(), "compressor")
    if not records:
        raise ConfigError(f"{results_dir}: no finished compressor cells to compare")
    groups: dict[tuple[str, str, str], list[CompressorModel]] = defaultdict(list)
    for record in records:
        groups[(record.dataset.label, record.target.label, record.component.label)].append(record)
    rows = []
    for (data, target, method), cells in sorted(groups.items()):
        accuracies = [c.accuracy for c in cells]
        environments = {json.dumps(comparable_environment(c), sort_keys=True) for c in cells}
        rows.append({"data": data, "target": target, "method": method,
                     "accuracy_mean": sum(accuracies) / len(accuracies),
                     "accuracy_std": sample_std(accuracies), "seeds": len({c.seed for c in cells}),
                     "size_bytes": max(c.size_bytes for c in cells),
                     "per_seed": {str(c.seed): float(c.accuracy) for c in cells},
                     "environment": json.loads(environments.pop()) if len(environments) == 1 else None})
    return pd.DataFrame(rows)


def environments(results_dir: Path) -> dict[tuple[str, str, str], Any]:
    """Each setting's environment in a results dir (None where its cells were made in several)."""
    return {(row["data"], row["target"], row["method"]): row["environment"]
            for row in summarize(results_dir).to_dict("records")}


def write_baseline(results_dir: Path, path: Path) -> Baseline:
    """Record `results_dir`'s summary, with where it came from, as a baseline file."""
    manifest = ResultStore(results_dir).manifest()
    summary = summarize(results_dir)
    runs = manifest.get("runs", [{}])
    provenance = {
        "results_dir": str(results_dir), "recorded": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        # what `check --rerun-baseline` runs at git_commit
        "suite_file": manifest.get("suite", {}).get("path"),
        # the code that computed the cells (a rerun may have reused cells an earlier commit made)
        "git_commit": _computing_commit(results_dir) or runs[-1].get("git_commit"),
        "device": runs[-1].get("device"),
        "datasets": {k: {f: v.get(f) for f in ("source", "sha256", "n_train", "n_test")}
                     for k, v in manifest.get("datasets", {}).items()},
        "packages": manifest.get("environment", {}).get("packages"),
    }
    baseline = Baseline(manifest.get("suite", {}).get("name", results_dir.name), provenance,
                        [BaselineEntry(**row) for row in summary.to_dict("records")])
    atomic_write_json(path, json.loads(json.dumps(pydantic.TypeAdapter(Baseline).dump_python(baseline))))
    return baseline


def _computing_commit(results_dir: Path) -> str | None:
    """The git commit that computed the newest finished compressor cell (what a rerun of the
    baseline checks out)."""
    records = finished(ResultStore(results_dir).records(), "compressor")
    newest = max(records, key=lambda r: str(getattr(r, "created", "")), default=None)
    return None if newest is None else newest.git_commit


def load_baseline(path: Path) -> Baseline:
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: baseline file not found; record one with "
                          "`innr-bench baseline RESULTS_DIR -o FILE`") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"{path}: not a readable JSON baseline ({error})") from None
    try:
        return pydantic.TypeAdapter(Baseline).validate_python(raw)
    except pydantic.ValidationError as error:
        raise ConfigError("\n".join(f"{path}: {line}" for line in
                                    format_validation_error(error, where="").splitlines())) from None


def check(results_dir: Path, baseline: Baseline, tolerance_pt: float) -> pd.DataFrame:
    """One row per baseline or current setting with its verdict: ok, improved, REGRESSION,
    MISSING (in the baseline, not in the results) or new (not gated)."""
    current = summarize(results_dir).set_index(list(KEY))
    rows = []
    seen = set()
    for entry in baseline.entries:
        key = (entry.data, entry.target, entry.method)
        seen.add(key)
        row: dict[str, Any] = {"data": entry.data, "target": entry.target, "method": entry.method,
                               "baseline %": round(100 * entry.accuracy_mean, 2)}
        if key not in current.index:
            rows.append(row | {"status": "MISSING"})
            continue
        now = current.loc[key]
        verdict = compare_samples(
            _sample(entry.per_seed, entry.accuracy_mean, entry.accuracy_std, entry.seeds),
            _sample(now["per_seed"], now["accuracy_mean"], now["accuracy_std"], now["seeds"]),
            same_environment=entry.environment is not None and entry.environment == now["environment"],
            tolerance_pt=tolerance_pt)
        grew = int(now["size_bytes"]) > entry.size_bytes
        # a value that is not a number (a diverged fit) never passes
        status = ("REGRESSION" if verdict.worse or grew or not math.isfinite(verdict.change)
                  else "improved" if verdict.better else "ok")
        rows.append(row | {"current %": round(100 * now["accuracy_mean"], 2),
                           "Δ pt": round(verdict.change, 2),
                           # paired, the verdict is each seed's: the seed that moved most
                           "worst seed Δ pt": (None if verdict.worst_seed is None
                                               else round(verdict.worst_seed, 2)),
                           "allowed pt": round(verdict.allowed, 2),
                           "mode": verdict.mode,
                           "bytes": int(now["size_bytes"]), "baseline bytes": entry.size_bytes,
                           "status": status})
    for key in current.index:
        if key not in seen:
            rows.append(dict(zip(KEY, key)) | {"current %": round(100 * current.loc[key]["accuracy_mean"], 2),
                                               "status": "new"})
    return pd.DataFrame(rows)


def _sample(per_seed: dict[str, float], mean: float, std: float, seeds: int) -> Sample:
    """A side of the comparison in points: by seed where recorded, else its summary."""
    if per_seed:
        return Sample.of({seed: 100 * value for seed, value in per_seed.items()})
    return Sample({}, 100 * mean, 100 * std, seeds)
