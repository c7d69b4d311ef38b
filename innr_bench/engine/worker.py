"""Computing one task of a plan: train or load a target (`targets.py`), or a cell: its copy made
or read (`copies.py`), evaluated or attacked (`cells.py`), and its record.

A `CellWorker` lives where the computing happens: in the runner's own process (local executor)
or in a Ray worker (ray executor). It never writes results; it returns them as `TaskResult`s
(with the cache entries the task wrote) and the runner stores them, so every executor feeds the
same result store. Keys come from the `Plan`, the record's shape from `records`."""

from __future__ import annotations

import logging
import socket
import time
import traceback
from typing import Any

import torch

import innr_bench
from innr_bench.config import Component
from innr_bench.engine import memory
from innr_bench.engine.cache import TensorCache
from innr_bench.engine.cells import attack_cell, compress_cell
from innr_bench.engine.context import WorkContext
from innr_bench.engine.copies import Copies
from innr_bench.engine.env import cpu_model, device_name
from innr_bench.engine.plan import Plan, TargetGroup, Task
from innr_bench.engine.records import SCHEMA_VERSION, validated
from innr_bench.engine.results import TaskResult, dataset_info, now
from innr_bench.engine.targets import ensure_target
from innr_bench.errors import InnrBenchError
from innr_bench.numerics import deterministic_digits
from innr_bench.progress import Progress, RecordedProgress

logger = logging.getLogger(__name__)


class CellWorker:
    """Computes tasks of a plan against a tensor cache."""

    def __init__(self, plan: Plan, *, device: torch.device, numerics: dict[str, Any], cache: TensorCache,
                 force: bool = False, progress: Progress | None = None, executor: str = "local",
                 git_commit: str | None = None, keep_freed_memory: bool = True) -> None:
        self.ctx = WorkContext(plan, device, numerics, cache, progress or Progress(enabled=False), force)
        self.copies = Copies(self.ctx)
        self.plan, self.cache, self.numerics = plan, cache, numerics
        self.executor, self.git_commit = executor, git_commit
        if keep_freed_memory:  # reuse freed pages, not fault them in anew
            memory.keep_freed_memory(device.type)

    def execute(self, task: Task) -> TaskResult:
        """Run one task; cell failures become failed records, user errors propagate."""
        before = dict(self.ctx.stage_seconds)
        group = self.plan.group(task.group)
        record = None
        with self.cache.recording() as written:
            try:
                record = self._run(task, group)
            finally:
                memory.release_freed_memory()  # what a task kept goes back to the OS once it is done
        spent = {k: v - before.get(k, 0.0) for k, v in self.ctx.stage_seconds.items()}
        progress = self.ctx.progress
        messages = progress.drain() if isinstance(progress, RecordedProgress) else []
        return TaskResult(task, record, {k: v for k, v in spent.items() if v > 0}, messages, written)

    def _run(self, task: Task, group: TargetGroup) -> dict[str, Any] | None:
        if task.kind != "target":
            return self.cell(group, self.plan.components(task.kind)[task.index], task.key)
        try:
            ensure_target(self.ctx, group)
        except InnrBenchError:
            raise
        except Exception as error:  # the cells that need it retry and record the failure
            logger.debug("training %s failed", group.id, exc_info=True)
            self.ctx.progress.print(f"FAILED training {group.id}: {type(error).__name__}: {error}")
        return None

    def cell(self, group: TargetGroup, component: Component, key: str) -> dict[str, Any]:
        """One cell's record: its results, or status `failed` with the error; checked against
        the record schema (`records`) before it leaves the worker."""
        base = self._common(group, component, key)
        compute = attack_cell if component.kind == "attack" else compress_cell
        start = time.perf_counter()
        try:
            ensure_target(self.ctx, group)
            try:
                record = {**base, **compute(self.ctx, self.copies, group, component), "status": "ok"}
            except InnrBenchError as error:  # bad input met while computing: say which suite entry
                error.args = (f"{self.plan.suite.path}: {component.kind} {component.label} on "
                              f"{group.target.model.label} seed {group.seed}: {error}", *error.args[1:])
                raise
        except InnrBenchError:
            raise
        except Exception as error:  # one failed cell must not stop the others
            logger.debug("cell %s failed", key, exc_info=True)
            record = {**base, "status": "failed", "error": f"{type(error).__name__}: {error}",
                      "traceback": traceback.format_exc(limit=5)}
        record["wall_seconds"] = round(time.perf_counter() - start, 3)
        validated(record)  # a record the readers could not read is a bug here, not a cell failure
        return record

    def _common(self, group: TargetGroup, component: Component, key: str) -> dict[str, Any]:
        """What every record of this worker says: the cell, its data and target, and where it ran."""
        device = self.ctx.device
        return {
            "key": key, "kind": component.kind, "suite": self.plan.suite.name, "seed": group.seed,
            "dataset": {"label": group.dataset.label, **dataset_info(group.data)},
            "target": group.describe(), component.kind: component.to_dict(),
            "device": str(device), "environment": self.plan.environment,
            "numerics": self.numerics, "created": now(),
            "innr_bench": innr_bench.__version__, "git_commit": self.git_commit,
            "schema_version": SCHEMA_VERSION,
            "worker": {"executor": self.executor, "host": socket.gethostname(),
                       "device_name": device_name(device),
                       # fits of thousands of steps round differently with another thread count
                       "torch_threads": torch.get_num_threads(),
                       # the fit seconds depend on it (engine/memory.py)
                       "freed_memory_kept": memory.kept(),
                       # "AMD EPYC" names several microarchitectures that round differently
                       "cpu": cpu_model(),
                       # whether a rerun here computes these digits again (numerics.py)
                       "deterministic": deterministic_digits(self.numerics, device)},
        }
