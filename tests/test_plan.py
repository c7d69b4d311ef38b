"""The plan's keys: what a rerun computes is found in the published result sets."""

from __future__ import annotations

import dataclasses
import types
from pathlib import Path

import pytest

from innr_bench.config import load_suite
from innr_bench.engine.plan import Plan
from innr_bench.engine.store import ResultStore


# innr-fields and innr-fields-tuning hold every published `innr` cell: their keys must not move
# when the INNR's parts do (a partition, a new preset, the default that follows the target)
@pytest.mark.parametrize("name", ["mnist", "fashion-mnist", "mnist-datafree", "fashion-distill",
                                  "innr-fields", "innr-fields-tuning"])
def test_a_rerun_in_the_published_environment_finds_every_published_cell(repo_root: Path, name: str) -> None:
    """Keys are stable: planning the committed suite in the environment its published cells were
    computed in gives exactly their keys, so a rerun there recomputes nothing. A set computed in
    parts on several machines (innr-fields) holds each cell once, from one of them."""
    manifest = ResultStore(repo_root / "results" / name).manifest()
    datasets = {label: types.SimpleNamespace(sha256=info["sha256"])
                for label, info in manifest["datasets"].items()}
    environments = {str(run["environment"]): run["environment"]
                    for run in manifest["runs"] if run.get("environment")}
    planned: set[str] = set()
    cells = 0
    for environment in environments.values():
        plan = Plan(load_suite(repo_root / "suites" / f"{name}.yaml"), datasets, environment)  # type: ignore[arg-type]
        keys = {task.key for task in plan.cells()}
        planned |= keys
        cells = len(keys)
    assert set(manifest["cells"]) <= planned
    assert len(manifest["cells"]) == cells  # every planned cell, each from one environment


def test_stacking_copies_keys_the_attack_cells_only(repo_root: Path) -> None:
    """`eval.stack_copies` changes what an attack computes (summation order), so it enters the
    attack cells' keys; at its default 1 the keys are those of suites written before it existed."""
    environment = {"torch": "x", "device": "cpu"}
    datasets = {"synthetic": types.SimpleNamespace(sha256="0" * 64)}
    keys = {}
    for stack in (None, 1, 4):
        suite = load_suite(repo_root / "suites" / "smoke.yaml")
        if stack is not None:
            suite = dataclasses.replace(suite, eval=dataclasses.replace(suite.eval, stack_copies=stack))
        plan = Plan(suite, {d.label: datasets["synthetic"] for d in suite.datasets}, environment)  # type: ignore[arg-type]
        keys[stack] = {(t.kind, t.key) for t in plan.cells()}
    assert keys[None] == keys[1]
    changed = keys[4] - keys[1]
    assert changed and {kind for kind, _ in changed} == {"attack"}
