"""The Board: a result set read once, every view built from its records, rendered by every
writer. Checked on the committed results/ci (no run needed)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from innr_bench.errors import ConfigError
from innr_bench.reporting.board import Board

FORMATS = ("md", "csv", "tex", "html")


@pytest.fixture
def ci_copy(repo_root: Path, tmp_path: Path) -> Path:
    out = tmp_path / "ci"
    shutil.copytree(repo_root / "results" / "ci", out, ignore=shutil.ignore_patterns("leaderboards"))
    return out


def test_rewriting_the_leaderboards_gives_the_published_files(repo_root: Path, ci_copy: Path) -> None:
    written = Board(ci_copy).write(plots=False)
    assert sorted(written) == sorted(f"{view}.{fmt}" for view in ("accuracy-vs-size", "transfer")
                                     for fmt in FORMATS)
    for name, path in written.items():
        assert path.read_text() == (repo_root / "results" / "ci" / "leaderboards" / name).read_text(), name


def test_the_size_view_averages_the_records_over_seeds(ci_copy: Path) -> None:
    records = [json.loads(p.read_text()) for p in (ci_copy / "records").glob("*.json")]
    ptq = [r for r in records if r["kind"] == "compressor" and r["compressor"]["label"] == "ptq[bits=4]"]
    board = Board(ci_copy)
    row = board.accuracy_vs_size.set_index("method").loc["ptq[bits=4]"]
    assert row["bytes"] == ptq[0]["size_bytes"] and row["seeds"] == len(ptq) == 2
    mean = 100 * sum(r["accuracy"] for r in ptq) / len(ptq)
    assert row["accuracy %"].startswith(f"{mean:.2f} ± ")
    assert [v.name for v in board.views] == ["accuracy-vs-size", "transfer"]  # no inheritance in ci
    assert board.view("inheritance") is None and board.inheritance.empty
    assert board.uncommitted == []  # published from committed code


def test_a_directory_without_records_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a results directory"):
        Board(tmp_path)
