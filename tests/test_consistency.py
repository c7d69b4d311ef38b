"""A board whose cells compress different versions of one target (records reused from another
machine beside cells computed here) says so on `run` and `report`; the published sets do not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from innr_bench.cli import main
from innr_bench.engine.consistency import mixed_targets
from innr_bench.engine.store import CHECKSUM_FIELD, ResultStore, record_digest


def test_every_published_set_compresses_one_target_per_seed(repo_root: Path) -> None:
    for results in sorted((repo_root / "results").iterdir()):
        if (results / "records").is_dir():
            assert mixed_targets(ResultStore(results).records()) == [], results.name


def test_a_planted_second_original_is_named_on_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], repo_root: Path,
) -> None:
    suite = repo_root / "suites" / "smoke.yaml"
    assert main(["run", str(suite), "--out", str(tmp_path), "--no-progress", "--device", "cpu",
                 "--reference", "none"]) == 0
    assert "mixed targets" not in capsys.readouterr().out
    results = next(p for p in tmp_path.iterdir() if (p / "records").is_dir())
    record = next(r for r in ResultStore(results).records()
                  if r["kind"] == "compressor" and r["compressor"]["name"] != "identity")
    record["target_accuracy"] += 0.0017  # the same target, trained on another CPU
    record[CHECKSUM_FIELD] = record_digest(record)
    (results / "records" / f"{record['key']}.json").write_text(json.dumps(record))
    assert main(["report", str(results)]) == 0
    warnings = [line for line in capsys.readouterr().out.splitlines() if "mixed targets" in line]
    assert len(warnings) == 1 and f"seed {record['seed']}:" in warnings[0] and " in 1" in warnings[0]
