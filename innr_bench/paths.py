"""Where innr-bench keeps its cache."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

CACHE_ENV = "INNR_BENCH_CACHE"


def cache_dir() -> Path:
    """$INNR_BENCH_CACHE, else the platform's user cache dir (honours $XDG_CACHE_HOME)."""
    override = os.environ.get(CACHE_ENV)
    return Path(override) if override else Path(platformdirs.user_cache_dir("innr-bench"))
