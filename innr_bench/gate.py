"""Regression gate: summarize a results dir into a baseline, and check a results dir against one.

Paired where it can be: when a setting's seeds and environment (torch, device kind and name, CPU
threads, numerics: what enters the keys) match the baseline's, the same seed computes the same
target, so the setting regresses when its mean per-seed change falls below `-tolerance` points
(numerical noise is all that is left: identical environments give identical numbers). Where
the environments differ (or the baseline predates per-seed values), seed-to-seed spread is real
noise and the allowance grows by two standard errors of the difference. A setting also
regresses when its stored size grows, or when it is missing. Improvements never fail the gate.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pydantic
from pydantic import Field
from pydantic.dataclasses import dataclass

from innr_bench.errors import ConfigError
from innr_bench.params import format_validation_error
from innr_bench.report import size_frame
from innr_bench.stats import difference_standard_error
from innr_bench.store import ResultStore, atomic_write_json

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
    """Mean, std and seed count of accuracy, and the size, per (data, target, method)."""
    records = ResultStore(results_dir).require().records()
    long = size_frame(records)
    if long.empty:
        raise ConfigError(f"{results_dir}: no finished compressor cells to compare")
    # the environment that entered each cell's key, in size_frame's row order
    environments = [json.dumps(r.get("environment"), sort_keys=True) for r in records
                    if r.get("kind") == "compressor" and r.get("status") == "ok"]
    long["environment"] = environments
    grouped = long.groupby(list(KEY), sort=True)
    return pd.DataFrame({
        "accuracy_mean": grouped["accuracy"].mean(),
        "accuracy_std": grouped["accuracy"].std().fillna(0.0),
        "seeds": grouped["seed"].nunique(),
        "size_bytes": grouped["size_bytes"].max(),
        "per_seed": grouped.apply(lambda g: {str(k): float(v) for k, v in zip(g["seed"], g["accuracy"])},
                                  include_groups=False),
        "environment": grouped["environment"].agg(
            lambda e: json.loads(e.iloc[0]) if e.nunique() == 1 else None),
    }).reset_index()


def write_baseline(results_dir: Path, path: Path) -> Baseline:
    """Record `results_dir`'s summary, with where it came from, as a baseline file."""
    manifest = ResultStore(results_dir).manifest()
    summary = summarize(results_dir)
    runs = manifest.get("runs", [{}])
    provenance = {
        "results_dir": str(results_dir), "recorded": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "git_commit": runs[-1].get("git_commit"), "device": runs[-1].get("device"),
        "datasets": {k: {f: v.get(f) for f in ("source", "sha256", "n_train", "n_test")}
                     for k, v in manifest.get("datasets", {}).items()},
        "packages": manifest.get("environment", {}).get("packages"),
    }
    baseline = Baseline(manifest.get("suite", {}).get("name", results_dir.name), provenance,
                        [BaselineEntry(**row) for row in summary.to_dict("records")])
    atomic_write_json(path, json.loads(json.dumps(pydantic.TypeAdapter(Baseline).dump_python(baseline))))
    return baseline


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
        paired = (entry.environment is not None and entry.environment == now["environment"]
                  and set(entry.per_seed) == set(now["per_seed"]))
        if paired:  # the same seed computes the same thing: only numerical noise remains
            changes = [now["per_seed"][seed] - entry.per_seed[seed] for seed in entry.per_seed]
            delta = 100 * sum(changes) / len(changes)
            allowed = tolerance_pt
        else:
            error = difference_standard_error(entry.accuracy_std, entry.seeds, now["accuracy_std"],
                                              now["seeds"])
            delta = 100 * (now["accuracy_mean"] - entry.accuracy_mean)
            allowed = tolerance_pt + 2 * 100 * error
        grew = int(now["size_bytes"]) > entry.size_bytes
        regressed = delta < -allowed - 1e-9 or grew
        status = "REGRESSION" if regressed else "improved" if delta > allowed else "ok"
        rows.append(row | {"current %": round(100 * now["accuracy_mean"], 2), "Δ pt": round(delta, 2),
                           "allowed pt": round(allowed, 2), "mode": "paired" if paired else "spread",
                           "bytes": int(now["size_bytes"]), "baseline bytes": entry.size_bytes,
                           "status": status})
    for key in current.index:
        if key not in seen:
            rows.append(dict(zip(KEY, key)) | {"current %": round(100 * current.loc[key]["accuracy_mean"], 2),
                                               "status": "new"})
    return pd.DataFrame(rows)
