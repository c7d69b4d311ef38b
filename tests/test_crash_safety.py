"""A runner killed with SIGKILL loses at most the cells in flight; a corrupted record or cache
file is detected and recomputed; the rerun gives the same numbers as an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from innr_bench.config import load_suite
from innr_bench.engine.runner import Runner

SMOKE_CELLS = 14  # suites/smoke.yaml: 2 seeds x (6 compressor settings + 1 attack)


def _records(out: Path) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in (out / "smoke" / "records").glob("*.json")}


def _numbers(records: dict[str, dict]) -> dict[str, object]:
    return {name: r.get("accuracy", r.get("transfer")) for name, r in records.items()}


@pytest.fixture(scope="module")
def reference(repo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    out = tmp_path_factory.mktemp("reference")
    os.environ["INNR_BENCH_CACHE"] = str(out / "cache")
    try:
        Runner(load_suite(repo_root / "suites" / "smoke.yaml"), out_dir=out, device="cpu").run()
    finally:
        del os.environ["INNR_BENCH_CACHE"]
    return _numbers(_records(out))


@pytest.mark.parametrize("kill_after", [0, 3, 9])
def test_kill_9_then_rerun_resumes_without_recomputing(
    repo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reference, kill_after: int
) -> None:
    monkeypatch.setenv("INNR_BENCH_CACHE", str(tmp_path / "cache"))
    records_dir = tmp_path / "smoke" / "records"
    process = subprocess.Popen(
        [sys.executable, "-m", "innr_bench.cli", "run", str(repo_root / "suites" / "smoke.yaml"),
         "--out", str(tmp_path), "--no-progress", "--device", "cpu"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    deadline = time.monotonic() + 120
    # kill_after 0: while the first target trains (the manifest exists, no record yet)
    while time.monotonic() < deadline and process.poll() is None:
        done = len(list(records_dir.glob("*.json"))) if records_dir.is_dir() else 0
        if done >= kill_after and (tmp_path / "smoke" / "manifest.json").exists():
            break
        time.sleep(0.02)
    assert process.poll() is None, "the runner finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()

    survivors = _records(tmp_path)  # every file left behind is a whole, valid record
    assert len(survivors) >= kill_after and all(r["status"] == "ok" for r in survivors.values())
    summary = Runner(load_suite(repo_root / "suites" / "smoke.yaml"), out_dir=tmp_path, device="cpu").run()
    assert summary.failed == [] and summary.skipped == len(survivors)
    assert summary.computed == SMOKE_CELLS - len(survivors)
    assert _numbers(_records(tmp_path)) == reference


def test_corrupted_record_and_cached_target_are_recomputed(
    repo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog, reference
) -> None:
    monkeypatch.setenv("INNR_BENCH_CACHE", str(tmp_path / "cache"))
    suite = load_suite(repo_root / "suites" / "smoke.yaml")
    Runner(suite, out_dir=tmp_path, device="cpu").run()
    victim = sorted((tmp_path / "smoke" / "records").glob("*.json"))[0]
    victim.write_text(victim.read_text().replace('"status": "ok"', '"status": "ok", "edited": 1'))
    for target in (tmp_path / "cache" / "targets").glob("*.safetensors"):  # truncate every target
        target.write_bytes(target.read_bytes()[:-16])
    summary = Runner(suite, out_dir=tmp_path, device="cpu").run()
    assert "corrupt record" in caplog.text and "corrupt cache file" in caplog.text
    assert summary.computed == 1 and summary.skipped == SMOKE_CELLS - 1
    assert "train" in summary.stage_seconds  # the damaged target was retrained, not used
    assert _numbers(_records(tmp_path)) == reference
