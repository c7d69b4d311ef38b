"""Tasks as Ray tasks, on a local Ray instance or on a cluster given by its address.

The executor ships each task the cache entries it reads (a target is ~0.25-1 MB) and the worker
spec (suite, data sets) once through Ray's object store, so workers need no shared file system
(their own cache lives in memory and goes with them); they return records and the entries they
wrote, which the caller keeps in its own cache and result store."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

import innr_bench
from innr_bench.engine.cache import CacheEntry, TensorCache
from innr_bench.engine.env import fingerprint
from innr_bench.engine.executors.base import WorkerSpec
from innr_bench.engine.plan import Plan, Task
from innr_bench.engine.results import TaskResult
from innr_bench.engine.worker import CellWorker
from innr_bench.errors import ConfigError, InnrBenchError, MissingExtraError
from innr_bench.numerics import applied
from innr_bench.plugins import load_plugins, remote_modules
from innr_bench.progress import Progress, RecordedProgress

try:
    import ray
except ImportError as error:  # pragma: no cover - depends on the environment
    raise MissingExtraError(
        "the ray executor needs Ray: pip install 'innr-bench[ray]' (or use --executor local)"
    ) from error

SHARED_GPU_CELLS = 4  # cells that share one GPU when --gpus-per-cell is not given
SCHEDULES = ("dependencies", "waves")


class Dependencies:
    """Which tasks may start: those whose inputs made by other tasks of the run are made (a
    failed task counts as done: its dependents run and record what they find). With `waves`,
    a kind starts only when every task of the kinds before it is done."""

    KINDS = ("target", "compressor", "attack")

    def __init__(self, plan: Plan, tasks: list[Task], *, waves: bool = False) -> None:
        self.plan, self.waves = plan, waves
        makers = {entry: task for task in tasks for entry in plan.outputs(task)}
        self.needs = {task: {e for e in plan.inputs(task) if e in makers and makers[e] != task}
                      for task in tasks}
        self.left = list(tasks)  # not yet started, in the caller's order
        self.running: set[Task] = set()

    def ready(self, room: int) -> list[Task]:
        """Up to `room` tasks that may start now (removed from `left`)."""
        busy = {t.kind for t in self.left} | {t.kind for t in self.running}
        first = next((k for k in self.KINDS if k in busy), None)
        chosen = [t for t in self.left
                  if not self.needs[t] and (not self.waves or t.kind == first)][:max(room, 0)]
        for task in chosen:
            self.left.remove(task)
            self.running.add(task)
        return chosen

    def finished(self, task: Task) -> None:
        self.running.discard(task)
        made = set(self.plan.outputs(task))
        for other in self.left:
            self.needs[other] -= made


class RayExecutor:
    """Each task is a Ray task with `cpus_per_cell` CPUs and `gpus_per_cell` GPUs (fractions
    let several cells share one GPU); results come back as they finish."""

    name = "ray"

    def __init__(self, *, address: str | None = None, cpus_per_cell: float = 1.0,
                 gpus_per_cell: float | None = None, num_cpus: int | None = None,
                 schedule: str = "dependencies") -> None:
        if schedule not in SCHEDULES:
            raise ConfigError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
        self.schedule = schedule
        if cpus_per_cell <= 0:
            raise ConfigError(f"--cpus-per-cell must be > 0, got {cpus_per_cell}")
        if gpus_per_cell is not None and not 0 <= gpus_per_cell <= 1:
            raise ConfigError(f"--gpus-per-cell must be in [0, 1], got {gpus_per_cell}")
        self.address = address
        self.cpus_per_cell = cpus_per_cell
        self.gpus_per_cell = gpus_per_cell
        self._started = False
        if not ray.is_initialized():
            try:
                ray.init(address=address, num_cpus=None if address else num_cpus,
                         include_dashboard=False, log_to_driver=True)
            except (ConnectionError, ValueError, RuntimeError) as error:
                raise ConfigError(f"cannot connect to Ray at {address!r}: {error}. Pass the head "
                                  "node's address (ray start --head prints it) or leave --address "
                                  "out to start a local Ray instance") from error
            self._started = True
        self._spec: tuple[str, Any] | None = None  # (the run id, its spec's object ref)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "address": self.address or "local instance", "ray": ray.__version__,
                "resources": ray.cluster_resources(), "cpus_per_cell": self.cpus_per_cell,
                "gpus_per_cell": self.gpus_per_cell, "schedule": self.schedule}

    def close(self) -> None:
        """Stop the Ray instance this executor started (a cluster it joined keeps running)."""
        if self._started and ray.is_initialized():
            ray.shutdown()
        self._started = False

    def device(self, request: str) -> torch.device:
        """CUDA when the cluster has GPUs and the request allows them, else the CPU; decided here
        once, so the driver's keys match what the workers compute, whatever the driver has."""
        gpus = ray.cluster_resources().get("GPU", 0)
        if request == "cuda" and not gpus:
            raise ConfigError("device 'cuda' was requested but the Ray cluster has no GPUs; use "
                              "--device auto or cpu, or add GPU nodes")
        use_gpu = request != "cpu" and gpus > 0 and self.gpus_per_cell != 0
        return torch.device("cuda" if use_gpu else "cpu")

    def environment(self, device: torch.device) -> dict[str, Any]:
        """Measured on a worker with this executor's CPUs (and GPU share): where tasks run."""
        gpus = gpu_share(self.gpus_per_cell, device)
        probe = ray.remote(_probe).options(num_cpus=self.cpus_per_cell, num_gpus=gpus)
        return ray.get(probe.remote(device.type, self.threads))

    @property
    def threads(self) -> int:
        return max(1, int(self.cpus_per_cell))

    def run(self, spec: WorkerSpec, tasks: list[Task], cache: TensorCache,
            progress: Progress, plan: Plan | None = None) -> Iterator[TaskResult]:
        """Start each task as soon as the cache entries it reads that other tasks of `tasks` make
        exist (`schedule="dependencies"`), or kind by kind with a barrier between (`"waves"`:
        targets, then compressor cells, then attack cells)."""
        if not tasks:
            return
        if self._spec is None or self._spec[0] != spec.run_id:
            remote_modules(spec.modules)
            # the ref travels inside a list so Ray does not fetch the data for every task
            self._spec = (spec.run_id, ray.put(spec))
            self._plan = plan or Plan(spec.suite, spec.datasets, spec.environment)
            self._fresh: set[tuple[str, str]] = set()  # entries workers sent back this run
        spec_ref = self._spec[1]
        gpus = gpu_share(self.gpus_per_cell, torch.device(spec.device))
        remote = ray.remote(_execute).options(num_cpus=self.cpus_per_cell, num_gpus=gpus)
        cpus = ray.cluster_resources().get("CPU", 1)
        window = max(2, int(2 * cpus / self.cpus_per_cell))  # enough queued to keep workers fed
        waiting = Dependencies(self._plan, tasks, waves=self.schedule == "waves")
        in_flight: dict[Any, Task] = {}
        try:
            while waiting.left or in_flight:
                for task in waiting.ready(window - len(in_flight)):
                    entries = self._shippable(spec, task, cache)
                    in_flight[remote.remote(spec.run_id, [spec_ref], self.threads, task, entries)] = task
                if not in_flight:
                    raise RuntimeError(f"{len(waiting.left)} tasks wait on entries no task makes")
                done, _ = ray.wait(list(in_flight), num_returns=1)
                task = in_flight.pop(done[0])
                result = _result(done[0])
                self._fresh.update((e.kind, e.key) for e in result.entries)
                yield result  # the caller keeps the entries in `cache` before this resumes
                waiting.finished(task)
        finally:
            for ref in in_flight:
                ray.cancel(ref)

    def _shippable(self, spec: WorkerSpec, task: Task, cache: TensorCache) -> list[CacheEntry]:
        """The cache entries a task may read (under force only those this run produced, so
        nothing from before is reused)."""
        entries = []
        for kind, key in self._plan.inputs(task):
            if spec.force and (kind, key) not in self._fresh:
                continue
            entry = cache.read_entry(kind, key)
            if entry is not None:
                entries.append(entry)
        return entries


def gpu_share(requested: float | None, device: torch.device) -> float:
    """Each task's share of a GPU: none on the CPU, else as requested or 1/SHARED_GPU_CELLS."""
    if device.type != "cuda":
        return 0.0
    return 1 / SHARED_GPU_CELLS if requested is None else requested


def _result(ref: Any) -> TaskResult:
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as error:
        cause = getattr(error, "cause", None)
        if isinstance(cause, InnrBenchError):
            raise cause from None
        raise


# -- worker side ---------------------------------------------------------------------------

_WORKERS: dict[str, CellWorker] = {}


def _probe(device: str, threads: int) -> dict[str, Any]:
    """The environment a Ray task sees (run on a worker)."""
    torch.set_num_threads(threads)
    return fingerprint(torch.device(device))


def _execute(spec_id: str, holder: list[Any], threads: int, task: Task,
             entries: list[CacheEntry]) -> TaskResult:
    """A Ray task: one task on this worker's CellWorker (built once per run and process)."""
    worker = _WORKERS.get(spec_id)
    if worker is None:
        worker = _build_worker(ray.get(holder[0]), threads)
        _WORKERS.clear()  # one run at a time per process
        _WORKERS[spec_id] = worker
    for entry in entries:  # under --force only what this run made is shipped: it replaces older copies
        if worker.ctx.force or not worker.cache.has(entry.kind, entry.key):
            worker.cache.write_entry(entry)
    worker.copies.made.update(entry.key for entry in entries if entry.kind == "compressed")
    with applied(worker.numerics):
        result = worker.execute(task)
    if result.record is not None:  # which node of the cluster computed it
        result.record["worker"]["node"] = ray.get_runtime_context().get_node_id()[:12]
    return result


def _build_worker(spec: WorkerSpec, threads: int) -> CellWorker:
    if spec.version != innr_bench.__version__:
        raise ConfigError(f"this Ray worker has innr-bench {innr_bench.__version__}, the driver "
                          f"{spec.version}; install the same version on every node")
    load_plugins(spec.modules, where="this Ray worker")
    torch.set_num_threads(threads)
    if spec.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("this Ray worker was given a GPU share but sees no CUDA device; check "
                          "the node's driver or run with --device cpu")
    here = fingerprint(torch.device(spec.device))
    expected = {k: v for k, v in spec.environment.items() if k != "numerics"}
    if here != expected:  # the keys say which environment made a number: they must be true
        raise ConfigError(f"this Ray worker's environment {here} is not the run's {expected}; give "
                          "every node the same torch and hardware, or run one suite per kind of node")
    plan = Plan(spec.suite, spec.datasets, spec.environment)
    return CellWorker(plan, device=torch.device(spec.device), numerics=spec.numerics,
                      cache=TensorCache.in_memory(), progress=RecordedProgress(),
                      executor="ray", git_commit=spec.git_commit,
                      keep_freed_memory=spec.keep_freed_memory)
