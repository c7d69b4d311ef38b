"""The default executor: every task in this process, one after another."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import torch

from innr_bench.engine.env import fingerprint, resolve_device
from innr_bench.engine.plan import Plan
from innr_bench.engine.worker import CellWorker

if TYPE_CHECKING:
    from innr_bench.engine.cache import TensorCache
    from innr_bench.engine.executors.base import WorkerSpec
    from innr_bench.engine.plan import Task
    from innr_bench.engine.results import TaskResult
    from innr_bench.progress import Progress


class LocalExecutor:
    """In-process execution: one worker per run computes each task against the caller's cache."""

    name = "local"

    def __init__(self) -> None:
        self._worker: tuple[str, CellWorker] | None = None  # (run id, its worker)

    def device(self, request: str) -> torch.device:
        """This machine's device for `request` (auto = CUDA when present)."""
        return resolve_device(request)

    def environment(self, device: torch.device) -> dict[str, Any]:
        return fingerprint(device)

    def run(self, spec: WorkerSpec, tasks: list[Task], cache: TensorCache,
            progress: Progress, plan: Plan | None = None) -> Iterator[TaskResult]:
        if self._worker is None or self._worker[0] != spec.run_id:
            plan = plan or Plan(spec.suite, spec.datasets, spec.environment)
            worker = CellWorker(plan, device=torch.device(spec.device), numerics=spec.numerics,
                                cache=cache, force=spec.force, progress=progress,
                                executor=self.name, git_commit=spec.git_commit,
                                keep_freed_memory=spec.keep_freed_memory)
            self._worker = (spec.run_id, worker)
        worker = self._worker[1]
        for task in tasks:
            # the worker wrote into the caller's cache already: nothing to hand back
            yield dataclasses.replace(worker.execute(task), entries=[])

    def describe(self) -> dict[str, Any]:
        return {"name": self.name}

    def close(self) -> None:
        self._worker = None
