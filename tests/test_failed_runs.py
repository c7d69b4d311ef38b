"""A run that fails changes nothing it did not compute: a kill -9 at three points and two runs
sharing one cache leave `report DIR` writing the leaderboards it wrote before (a bad checkpoint:
tests/test_checkpoint.py); a results dir with nothing to report says why (exit 2)."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from innr_bench.cli import main

TEXT_FORMATS = ("md", "csv", "tex", "html")
TIMING = ("compress s", "attack s", "wall s")  # wall-clock columns: a recomputed cell's differ


def _without_timing(boards: dict[str, str]) -> dict[str, pd.DataFrame]:
    frames = {name: pd.read_csv(io.StringIO(text)) for name, text in boards.items() if name.endswith(".csv")}
    return {name: frame.drop(columns=[c for c in frame if c in TIMING]) for name, frame in frames.items()}


# -- kill -9 and shared caches --------------------------------------------------------------


@pytest.fixture(scope="module")
def small_suite(repo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The smoke suite with three compressors and its attack (8 cells)."""
    doc = yaml.safe_load((repo_root / "suites" / "smoke.yaml").read_text())
    doc["compressors"] = doc["compressors"][:3]
    path = tmp_path_factory.mktemp("suite") / "small.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture(scope="module")
def finished(small_suite: Path, tmp_path_factory: pytest.TempPathFactory, report_text: Any
             ) -> tuple[Path, dict[str, str]]:
    """A finished results dir, its cache, and the leaderboards `report` writes of it."""
    root = tmp_path_factory.mktemp("finished")
    env = {**os.environ, "INNR_BENCH_CACHE": str(root / "cache")}
    subprocess.run(_command(small_suite, root), env=env, check=True, capture_output=True)
    return root, report_text(root / "smoke")


def _command(suite: Path, out: Path, *extra: str) -> list[str]:
    # one thread each: two runs at once on 2 cores, not four threads fighting for them
    return [sys.executable, "-m", "innr_bench.cli", "run", str(suite), "--out", str(out), "--no-progress",
            "--device", "cpu", "--reference", "none", "--threads", "1", *extra]


@pytest.mark.parametrize("kill_after", [0, 3, 6])
def test_a_kill_9_part_way_leaves_report_writing_the_same_leaderboards(
    small_suite: Path, finished: tuple[Path, dict[str, str]], tmp_path: Path, kill_after: int,
    report_text: Any,
) -> None:
    """A forced rerun (every cell recomputed, the same numbers) killed after `kill_after` new
    records: the leaderboards are those of before, wall-clock columns aside."""
    root, before = finished
    shutil.copytree(root, tmp_path / "copy")
    results = tmp_path / "copy" / "smoke"
    manifest = (results / "manifest.json").read_bytes()
    started = time.time()
    env = {**os.environ, "INNR_BENCH_CACHE": str(tmp_path / "copy" / "cache")}
    process = subprocess.Popen(_command(small_suite, tmp_path / "copy", "--force"), env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    owner = results / ".lock.owner"  # written once the run holds the directory: it has started
    while time.monotonic() < deadline and process.poll() is None:
        rewritten = sum(1 for p in (results / "records").glob("*.json") if p.stat().st_mtime >= started)
        if rewritten >= kill_after and owner.exists() and owner.stat().st_mtime >= started:
            break
        time.sleep(0.01)
    time.sleep(0.3 if kill_after == 0 else 0)  # kill_after 0: while it retrains the first target
    assert process.poll() is None, "the run finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    after = report_text(results)
    if kill_after == 0:  # nothing recomputed yet: nothing on disk changed, byte for byte
        assert (results / "manifest.json").read_bytes() == manifest and after == before
    assert after.keys() == before.keys()
    for name, frame in _without_timing(before).items():
        pd.testing.assert_frame_equal(_without_timing(after)[name], frame)


def test_two_runs_sharing_one_cache_give_the_leaderboards_of_one(
    small_suite: Path, finished: tuple[Path, dict[str, str]], tmp_path: Path, report_text: Any
) -> None:
    """Both started at once on one empty cache (each trains and caches the same targets and
    copies); each result set reports what a run alone reports. A third run into a directory in
    use is refused (exit 2) and changes nothing."""
    env = {**os.environ, "INNR_BENCH_CACHE": str(tmp_path / "cache")}
    runs = [subprocess.Popen(_command(small_suite, tmp_path / name), env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True) for name in ("a", "b")]
    deadline = time.monotonic() + 60  # until `a` holds its directory's lock
    while not (tmp_path / "a" / "smoke" / ".lock.owner").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    refused = subprocess.run(_command(small_suite, tmp_path / "a"), env=env, capture_output=True, text=True)
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert refused.returncode == 2 and "results directory is in use" in refused.stderr
    expected = _without_timing(finished[1])
    for name in ("a", "b"):
        boards = report_text(tmp_path / name / "smoke")
        assert boards.keys() == finished[1].keys()
        for board, frame in _without_timing(boards).items():
            pd.testing.assert_frame_equal(frame, expected[board])


def test_report_says_why_when_there_is_nothing_to_report(
    finished: tuple[Path, dict[str, str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "smoke"
    shutil.copytree(finished[0] / "smoke", results)
    for record in (results / "records").glob("*.json"):
        record.unlink()
    assert main(["report", str(results)]) == 2
    err = capsys.readouterr().err
    assert "no finished cell to report: its suite's latest run lists 8 cells, 0 of them have records" in err


def test_a_relabelled_copy_gets_attack_records_that_name_it_by_its_new_label(
    small_suite: Path, finished: tuple[Path, dict[str, str]], tmp_path: Path, report_text: Any
) -> None:
    """An attack cell's key holds the copies' keys, not their labels: after a relabel its old record
    (here one seed's: the other's was lost to a kill) must not be reused under the old name, which
    once mixed two labels in one board and crashed every later run and `report` with a KeyError."""
    shutil.copytree(finished[0], tmp_path / "copy")
    results = tmp_path / "copy" / "smoke"
    attacks = sorted(p for p in (results / "records").glob("*.json") if '"kind": "attack"' in p.read_text())
    attacks[0].unlink()
    relabelled = tmp_path / "relabelled.yaml"
    relabelled.write_text(small_suite.read_text().replace("innr-siren-small", "innr-siren-big"))
    env = {**os.environ, "INNR_BENCH_CACHE": str(tmp_path / "copy" / "cache")}
    done = subprocess.run(_command(relabelled, tmp_path / "copy"), env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    said = done.stdout + done.stderr
    assert "its record names the copies it attacked by labels the suite no longer has" in said
    boards = report_text(results)
    assert "innr-siren-big" in boards["transfer.md"] and "innr-siren-small" not in boards["transfer.md"]
