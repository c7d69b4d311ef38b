"""Shared fixtures: every test gets its own cache directory."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

# Every built-in registered before any test copies a registry to add to it (a copy of an
# empty registry, restored after the test, would leave the built-ins out for the rest).
import innr_bench.components  # noqa: F401
from innr_bench.engine import memory


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("INNR_BENCH_CACHE", str(cache))
    monkeypatch.delenv("INNR_BENCH_DATA", raising=False)
    return cache


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def freed_memory_expected() -> bool:
    """Whether a CPU cell's process should keep freed memory here (engine/memory.py): on glibc
    Linux, with the switch on, no malloc settings of one's own and no other allocator preloaded."""
    return memory.applies()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


def _report_text(results: Path) -> dict[str, str]:
    """`innr-bench report DIR`'s text leaderboards, written anew from what the records hold."""
    import shutil

    from innr_bench.cli import main

    out = results / "leaderboards"
    shutil.rmtree(out, ignore_errors=True)
    assert main(["report", str(results)]) == 0
    return {p.name: p.read_text() for p in sorted(out.iterdir())
            if p.suffix in (".md", ".csv", ".tex", ".html")}


@pytest.fixture(scope="session")
def report_text():
    """`report_text(DIR)`: the text leaderboards `innr-bench report DIR` writes now, by file name."""
    return _report_text
