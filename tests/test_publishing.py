"""Publishing into the checkout's results/ from uncommitted code is refused unless
--allow-dirty, which the manifest and every leaderboard title then show."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import innr_bench.engine.env as env
from innr_bench.cli import main
from innr_bench.engine.env import check_publishable
from innr_bench.errors import ConfigError
from innr_bench.reporting.board import Board


def test_publishing_from_a_dirty_tree_is_refused_naming_the_fix(repo_root: Path) -> None:
    results = repo_root / "results" / "any-suite"
    with pytest.raises(ConfigError, match=r"--out .*any-suite: publishing into .*results from uncommitted "
                       r"code \(abc\+dirty\); commit first .* or pass --allow-dirty"):
        check_publishable(results, "abc+dirty", allow_dirty=False)
    assert check_publishable(results, "abc+dirty", allow_dirty=True) is True
    assert check_publishable(results, "abc", allow_dirty=False) is True


def test_runs_outside_results_are_not_publishing(repo_root: Path, tmp_path: Path) -> None:
    assert check_publishable(tmp_path / "mine", "abc+dirty", allow_dirty=False) is False
    assert check_publishable(repo_root / "runs" / "mnist", "abc+dirty", allow_dirty=False) is False


def test_the_cli_refuses_with_exit_2_and_allow_dirty_marks_the_manifest(
        repo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(env, "published_results_dir", lambda directory: tmp_path / "results")
    monkeypatch.setattr(env, "git_commit", lambda directory: "0123abc+dirty")
    monkeypatch.setenv("INNR_BENCH_CACHE", str(tmp_path / "cache"))
    suite = str(repo_root / "suites" / "smoke.yaml")
    out = str(tmp_path / "results")
    assert main(["run", suite, "--out", out, "--no-progress"]) == 2
    assert "commit first" in capsys.readouterr().err
    assert not (tmp_path / "results" / "smoke" / "records").exists()  # nothing was computed
    assert main(["run", suite, "--out", out, "--no-progress", "--allow-dirty"]) == 0
    manifest = json.loads((tmp_path / "results" / "smoke" / "manifest.json").read_text())
    assert manifest["runs"][-1]["published_from_uncommitted_code"] is True
    board = Board(tmp_path / "results" / "smoke")
    assert board.uncommitted == ["0123abc+dirty"]
    titles = [title for view in board.views for title, _ in view.sections]
    assert titles and all(t.endswith("[made from uncommitted code: 0123abc+dirty]") for t in titles)
