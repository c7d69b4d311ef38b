"""Where the cache lives: $INNR_BENCH_CACHE first, else the platform's user cache directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from innr_bench.paths import CACHE_ENV, cache_dir


def test_the_environment_variable_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "here"))
    assert cache_dir() == tmp_path / "here"


def test_otherwise_the_user_cache_dir_honours_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "innr-bench"
