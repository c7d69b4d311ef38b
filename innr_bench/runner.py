"""Expand a suite into tasks, hand the missing ones to an executor, store one record per cell."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from innr_bench.cache import TensorCache
from innr_bench.cells import (
    CellWorker,
    GroupId,
    TargetGroup,
    Task,
    TaskResult,
    dataset_info,
    now,
    timed,
)
from innr_bench.config import Suite
from innr_bench.data import Dataset
from innr_bench.env import environment
from innr_bench.errors import InnrBenchError
from innr_bench.executors import Executor, LocalExecutor
from innr_bench.numerics import effective, tf32_scope
from innr_bench.progress import Progress
from innr_bench.registry import DATASETS
from innr_bench.store import ResultStore


@dataclass
class RunSummary:
    """What one invocation did."""

    out_dir: Path
    computed: int = 0
    skipped: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))


class Runner:
    """Runs a suite into `out_dir/<suite name>`, reusing every finished cell unless `force`.

    Work runs in three waves of independent tasks (targets to train, compressor cells, attack
    cells); the executor decides where each task runs, and every result comes back here to the
    one result store, so a suite's records are one set whichever executors computed them."""

    def __init__(
        self,
        suite: Suite,
        *,
        out_dir: Path,
        device: str | None = None,
        force: bool = False,
        progress: Progress | None = None,
        cache: TensorCache | None = None,
        executor: Executor | None = None,
    ) -> None:
        self.suite = suite
        self.executor = executor or LocalExecutor()
        # where the cells run (for Ray: on the cluster's workers, not necessarily this machine);
        # it decides which numerics apply and so enters the keys
        self.device = self.executor.device(device or suite.device)
        self.numerics = effective(suite.numerics, self.device)
        self.force = force
        self.progress = progress or Progress(enabled=False)
        self.cache = cache or TensorCache()
        self.store = ResultStore(Path(out_dir) / suite.name)
        self.summary = RunSummary(self.store.root)
        self.data: dict[str, Dataset] = {}
        self.worker: CellWorker | None = None  # computes in this process; also knows every key
        self._fresh: set[tuple[str, str]] = set()  # cache entries remote workers sent this run
        self.run_id = ""  # set per run(): remote workers keep nothing across runs

    def run(self) -> RunSummary:
        """Compute every missing cell; write the manifest before and after."""
        requested = self.numerics["requested"]
        if any(requested.values()) and self.device.type != "cuda":
            self.progress.print(f"NOTE: numerics {requested} apply on CUDA only; running in fp32 on "
                                f"{self.device}")
        self.run_id = uuid.uuid4().hex
        with self.store.lock(), tf32_scope(self.numerics["tf32"]):
            runs = self.store.manifest().get("runs", [])
            env = environment(self.device)
            self._load_datasets()
            worker = self.worker = CellWorker(
                self.suite, self.data, device=self.device, numerics=self.numerics, cache=self.cache,
                force=self.force, progress=self.progress, executor="local", git_commit=env["git_commit"])
            current: dict[str, Any] = {"started": now(), "device": str(self.device),
                                       "git_commit": env["git_commit"], "numerics": self.numerics,
                                       "executor": self.executor.describe()}
            cells = [Task(c.kind, group.id, i, worker.cell_key(group, c))
                     for group in list(worker.groups.values())
                     for kind in ("compressor", "attack")
                     for i, c in enumerate(worker.components(kind))
                     if c.applies_to(group.target.model.label)]
            keys = [task.key for task in cells]
            self._write_manifest(env, [*runs, current], keys)
            pending = [task for task in cells if self.force or not self._done(task.key)]
            self.summary.skipped = len(cells) - len(pending)
            try:
                with self.progress.task("cells", total=len(cells), transient=False) as advance:
                    advance(self.summary.skipped, "")
                    self._execute(self._target_tasks(pending), lambda: None)
                    for kind in ("compressor", "attack"):
                        self._execute([t for t in pending if t.kind == kind], lambda: advance(1, ""))
            finally:
                current.update(finished=now(), computed=self.summary.computed,
                               skipped=self.summary.skipped, failed=len(self.summary.failed),
                               stage_seconds={k: round(v, 2)
                                              for k, v in self.summary.stage_seconds.items()})
                self._write_manifest(env, [*runs, current], keys)
        return self.summary

    def _load_datasets(self) -> None:
        for index, dataset in enumerate(self.suite.datasets):
            try:
                with timed(self.summary.stage_seconds, "data"):
                    data = DATASETS.get(dataset.name)(**dataset.params)
            except InnrBenchError as error:  # say which suite entry asked for the data
                raise type(error)(f"{self.suite.path}: datasets[{index}]: {error}") from None
            if data.warning:
                self.progress.print(f"WARNING: {data.warning}")
            self.data[dataset.label] = data

    def _write_manifest(self, env: dict[str, Any], runs: list[dict[str, Any]], keys: list[str]) -> None:
        self.store.write_manifest({
            "suite": self.suite.to_dict(), "environment": env,
            "datasets": {label: dataset_info(data) for label, data in self.data.items()},
            "cells": keys,  # reports show these; records of earlier suite versions stay on disk
            "runs": runs,
        })

    def _done(self, key: str) -> bool:
        existing = self.store.get(key)
        return existing is not None and existing.get("status") == "ok"

    def _target_tasks(self, pending: list[Task]) -> list[Task]:
        """Targets the pending cells need that are not trained yet (all of them under --force)."""
        assert self.worker is not None
        needed: dict[GroupId, TargetGroup] = {}  # in first-needed order
        for task in pending:
            group = self.worker.group(task.group)
            needed[group.id] = group
            if task.kind == "attack" and self.suite.eval.control:
                control = self.worker.control(group)
                needed[control.id] = control
        return [Task("target", gid) for gid, group in needed.items()
                if self.force or not self.cache.has("targets", group.key)]

    def _execute(self, tasks: list[Task], advance: Any) -> None:
        """Hand `tasks` to the executor and keep each result as it arrives."""
        for result in self.executor.run(self, tasks):
            self._keep(result)
            if result.record is not None:
                advance()

    def _keep(self, result: TaskResult) -> None:
        for entry in result.entries:
            self.cache.write_entry(entry)
        self._fresh.update((e.kind, e.key) for e in result.entries)
        for name, seconds in result.stage_seconds.items():
            self.summary.stage_seconds[name] += seconds
        for message in result.messages:
            self.progress.print(message)
        record = result.record
        if record is None:
            return
        if record["status"] != "ok":
            self.summary.failed.append(record)
        self.store.put(record)
        self.summary.computed += 1
        self.progress.print(_summary_line(record))

    def shippable(self, task: Task) -> list[Any]:
        """The cache entries a task on another machine may read (under --force only those this
        run wrote, so nothing from before is reused)."""
        assert self.worker is not None
        entries = []
        for kind, key in self.worker.inputs(task):
            if self.force and (kind, key) not in self._fresh:
                continue
            entry = self.cache.read_entry(kind, key)
            if entry is not None:
                entries.append(entry)
        return entries


def _summary_line(record: dict[str, Any]) -> str:
    where = f"{record['dataset']['label']} / {record['target']['label']} / seed {record['seed']}"
    kind = record["kind"]
    name = record[kind]["label"]
    if record["status"] != "ok":
        return f"FAILED {kind} {where} / {name}: {record['error']}"
    if kind == "compressor":
        return (f"done {where} / {name}: accuracy {record['accuracy']:.4f} "
                f"({100 * record['delta']:+.2f} pt), {record['size_bytes']:,} B "
                f"(ratio {record['ratio']:.3f}), {record['wall_seconds']:.1f} s")
    worst = min(r["accuracy"] for r in record["transfer"])
    return (f"done {where} / {name}: {len(record['nets'])} nets, lowest accuracy under attack "
            f"{worst:.4f}, {record['wall_seconds']:.1f} s")
