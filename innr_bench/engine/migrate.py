"""One migration of stored result sets: cell keys from what ran (a component's resolved spec and
version) instead of what the suite said (its params and a hand-bumped recipe revision).

A record is re-keyed when what it stored it ran equals what the same setting resolves to now:
an INNR's stored settings (`info.settings`, the flat form innr-siren has always recorded, with
the options later added filled in as they ran before they existed) against its new resolved
spec; any other component's params against its spec. An attack cell is re-keyed when its own
spec is unchanged and so is every copy it attacked. Everything else keeps its old key and is
listed as stale: reports still show it, and a rerun recomputes it. The migration is recorded in
the manifest and runs once per result set.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from innr_bench.compress.innr import flat
from innr_bench.compress.innr.spec import resolve
from innr_bench.config import Component, EvalConfig, resolved_spec
from innr_bench.engine.env import git_commit
from innr_bench.engine.keys import content_key
from innr_bench.engine.plan import attack_inputs, hash_cell, hash_copy
from innr_bench.engine.results import now
from innr_bench.engine.store import ResultStore
from innr_bench.errors import InnrBenchError
from innr_bench.params import validate_params
from innr_bench.registry import ATTACKS, COMPRESSORS

NAME = "resolved-spec-keys"
FLAGS = ("transfer", "limit", "targets", "whitebox_only")
# Params as written before their meaning moved to another value, per component: until 3ba71dd
# quantize's and kmeans' `finetune_epochs` defaulted to 0 (no fine-tuning), which is None now.
LEGACY_PARAMS = {("quantize", "finetune_epochs"): (0, None), ("kmeans", "finetune_epochs"): (0, None)}


def _current_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """`params` with values written in an older meaning put in the current one."""
    def now_value(key: str, value: Any) -> Any:
        old, new = LEGACY_PARAMS.get((name, key), (object(), None))
        return new if value == old else value

    return {k: now_value(k, v) for k, v in params.items()}


@dataclass
class Migration:
    """What one result set's migration did: old key -> new key, and what stayed, and why."""

    root: Path
    rekeyed: dict[str, str] = field(default_factory=dict)
    stale: dict[str, str] = field(default_factory=dict)  # old key -> reason
    already: bool = False

    def summary(self) -> str:
        if self.already:
            return f"{self.root}: already migrated ({NAME})"
        return (f"{self.root}: {len(self.rekeyed)} records re-keyed, {len(self.stale)} kept under their "
                "old keys (recomputed on a rerun)")


def upgraded(kind: str, entry: dict[str, Any]) -> Component:
    """A component as the current code resolves it, from a stored component dict."""
    registry = COMPRESSORS if kind == "compressor" else ATTACKS
    factory = registry.entry(entry["name"])
    given = _current_params(factory.name, entry.get("params", {}))
    params = validate_params(factory.factory, given, where=entry.get("label", kind))
    flags = {k: entry[k] for k in FLAGS if k in entry}
    if "targets" in flags:
        flags["targets"] = tuple(flags["targets"])
    instance = factory.factory(**params)
    return Component(kind, factory.name, params, entry["label"], **flags,
                     spec=resolved_spec(instance, params), version=factory.version,
                     data_free=bool(getattr(instance, "data_free", True)))


def stored_spec(record: dict[str, Any]) -> dict[str, Any]:
    """What a record says it ran, as a resolved spec."""
    entry = record[record["kind"]]
    if "spec" in entry:
        return entry["spec"]
    params = {k: v for k, v in _current_params(entry["name"], entry.get("params", {})).items()
              if v is not None}
    if entry["name"] != "innr-siren":
        return json.loads(json.dumps(params, default=str))
    settings = {**flat.PLAIN, **record["info"]["settings"]}
    parts = flat.nest(settings, params.get("recipe", "fast"))
    budget = {k: params[k] for k in ("ratio", "bytes") if k in params}
    if budget:
        del parts["field"]["width"]
    stages = [s["name"] for s in parts["fit"]]
    spec = resolve(preset_name=params.get("recipe", "fast"), **parts, **budget, name=flat.namer(stages))
    return spec.to_dict()


def migrate(root: Path) -> Migration:
    """Re-key the records of result set `root` in place (atomically, record by record)."""
    store = ResultStore(root).require()
    manifest = store.manifest()
    result = Migration(Path(root))
    if any(m.get("name") == NAME for m in manifest.get("migrations", [])):
        result.already = True
        return result
    suite = manifest.get("suite", {})
    records = [r for r in store.records(current_only=False) if "key" in r]
    current = set(manifest.get("cells", []))
    new_of: dict[str, Component] = {}  # old key -> upgraded component of a re-keyed record
    copies: dict[tuple[str, str], Component] = {}  # (target key, label) -> re-keyed copy's component
    for record in (r for r in records if r["kind"] == "compressor"):
        component, reason = _check(record)
        if component is not None and (record.get("info") or {}).get("fit_group", {}).get("members", 1) > 1:
            component, reason = None, "fit together with other seeds' copies (eval.stack_fits): recompute it"
        if component is None:
            result.stale[record["key"]] = reason
            continue
        new_of[record["key"]] = component
        copies[(record["target"]["key"], component.label)] = component
        result.rekeyed[record["key"]] = hash_cell(record["target"]["key"], component)
    suite_compressors = _suite_components(suite.get("compressors", []), "compressor")
    evaluation = EvalConfig(**suite["eval"]) if "eval" in suite else None
    for record in (r for r in records if r["kind"] == "attack"):
        component, reason = _check(record)
        if component is not None and (record["key"] not in current or evaluation is None
                                      or suite_compressors is None):
            component, reason = None, "not a cell of the manifest's suite: what it attacked is unknown"
        if component is not None and evaluation is not None and evaluation.stack_fits > 1:
            component, reason = None, "its copies were fit together (eval.stack_fits): recompute it"
        if component is None:
            result.stale[record["key"]] = reason
            continue
        key, reason = _attack_key(record, component, suite_compressors, copies, evaluation, suite)
        if key is None:
            result.stale[record["key"]] = reason
            continue
        new_of[record["key"]] = component
        result.rekeyed[record["key"]] = key
    for record in records:
        if record["key"] in result.rekeyed:
            old = record["key"]
            record |= {"key": result.rekeyed[old], record["kind"]: new_of[old].to_dict()}
            store.put(record)
            if result.rekeyed[old] != old:
                store.record_path(old).unlink()
    _write_manifest(store, manifest, result, suite)
    return result


def _check(record: dict[str, Any]) -> tuple[Component | None, str]:
    """The record's upgraded component when what it ran is what it resolves to now."""
    if record.get("status") != "ok":
        return None, "a failed cell"
    try:
        component = upgraded(record["kind"], record[record["kind"]])
        before = stored_spec(record)
    except (InnrBenchError, KeyError, ValueError, TypeError) as error:
        return None, f"its settings no longer resolve ({type(error).__name__}: {error})"
    if before != component.spec:
        after = component.spec
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        return None, f"what it ran differs from what the setting resolves to now ({', '.join(changed)})"
    return component, ""


def _suite_components(entries: Iterable[dict[str, Any]], kind: str) -> list[Component] | None:
    try:
        return [upgraded(kind, entry) for entry in entries]
    except (InnrBenchError, KeyError, ValueError, TypeError):
        return None


class _Suite:
    """The parts of a suite `plan.inherited` reads."""

    def __init__(self, compressors: list[Component], evaluation: EvalConfig) -> None:
        self.compressors, self.eval = compressors, evaluation


def _attack_key(record: dict[str, Any], attack: Component, compressors: list[Component],
                copies: dict[tuple[str, str], Component], evaluation: EvalConfig,
                suite: dict[str, Any]) -> tuple[str | None, str]:
    """The attack cell's new key, or why it cannot have one (a copy it attacked changed)."""
    from innr_bench.engine.plan import attacked, inherited, stale_labels

    target_key, label = record["target"]["key"], record["target"]["label"]
    matrix = attacked(compressors, label)
    board = inherited(_Suite(compressors, evaluation), attack, label)  # type: ignore[arg-type]
    stale_names = stale_labels(record, attack, matrix, board, control=bool(record.get("control")),
                               whose="the manifest suite's")
    if stale_names:
        return None, stale_names
    stale = [c.label for c in matrix + board if (target_key, c.label) not in copies
             or copies[(target_key, c.label)].spec != c.spec]
    if stale:
        return None, f"copies it attacked were not re-keyed: {', '.join(sorted(set(stale)))}"
    control = record["control"]["key"] if record.get("control") else None
    nets = [hash_copy(target_key, c) for c in matrix]
    on_board = [hash_copy(target_key, c) for c in board]
    return hash_cell(target_key, attack, attack_inputs(evaluation, attack, nets, on_board, control)), ""


def _write_manifest(store: ResultStore, manifest: dict[str, Any], result: Migration,
                    suite: dict[str, Any]) -> None:
    """Cells under their new keys, the suite's components in their new form, the migration noted."""
    manifest = dict(manifest)
    manifest["cells"] = [result.rekeyed.get(key, key) for key in manifest.get("cells", [])]
    for kind, key in (("compressor", "compressors"), ("attack", "attacks")):
        upgraded_all = _suite_components(suite.get(key, []), kind)
        if upgraded_all is not None:
            suite[key] = [c.to_dict() for c in upgraded_all]
    manifest["suite"] = suite
    stale = sorted(set(result.stale) & set(manifest["cells"]))
    manifest["migrations"] = [*manifest.get("migrations", []), {
        "name": NAME, "date": now(), "git_commit": git_commit(Path(__file__).resolve().parent),
        "rekeyed": len(result.rekeyed), "kept": len(result.stale),
        # the suite's current cells that keep their old keys, and why
        "stale_cells": {key: result.stale[key] for key in stale},
        "digest": content_key(sorted(result.rekeyed.items()))}]
    store.write_manifest(manifest)
