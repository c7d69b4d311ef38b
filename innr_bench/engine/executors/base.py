"""The executor interface: tasks and a worker spec in, results out. Executors never see the runner."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import torch

if TYPE_CHECKING:
    from innr_bench.config import Suite
    from innr_bench.data.datasets import Dataset
    from innr_bench.engine.cache import TensorCache
    from innr_bench.engine.plan import Plan, Task
    from innr_bench.engine.results import TaskResult
    from innr_bench.progress import Progress


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker needs to build its plan and compute tasks, wherever it runs."""

    run_id: str  # one per run: workers keep nothing across runs
    suite: Suite
    datasets: dict[str, Dataset]
    device: str  # cpu or cuda, as decided for the whole run
    numerics: dict[str, Any]  # what applies there
    environment: dict[str, Any]  # the plan's environment: it is part of every key
    git_commit: str | None
    version: str
    modules: tuple[str, ...]  # modules that register the suite's components (imported first)
    force: bool = False  # recompute what the cache holds
    # the driver's switch (engine/memory.py), so a cluster's workers follow the run, not their own
    keep_freed_memory: bool = True


class Executor(Protocol):
    """Runs independent tasks and yields their results as they finish (in any order)."""

    name: str

    def device(self, request: str) -> torch.device:
        """The device cells will run on for `request` (auto / cpu / cuda)."""
        ...

    def environment(self, device: torch.device) -> dict[str, Any]:
        """What a number depends on where the tasks run (torch version, device kind and name,
        CPU threads): it enters every key, so results from elsewhere are not reused."""
        ...

    def run(self, spec: WorkerSpec, tasks: list[Task], cache: TensorCache,
            progress: Progress, plan: Plan | None = None) -> Iterator[TaskResult]:
        """Compute `tasks`; `cache` holds their inputs (and receives nothing: the caller keeps
        the entries each result carries). Results are yielded as soon as each is done. `plan`:
        the caller's plan of `spec` (built from the spec where not given; remote workers build
        their own)."""
        ...

    def describe(self) -> dict[str, Any]:
        """What the manifest records about where the run's work happened."""
        ...

    def close(self) -> None:
        """Release what the executor started (e.g. a local Ray instance)."""
        ...
