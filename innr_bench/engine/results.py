"""What a task hands back, and the small helpers the runner and workers share to make it."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from innr_bench.data.datasets import Dataset
from innr_bench.engine.cache import CacheEntry
from innr_bench.engine.plan import Task


def now() -> str:
    """The time a record or manifest says it was made (UTC, seconds)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def dataset_info(data: Dataset) -> dict[str, Any]:
    """What results record about the data a cell saw."""
    return {"name": data.name, "source": data.source, "sha256": data.sha256,
            "warning": data.warning, "verified": data.verified,
            "n_train": len(data.train_y), "n_test": len(data.test_y)}


@contextlib.contextmanager
def timed(totals: dict[str, float], name: str) -> Iterator[None]:
    """Add the wall time of the block to `totals[name]`."""
    start = time.perf_counter()
    try:
        yield
    finally:
        totals[name] += time.perf_counter() - start


@dataclass
class TaskResult:
    """What a task produced: a cell record (none for targets), stage times, messages for the
    user, and the cache entries it wrote when it ran somewhere else (to be kept by the runner)."""

    task: Task
    record: dict[str, Any] | None = None
    stage_seconds: dict[str, float] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    entries: list[CacheEntry] = field(default_factory=list)
