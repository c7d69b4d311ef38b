"""Runs measure in their own environment, and say whether they reproduce another result set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from innr_bench.cli import main
from innr_bench.config import Suite, parse_suite
from innr_bench.engine.cache import TensorCache
from innr_bench.engine.executors import LocalExecutor
from innr_bench.engine.runner import Runner
from innr_bench.engine.store import ResultStore
from innr_bench.reporting.reproduce import compare


@pytest.fixture(scope="module")
def small(repo_root: Path) -> Suite:
    doc = yaml.safe_load((repo_root / "suites" / "smoke.yaml").read_text())
    doc["compressors"] = doc["compressors"][:3]
    return parse_suite(doc)


@pytest.fixture(scope="module")
def two_runs(small: Suite, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same suite twice from scratch (separate caches): same environment, same seeds."""
    root = tmp_path_factory.mktemp("reproduce")
    for name in ("a", "b"):
        Runner(small, out_dir=root / name, device="cpu", cache=TensorCache(root / f"cache-{name}")).run()
    return root / "a" / "smoke", root / "b" / "smoke"


def _rewrite(results: Path, change: Any) -> None:
    """Apply `change` to every record of a result set (re-sealed, as if computed so)."""
    store = ResultStore(results)
    for record in store.records():
        change(record)
        store.put(record)


def test_a_rerun_from_scratch_reproduces_every_cell_paired(two_runs: tuple[Path, Path]) -> None:
    result = compare(*two_runs)
    assert result.cells == 8 and result.agreeing == 8 and result.ok()
    assert set(result.table["mode"]) == {"paired"} and set(result.table["largest Δ pt"]) == {0.0}
    assert result.summary().startswith("8 of 8 cells within tolerance")
    assert result.environment.empty
    assert result.verdict().startswith("REPRODUCED EXACTLY: every value of the 8 cells")


def test_a_changed_cell_is_named_and_the_cli_exits_1(
    two_runs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    changed = tmp_path / "smoke"
    shutil.copytree(two_runs[1], changed)

    def one_point_worse(record: dict[str, Any]) -> None:
        if record.get("compressor", {}).get("label") == "ptq-int4" and record["seed"] == 1:
            record["accuracy"] -= 0.01

    _rewrite(changed, one_point_worse)
    result = compare(two_runs[0], changed)
    assert (result.cells, result.agreeing) == (8, 7)
    assert "ptq-int4: accuracy: seed 0 +0.00, seed 1 -1.00 pt (paired" in result.summary()
    assert result.verdict().startswith("DIFFERS: 1 of 4 settings moved beyond what the tolerance allows")
    assert main(["compare", str(two_runs[0]), str(changed)]) == 1
    out = capsys.readouterr().out
    assert "7 of 8 cells within tolerance" in out and "; 1 settings differ: " in out and "DIFFERS" in out


def test_unknown_or_different_environments_pair_seeds_across_environments(
    two_runs: tuple[Path, Path], tmp_path: Path
) -> None:
    import shutil

    old = tmp_path / "smoke"
    shutil.copytree(two_runs[0], old)
    _rewrite(old, lambda record: record.pop("environment"))  # as records written before it
    result = compare(old, two_runs[1])
    assert set(result.table["mode"]) == {"cross-env"} and result.ok()
    assert "cells' environment" in set(result.environment["field"])


def test_cells_made_in_another_environment_are_recomputed_unless_asked(
    small: Suite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = Runner(small, out_dir=tmp_path, device="cpu", cache=TensorCache(tmp_path / "cache")).run()
    assert first.computed == 8
    again = Runner(small, out_dir=tmp_path, device="cpu", cache=TensorCache(tmp_path / "cache")).run()
    assert (again.computed, again.skipped) == (0, 8)

    here = LocalExecutor().environment
    monkeypatch.setattr(LocalExecutor, "environment",
                        lambda self, device: {**here(device), "device_name": "another machine"})
    elsewhere = Runner(small, out_dir=tmp_path, device="cpu", cache=TensorCache(tmp_path / "cache")).run()
    assert (elsewhere.computed, elsewhere.skipped) == (8, 0)
    assert "train" in elsewhere.stage_seconds  # not even the trained targets were taken
    records = ResultStore(tmp_path / "smoke").records(current_only=False)
    assert len(records) == 16  # nothing computed is lost: both environments' records are kept
    monkeypatch.setattr(LocalExecutor, "environment",
                        lambda self, device: {**here(device), "device_name": "a third machine"})
    asked = Runner(small, out_dir=tmp_path, device="cpu", reuse="any",
                   cache=TensorCache(tmp_path / "cache")).run()
    assert (asked.computed, asked.skipped) == (0, 8)


def test_run_ends_with_the_reproducibility_summary_against_the_published_set(
    small: Suite, repo_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = repo_root / "suites" / "smoke.yaml"
    args = ["run", str(suite), "--no-progress", "--device", "cpu"]
    assert main([*args, "--out", str(tmp_path / "published"), "--reference", "none"]) == 0
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "mine"), "--reference", str(tmp_path / "published")]) == 0
    out = capsys.readouterr().out
    assert "reproducibility against" in out and "14 of 14 cells within tolerance" in out
    report = (tmp_path / "mine" / "smoke" / "reproducibility.md").read_text()
    assert "| paired |" in report
    manifest = json.loads((tmp_path / "mine" / "smoke" / "manifest.json").read_text())
    assert manifest["runs"][-1]["environment"]["device"] == "cpu"


def test_no_key_is_shared_between_a_cpu_and_a_cuda_environment(small: Suite) -> None:
    """What makes `--device cuda` compute its own cells: the device enters every key."""
    import torch

    from innr_bench.engine.env import fingerprint
    from innr_bench.engine.plan import Plan
    from innr_bench.registry import DATASETS

    data = {d.label: DATASETS.get(d.name)(**d.params) for d in small.datasets}
    cpu = fingerprint(torch.device("cpu"))
    cuda = {"torch": cpu["torch"], "device": "cuda", "device_name": "NVIDIA H100 80GB HBM3"}
    plans = [Plan(small, data, env) for env in (cpu, cuda)]
    keys = [{t.key for t in plan.cells()} | {g.key for g in plan.groups.values()}
            | {plan.copy_key(g, c) for g in plan.groups.values() for c in small.compressors}
            for plan in plans]
    assert keys[0] and not keys[0] & keys[1]
    # the same cells, though: what compare and --reuse any match on
    signatures = [[plan.signature(t) for t in plan.cells()] for plan in plans]
    assert signatures[0] == signatures[1]


def test_a_changed_inheritance_row_is_a_differing_cell(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    """The board (copies outside the transfer matrix too) is compared, not only the matrix."""
    import shutil

    changed = tmp_path / "smoke"
    shutil.copytree(two_runs[1], changed)

    def weaker_innr_copy(record: dict[str, Any]) -> None:
        for row in record.get("inheritance", []):
            if row["net"] == "innr-siren-small" and row["eps"] > 0 and record["seed"] == 0:
                row["whitebox_accuracy"] -= 0.02

    _rewrite(changed, weaker_innr_copy)
    result = compare(two_runs[0], changed)
    assert result.agreeing == result.cells - 1
    assert "white-box innr-siren-small" in result.summary()  # the matrix rows are unchanged


def test_a_setting_defined_differently_is_named(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    """A changed definition (its resolved spec) is compared anyway, but said: a difference may be it."""
    import shutil

    changed = tmp_path / "smoke"
    shutil.copytree(two_runs[1], changed)

    def three_bits(record: dict[str, Any]) -> None:
        if record.get("compressor", {}).get("label") == "ptq-int4":
            record["compressor"]["spec"]["bits"] = 3

    _rewrite(changed, three_bits)
    result = compare(two_runs[0], changed)
    assert result.ok() and len(result.redefined) == 1
    assert "ptq-int4" in result.redefined[0] and "bits 4 -> 3" in result.redefined[0]
    assert "1 settings defined differently" in result.summary()


def test_moves_by_floating_point_order_on_another_machine_read_as_reproduced_each_setting_once(
    two_runs: tuple[Path, Path], tmp_path: Path
) -> None:
    """Another machine: every cell's environment differs, and one attack value moved by floating-
    point order, differently for each seed (+2 and -3 points). The verdict names that setting
    once, as moved within its measured noise; a 1-point shift of every seed is a difference."""
    import shutil

    elsewhere = tmp_path / "elsewhere" / "smoke"
    shutil.copytree(two_runs[1], elsewhere)
    moves = {0: 0.02, 1: -0.03}

    def another_machine(record: dict[str, Any]) -> None:
        record["environment"] = {**record["environment"], "device_name": "another CPU"}
        for row in record.get("inheritance", []):
            if row["net"] == "innr-siren-small" and row["eps"] > 0:
                row["whitebox_accuracy"] += moves[record["seed"]]

    _rewrite(elsewhere, another_machine)
    result = compare(two_runs[0], elsewhere)
    verdict = result.verdict()
    assert result.ok() and verdict.startswith("REPRODUCED WITHIN FLOATING-POINT NOISE")
    moved = [line for line in verdict.splitlines() if line.startswith("- ")]
    assert len(moved) == 1 and "/ attack / fgsm: " in moved[0] and "white-box innr-siren-small" in moved[0]
    assert "seed 0 +2.00, seed 1 -3.00 pt" in moved[0]

    shifted = tmp_path / "shifted" / "smoke"
    shutil.copytree(elsewhere, shifted)

    def one_point_worse(record: dict[str, Any]) -> None:
        if record.get("compressor", {}).get("label") == "ptq-int4":
            record["accuracy"] -= 0.01

    _rewrite(shifted, one_point_worse)
    differs = compare(two_runs[0], shifted).verdict().splitlines()
    assert differs[0].startswith("DIFFERS: 1 of 4 settings moved beyond what floating-point order explains")
    assert differs[1].startswith("- ") and "ptq-int4: accuracy: seed 0 -1.00, seed 1 -1.00 pt" in differs[1]


def test_the_run_ends_with_its_verdict_in_words(
    repo_root: Path, two_runs: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The main job's last line: the verdict against the published results of its suite."""
    monkeypatch.setenv("INNR_BENCH_CACHE", str(two_runs[0].parent.parent / "cache-a"))  # a's cache
    doc = yaml.safe_load((repo_root / "suites" / "smoke.yaml").read_text())
    doc["compressors"] = doc["compressors"][:3]
    (tmp_path / "small.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))  # the same labels
    assert main(["run", str(tmp_path / "small.yaml"), "--out", str(tmp_path / "out"), "--no-progress",
                 "--device", "cpu", "--reference", str(two_runs[0].parent)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("verdict against ") and lines[-1].endswith(
        "REPRODUCED EXACTLY: every value of the 8 cells on both sides is identical.")
    report = (tmp_path / "out" / "smoke" / "reproducibility.md").read_text()
    assert "## Verdict\n\nREPRODUCED EXACTLY" in report


def test_another_cpu_microarchitecture_is_another_environment(
    two_runs: tuple[Path, Path], tmp_path: Path
) -> None:
    """Two machines whose model names read alike ("AMD EPYC") may round differently: the records'
    `worker.cpu` (vendor, family, model, ISA) must match too for seeds to pair as the same."""
    import shutil

    other = tmp_path / "smoke"
    shutil.copytree(two_runs[1], other)

    def zen4(record: dict[str, Any]) -> None:
        record["worker"]["cpu"] = "AuthenticAMD family 25 model 17 avx512f"

    _rewrite(other, zen4)
    result = compare(two_runs[0], other)
    assert set(result.table["mode"]) == {"cross-env"} and result.ok()
    assert "cells' environment" in set(result.environment["field"])
    # identical values read as exact whatever the environments
    assert result.verdict().startswith("REPRODUCED EXACTLY")
    assert compare(*two_runs).table["mode"].eq("paired").all()
