"""Tasks as Ray tasks, on a local Ray instance or on a cluster given by its address.

The runner ships each task the cache entries it reads (a target is ~0.25-1 MB) and the data sets
once through Ray's object store, so workers need no shared file system (their own cache lives in
memory and goes with them); they return records and the entries they wrote, which the runner
keeps in its own cache and result store."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

import innr_bench
from innr_bench.cache import CacheEntry, MemoryCache
from innr_bench.cells import CellWorker, Task, TaskResult
from innr_bench.config import Suite
from innr_bench.data import Dataset
from innr_bench.errors import ConfigError, InnrBenchError, MissingExtraError
from innr_bench.numerics import tf32_scope
from innr_bench.progress import RecordedProgress
from innr_bench.registry import ATTACKS, COMPRESSORS, DATASETS, MODELS

try:
    import ray
except ImportError as error:  # pragma: no cover - depends on the environment
    raise MissingExtraError(
        "the ray executor needs Ray: pip install 'innr-bench[ray]' (or use --executor local)"
    ) from error

if TYPE_CHECKING:
    from innr_bench.runner import Runner

SHARED_GPU_CELLS = 4  # cells that share one GPU when --gpus-per-cell is not given


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a Ray worker needs to build its CellWorker; put in the object store once."""

    suite: Suite
    datasets: dict[str, Dataset]
    device: str  # cpu or cuda, as the driver decided for the whole run
    numerics: dict[str, Any]  # what applies there; it is part of the keys, so workers take it as is
    git_commit: str | None
    version: str
    modules: tuple[str, ...]  # modules that register the suite's components (imported first)
    threads: int


class RayExecutor:
    """Each task is a Ray task with `cpus_per_cell` CPUs and `gpus_per_cell` GPUs (fractions
    let several cells share one GPU); results come back as they finish."""

    name = "ray"

    def __init__(self, *, address: str | None = None, cpus_per_cell: float = 1.0,
                 gpus_per_cell: float | None = None, num_cpus: int | None = None) -> None:
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
        self._spec: tuple[str, Any] | None = None  # (the runner's run id, its spec's object ref)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "address": self.address or "local instance", "ray": ray.__version__,
                "resources": ray.cluster_resources(), "cpus_per_cell": self.cpus_per_cell,
                "gpus_per_cell": self.gpus_per_cell}

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

    def _spec_ref(self, runner: Runner) -> tuple[str, Any]:
        if self._spec is None or self._spec[0] != runner.run_id:
            assert runner.worker is not None
            spec = WorkerSpec(runner.suite, runner.data, runner.device.type, runner.numerics,
                              runner.worker.git_commit, innr_bench.__version__,
                              _plugin_modules(runner.suite), max(1, int(self.cpus_per_cell)))
            self._spec = (runner.run_id, ray.put(spec))
        return self._spec

    def run(self, runner: Runner, tasks: list[Task]) -> Iterator[TaskResult]:
        if not tasks:
            return
        spec_id, spec_ref = self._spec_ref(runner)
        gpus = gpu_share(self.gpus_per_cell, runner.device)
        remote = ray.remote(_execute).options(num_cpus=self.cpus_per_cell, num_gpus=gpus)
        cpus = ray.cluster_resources().get("CPU", 1)
        window = max(2, int(2 * cpus / self.cpus_per_cell))  # enough queued to keep workers fed
        queue = list(reversed(tasks))
        in_flight: list[Any] = []
        try:
            while queue or in_flight:
                while queue and len(in_flight) < window:
                    task = queue.pop()
                    # the ref travels inside a list so Ray does not fetch the data for every task
                    in_flight.append(remote.remote(spec_id, [spec_ref], task, runner.shippable(task)))
                done, in_flight = ray.wait(in_flight, num_returns=1)
                yield _result(done[0])
        finally:
            for ref in in_flight:
                ray.cancel(ref)


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


def _plugin_modules(suite: Suite) -> tuple[str, ...]:
    """Modules outside innr_bench that register components the suite uses."""
    used = [(DATASETS, c.name) for c in suite.datasets] + [(MODELS, t.model.name) for t in suite.targets]
    used += [(COMPRESSORS, c.name) for c in suite.compressors] + [(ATTACKS, c.name) for c in suite.attacks]
    modules = {registry.entry(name).factory.__module__ for registry, name in used}
    if "__main__" in modules:
        raise ConfigError("a component of this suite is registered in __main__, which Ray workers "
                          "cannot import; move its decorated builder into an importable module")
    return tuple(sorted(m for m in modules if not m.startswith("innr_bench")))


# -- worker side ---------------------------------------------------------------------------

_WORKERS: dict[str, CellWorker] = {}


def _execute(spec_id: str, holder: list[Any], task: Task, entries: list[CacheEntry]) -> TaskResult:
    """A Ray task: one task on this worker's CellWorker (built once per run and process)."""
    worker = _WORKERS.get(spec_id)
    if worker is None:
        worker = _build_worker(ray.get(holder[0]))
        _WORKERS.clear()  # one run at a time per process
        _WORKERS[spec_id] = worker
    for entry in entries:
        if not worker.cache.has(entry.kind, entry.key):
            worker.cache.write_entry(entry)
    with tf32_scope(worker.numerics["tf32"]):
        return worker.execute(task)


def _build_worker(spec: WorkerSpec) -> CellWorker:
    import importlib

    if spec.version != innr_bench.__version__:
        raise ConfigError(f"this Ray worker has innr-bench {innr_bench.__version__}, the driver "
                          f"{spec.version}; install the same version on every node")
    for module in spec.modules:
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise ConfigError(f"Ray worker cannot import {module!r}, which registers a component of "
                              f"this suite ({error}); install it on every node") from error
    torch.set_num_threads(spec.threads)
    if spec.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("this Ray worker was given a GPU share but sees no CUDA device; check "
                          "the node's driver or run with --device cpu")
    return CellWorker(spec.suite, spec.datasets, device=torch.device(spec.device),
                      numerics=spec.numerics, cache=MemoryCache(),
                      progress=RecordedProgress(), executor="ray", git_commit=spec.git_commit,
                      ship_entries=True)
