"""The executor interface the runner talks to."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

import torch

if TYPE_CHECKING:
    from innr_bench.cells import Task, TaskResult
    from innr_bench.runner import Runner


class Executor(Protocol):
    """Runs independent tasks and yields their results as they finish (in any order)."""

    name: str

    def device(self, request: str) -> torch.device:
        """The device cells will run on for `request` (auto / cpu / cuda): it decides which
        numerics apply, so the runner's keys and records use it."""
        ...

    def run(self, runner: Runner, tasks: list[Task]) -> Iterator[TaskResult]:
        """Compute `tasks` for `runner`, whose worker knows the suite and whose cache holds the
        inputs; results are yielded as soon as each is done, so the runner stores them at once."""
        ...

    def describe(self) -> dict[str, Any]:
        """What the manifest records about where the run's work happened."""
        ...

    def close(self) -> None:
        """Release what the executor started (e.g. a local Ray instance)."""
        ...
