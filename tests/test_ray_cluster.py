"""The smoke suite on a simulated multi-node Ray cluster (a head and two worker nodes, each its
own raylet, on this machine) gives exactly the local run's numbers. Slow: `pytest -m slow`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from innr_bench.config import load_suite
from innr_bench.engine.cache import TensorCache
from innr_bench.engine.runner import Runner

ray = pytest.importorskip("ray")
NUMBERS = ("accuracy", "target_accuracy", "agreement", "size_bytes", "ratio", "weight_error", "transfer",
           "inheritance")


@pytest.fixture
def cluster() -> Iterator[Any]:
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()  # another test module's local instance
    simulated = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    for _ in range(2):
        simulated.add_node(num_cpus=1)
    simulated.wait_for_nodes()
    yield simulated
    if ray.is_initialized():
        ray.shutdown()
    simulated.shutdown()


def _numbers(root: Path) -> dict[str, dict[str, Any]]:
    records = [json.loads(p.read_text()) for p in (root / "records").glob("*.json")]
    return {r["key"]: {field: r.get(field) for field in (*NUMBERS, "status")} for r in records}


@pytest.mark.slow
def test_a_three_node_cluster_gives_the_local_numbers(repo_root: Path, tmp_path: Path, cluster: Any) -> None:
    from innr_bench.engine.executors import make_executor

    smoke = load_suite(repo_root / "suites" / "smoke.yaml")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a Ray cell gets one CPU and one thread: the reference must match
    try:
        local = Runner(smoke, out_dir=tmp_path / "local", device="cpu",
                       cache=TensorCache(tmp_path / "local-cache")).run()
    finally:
        torch.set_num_threads(threads)
    executor = make_executor("ray", address=cluster.address)
    try:
        assert len([n for n in ray.nodes() if n["Alive"]]) == 3
        remote = Runner(smoke, out_dir=tmp_path / "ray", device="cpu",
                        cache=TensorCache(tmp_path / "ray-cache"),
                        executor=executor).run()
    finally:
        executor.close()
    assert local.failed == [] and remote.failed == [] and remote.computed == local.computed == 14
    assert _numbers(tmp_path / "ray" / "smoke") == _numbers(tmp_path / "local" / "smoke")
    records = [json.loads(p.read_text()) for p in (tmp_path / "ray" / "smoke" / "records").glob("*.json")]
    assert len({r["worker"]["node"] for r in records}) >= 2  # the cells ran on more than one node
