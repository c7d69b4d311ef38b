"""Plan a suite, hand the missing tasks to an executor, store one record per cell.

Reuse is decided by key, and keys include the environment (torch, device kind and name, CPU
threads, numerics): a cell computed elsewhere is recomputed here unless `reuse="any"` asks to
take a finished record of the same cell (same component, target, data and seed) from any
environment."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import innr_bench
from innr_bench.config import Suite
from innr_bench.data.datasets import Dataset
from innr_bench.engine import memory
from innr_bench.engine.cache import TensorCache
from innr_bench.engine.env import check_publishable, environment, uncommitted
from innr_bench.engine.executors import Executor, LocalExecutor
from innr_bench.engine.executors.base import WorkerSpec
from innr_bench.engine.plan import Plan, Task
from innr_bench.engine.records import signature
from innr_bench.engine.results import TaskResult, dataset_info, now, timed
from innr_bench.engine.store import ResultStore
from innr_bench.errors import ConfigError, InnrBenchError
from innr_bench.numerics import applied, effective
from innr_bench.plugins import plugin_modules
from innr_bench.progress import Progress
from innr_bench.registry import DATASETS

REUSE = ("environment", "any")


@dataclass
class RunSummary:
    """What one invocation did."""

    out_dir: Path
    computed: int = 0
    skipped: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))


class Runner:
    """Runs a suite into `out_dir/<suite name>`, reusing every finished cell of this environment
    unless `force` (and of any environment with `reuse="any"`).

    The work (targets to train, compressor cells, attack cells) goes to the executor in one list,
    targets first; the executor decides where and when each task runs (the local one in order,
    Ray's as soon as the target and copies a task reads exist), and every result comes back here
    to the one result store, so a suite's records are one set whichever executors computed them."""

    def __init__(
        self,
        suite: Suite,
        *,
        out_dir: Path,
        device: str | None = None,
        force: bool = False,
        reuse: str = "environment",
        progress: Progress | None = None,
        cache: TensorCache | None = None,
        executor: Executor | None = None,
        allow_dirty: bool = False,
    ) -> None:
        if reuse not in REUSE:
            raise ConfigError(f"reuse must be one of {', '.join(REUSE)}, got {reuse!r}")
        self.suite = suite
        self.executor = executor or LocalExecutor()
        # where the cells run (for Ray: on the cluster's workers, not necessarily this machine);
        # it decides which numerics apply and so enters the keys
        self.device = self.executor.device(device or suite.device)
        self.numerics = effective(suite.numerics, self.device)
        self.force = force
        self.reuse = reuse
        self.progress = progress or Progress(enabled=False)
        self.cache = cache or TensorCache()
        self.store = ResultStore(Path(out_dir) / suite.name)
        self.summary = RunSummary(self.store.root)
        self.data: dict[str, Dataset] = {}
        self.plan: Plan | None = None
        self.allow_dirty = allow_dirty
        # this run's manifest (environment, runs, cell keys), written before its first new record
        self._run_manifest: tuple[dict[str, Any], list[dict[str, Any]], list[str]] | None = None

    def environment(self) -> dict[str, Any]:
        """What enters every key: the executor's environment plus the numerics options that apply."""
        reduced = {k: True for k in ("tf32", "amp", "deterministic") if self.numerics.get(k)}
        return {**self.executor.environment(self.device), **({"numerics": reduced} if reduced else {})}

    def run(self) -> RunSummary:
        """Compute every missing cell. The manifest (the suite, its cells, the runs) is written
        just before the first new record, and again at the end; a run that fails before computing
        anything leaves it, and so every leaderboard `report` writes, as it was."""
        requested = self.numerics["requested"]
        if any(requested.values()) and self.device.type != "cuda":
            self.progress.print(f"NOTE: numerics {requested} apply on CUDA only; running in fp32 on "
                                f"{self.device}")
        with self.store.lock(), applied(self.numerics):
            runs = self.store.manifest().get("runs", [])
            env = environment(self.device)
            publishing = check_publishable(self.store.root, env["git_commit"], allow_dirty=self.allow_dirty)
            self._load_datasets()
            plan = self.plan = Plan(self.suite, self.data, self.environment())
            spec = WorkerSpec(uuid.uuid4().hex, self.suite, self.data, self.device.type, self.numerics,
                              plan.environment, env["git_commit"], innr_bench.__version__,
                              plugin_modules(self.suite), self.force,
                              keep_freed_memory=memory.wanted())
            current: dict[str, Any] = {"started": now(), "device": str(self.device),
                                       "environment": plan.environment, "reuse": self.reuse,
                                       "git_commit": env["git_commit"], "numerics": self.numerics,
                                       "executor": self.executor.describe(),
                                       **({"published_from_uncommitted_code": True}
                                          if publishing and uncommitted(env["git_commit"])
                                          else {})}
            cells = plan.cells()
            reused = self._reusable(cells)
            keys = [reused.get(task.key, task.key) for task in cells]
            self._run_manifest = (env, [*runs, current], keys)
            pending = [task for task in cells if task.key not in reused]
            self.summary.skipped = len(cells) - len(pending)
            try:
                with self.progress.task("cells", total=len(cells), transient=False) as advance:
                    advance(self.summary.skipped, "")
                    targets = [Task("target", g.id) for g in plan.targets_for(pending)
                               if self.force or not self.cache.has("targets", g.key)]
                    # in the order a wave schedule would take them: targets, copies, attacks; an
                    # executor may start each as soon as what it reads exists (plan.inputs)
                    ordered = [*targets, *(t for kind in ("compressor", "attack") for t in pending
                                           if t.kind == kind)]
                    self._execute(spec, ordered, lambda: advance(1, ""))
            except BaseException as error:
                # a failure before any new record changes nothing on disk; after one, the
                # manifest says what was computed and how the run ended
                current["error"] = type(error).__name__ + (f": {error}" if str(error) else "")
                raise
            finally:
                current.update(finished=now(), computed=self.summary.computed,
                               skipped=self.summary.skipped, failed=len(self.summary.failed),
                               stage_seconds={k: round(v, 2)
                                              for k, v in self.summary.stage_seconds.items()})
                if self.summary.computed or "error" not in current:
                    self._write_manifest(*self._run_manifest)
        return self.summary

    def _reusable(self, cells: list[Task]) -> dict[str, str]:
        """Finished records to reuse: task key -> the key of the record that stands for it."""
        if self.force:
            return {}
        assert self.plan is not None
        reused = {t.key: t.key for t in cells if self._done(t, self.store.get(t.key))}
        if self.reuse == "any":
            by_signature = {signature(r): r for r in self.store.records(current_only=False)
                            if r.get("status") == "ok"}
            for task in cells:
                found = by_signature.get(self.plan.signature(task))
                if (task.key not in reused and found is not None and found["key"] != task.key
                        and self._done(task, found)):
                    reused[task.key] = found["key"]
        return reused

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

    def _done(self, task: Task, record: dict[str, Any] | None) -> bool:
        """Whether `record` is a finished record `task` can stand on as it is."""
        if record is None or record.get("status") != "ok":
            return False
        assert self.plan is not None
        if not self.plan.names_its_nets(task, record):
            self.progress.print(f"NOTE: recomputing {record['attack']['label']} on "
                                f"{record['target']['label']} seed {record['seed']}: its record names the "
                                "copies it attacked by labels the suite no longer has")
            return False
        return True

    def _execute(self, spec: WorkerSpec, tasks: list[Task], advance: Any) -> None:
        """Hand `tasks` to the executor and keep each result as it arrives."""
        for result in self.executor.run(spec, tasks, self.cache, self.progress, self.plan):
            self._keep(result)
            if result.record is not None:
                advance()

    def _keep(self, result: TaskResult) -> None:
        for entry in result.entries:  # what a remote worker wrote: keep it here too
            self.cache.write_entry(entry)
        for name, seconds in result.stage_seconds.items():
            self.summary.stage_seconds[name] += seconds
        for message in result.messages:
            self.progress.print(message)
        record = result.record
        if record is None:
            return
        if record["status"] != "ok":
            self.summary.failed.append(record)
        if not self.summary.computed and self._run_manifest:  # the first new record: from here on
            self._write_manifest(*self._run_manifest)  # the manifest describes this run
        self.store.put(record)
        self.summary.computed += 1
        self.progress.print(_summary_line(record))


def _summary_line(record: dict[str, Any]) -> str:
    where = f"{record['dataset']['label']} / {record['target']['label']} / seed {record['seed']}"
    kind = record["kind"]
    name = record[kind]["label"]
    if record["status"] != "ok":
        return f"FAILED {kind} {where} / {name}: {record['error']}"
    if kind == "compressor":
        flags = "".join(f"; DEGRADED: {reason}" for reason in record.get("degraded", []))
        return (f"done {where} / {name}: accuracy {record['accuracy']:.4f} "
                f"({100 * record['delta']:+.2f} pt), {record['size_bytes']:,} B "
                f"(ratio {record['ratio']:.3f}), {record['wall_seconds']:.1f} s{flags}")
    accuracies = [r["accuracy"] for r in record["transfer"]] or [
        r["whitebox_accuracy"] for r in record.get("inheritance", [])]
    copies = f", {record['copies']} copies on the inheritance board" if record.get("copies") else ""
    return (f"done {where} / {name}: {len(record['nets'])} nets in the matrix{copies}, lowest accuracy "
            f"under attack {min(accuracies, default=float('nan')):.4f}, {record['wall_seconds']:.1f} s")
