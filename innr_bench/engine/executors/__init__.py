"""Where a suite's tasks run: `local` (in this process, the default) or `ray` (a Ray cluster)."""

from __future__ import annotations

from innr_bench.engine.executors.base import Executor
from innr_bench.engine.executors.local import LocalExecutor

EXECUTORS = ("local", "ray")


def make_executor(
    name: str, *, address: str | None = None, cpus_per_cell: float = 1.0,
    gpus_per_cell: float | None = None, num_cpus: int | None = None, schedule: str = "dependencies",
) -> Executor:
    """The executor called `name`; `ray` needs the optional extra (`pip install 'innr-bench[ray]'`)."""
    if name == "local":
        return LocalExecutor()
    if name == "ray":
        from innr_bench.engine.executors.ray_cluster import RayExecutor

        return RayExecutor(address=address, cpus_per_cell=cpus_per_cell, gpus_per_cell=gpus_per_cell,
                           num_cpus=num_cpus, schedule=schedule)
    raise ValueError(f"unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}")


__all__ = ["EXECUTORS", "Executor", "LocalExecutor", "make_executor"]
