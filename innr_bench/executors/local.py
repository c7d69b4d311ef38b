"""The default executor: every task in this process, one after another."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import torch

from innr_bench.env import resolve_device

if TYPE_CHECKING:
    from innr_bench.cells import Task, TaskResult
    from innr_bench.runner import Runner


class LocalExecutor:
    """In-process execution: the runner's own worker computes each task against its cache."""

    name = "local"

    def device(self, request: str) -> torch.device:
        """This machine's device for `request` (auto = CUDA when present)."""
        return resolve_device(request)

    def run(self, runner: Runner, tasks: list[Task]) -> Iterator[TaskResult]:
        assert runner.worker is not None
        for task in tasks:
            yield runner.worker.execute(task)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name}

    def close(self) -> None:
        """Nothing to release."""
