"""The one migration of stored result sets to keys from what ran (`innr-bench migrate`).

tests/data/legacy-mnist is results/mnist's seed-0 cells as published before the migration
(made at 4af8863 on 2 CPU cores): real records in the old form."""

from __future__ import annotations

import json
import shutil
import types
from pathlib import Path

import pytest
import yaml

from innr_bench.cli import main
from innr_bench.config import parse_suite
from innr_bench.engine.migrate import NAME, migrate
from innr_bench.engine.plan import Plan
from innr_bench.engine.store import ResultStore
from innr_bench.reporting.report import size_frame

LEGACY = Path(__file__).parent / "data" / "legacy-mnist"


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    root = tmp_path / "mnist"
    shutil.copytree(LEGACY, root)
    return root


def _planned_keys(repo_root: Path, root: Path) -> set[str]:
    """Every cell key a rerun of suites/mnist.yaml (seed 0) computes in the records' environment."""
    doc = yaml.safe_load((repo_root / "suites" / "mnist.yaml").read_text()) | {"seeds": [0]}
    # the legacy records predate the standard codec's rows (added later, computed, not migrated)
    doc["compressors"] = [c for c in doc["compressors"] if c["name"] != "nnc"]
    manifest = ResultStore(root).manifest()
    environment = manifest["runs"][-1]["environment"]
    datasets = {label: types.SimpleNamespace(sha256=info["sha256"])
                for label, info in manifest["datasets"].items()}
    plan = Plan(parse_suite(doc), datasets, environment)  # type: ignore[arg-type]
    return {task.key for task in plan.cells()}


def test_migrated_records_are_found_by_a_rerun_under_their_new_keys(repo_root: Path, legacy: Path) -> None:
    before = size_frame(ResultStore(legacy).records())
    planned = _planned_keys(repo_root, legacy)
    assert not planned & set(ResultStore(legacy).manifest()["cells"])  # the keys did change
    result = migrate(legacy)
    assert len(result.rekeyed) == 13 and not result.stale
    store = ResultStore(legacy)
    assert set(store.manifest()["cells"]) == planned
    assert sorted(p.stem for p in store.records_dir.glob("*.json")) == sorted(planned)
    assert all(store.get(key) is not None for key in planned)  # each carries its key and checksum
    after = size_frame(store.records())
    pd_columns = ["target", "method", "seed", "accuracy", "size_bytes"]
    assert before[pd_columns].sort_values("method").values.tolist() == \
        after[pd_columns].sort_values("method").values.tolist()  # the numbers are the numbers
    assert migrate(legacy).already  # once per result set


def test_a_record_whose_settings_resolve_differently_now_keeps_its_key(legacy: Path) -> None:
    for path in (legacy / "records").glob("*.json"):
        record = json.loads(path.read_text())
        if record["kind"] == "compressor" and record["compressor"]["label"] == "innr-siren" \
                and record["compressor"]["params"].get("width") is None:
            record["info"]["settings"]["epochs"] = 301  # as if made by another recipe default
            record.pop("sha256")
            path.write_text(json.dumps(record))
            changed = record["key"]
    result = migrate(legacy)
    assert "differs from what the setting resolves to now (fit)" in result.stale[changed]
    # the attack cells that attacked that copy are kept too: what they attacked changed
    attacks = [k for k, why in result.stale.items()
               if "copies it attacked were not re-keyed: innr-siren" in why]
    assert len(attacks) == 2
    manifest = ResultStore(legacy).manifest()
    assert set(manifest["migrations"][-1]["stale_cells"]) == {changed, *attacks}
    assert changed in manifest["cells"]  # still shown; a rerun recomputes it


def test_the_command_line_migrates_and_says_what_it_kept(legacy: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["migrate", str(legacy)]) == 0
    assert "13 records re-keyed, 0 kept" in capsys.readouterr().out
    assert main(["migrate", str(legacy)]) == 0
    assert "already migrated" in capsys.readouterr().out


def test_every_published_cell_is_keyed_by_what_ran_or_marked(repo_root: Path) -> None:
    """Every current cell of every published set carries its resolved spec (keys from what ran:
    computed so, or re-keyed by the migration), or the migration lists it with its reason."""
    for root in sorted(p.parent for p in (repo_root / "results").glob("*/manifest.json")):
        store = ResultStore(root)
        manifest = store.manifest()
        done = [m for m in manifest.get("migrations", []) if m["name"] == NAME]
        stale = done[-1]["stale_cells"] if done else {}
        for key in manifest["cells"]:
            record = store.get(key)
            assert record is not None, f"{root.name}: the record of cell {key} is missing"
            assert "spec" in record[record["kind"]] or stale.get(key), f"{root.name}: {key} is neither"
