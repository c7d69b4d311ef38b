"""The cell worker: one task of a plan at a time, against a tensor cache, returning records (never
writing them) and the cache entries it wrote."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from innr_bench.compress.base import Compressed
from innr_bench.compress.serialize import payload_bytes_of, to_bytes
from innr_bench.config import Suite, load_suite
from innr_bench.data.datasets import synthetic
from innr_bench.engine.cache import TensorCache
from innr_bench.engine.plan import Plan, Task
from innr_bench.engine.records import validated
from innr_bench.engine.worker import CellWorker
from innr_bench.progress import RecordedProgress
from innr_bench.registry import COMPRESSORS

NUMERICS = {"tf32": False, "amp": False}


@pytest.fixture(scope="module")
def smoke(repo_root: Path) -> Suite:
    return load_suite(repo_root / "suites" / "smoke.yaml")


def _worker(suite: Suite, cache: TensorCache) -> tuple[Plan, CellWorker]:
    plan = Plan(suite, {suite.datasets[0].label: synthetic(n_train=512, n_test=256)}, {"device": "cpu"})
    return plan, CellWorker(plan, device=torch.device("cpu"), numerics=NUMERICS, cache=cache,
                            progress=RecordedProgress(), git_commit="abc123")


def _cell(plan: Plan, label: str, seed: int = 0) -> Task:
    return next(t for t in plan.cells() if t.kind == "compressor" and t.group[2] == seed
                and plan.components("compressor")[t.index].label == label)


def test_a_target_task_trains_once_and_returns_its_cache_entry_not_a_record(smoke: Suite) -> None:
    cache = TensorCache.in_memory()
    plan, worker = _worker(smoke, cache)
    group = plan.targets_for(plan.cells())[0]
    result = worker.execute(Task("target", group.id))
    assert result.record is None and result.stage_seconds.get("train", 0) > 0
    assert [(e.kind, e.key) for e in result.entries] == [("targets", group.key)]
    assert any(m.startswith("trained seed-cnn[c=4] seed 0") for m in result.messages)
    # a second worker on the same cache loads the target instead of training it
    _, again = _worker(smoke, cache)
    rerun = again.execute(Task("target", group.id))
    assert rerun.entries == [] and "train" not in rerun.stage_seconds


def test_a_compressor_cell_record_fits_the_schema_and_counts_the_serialized_bytes(smoke: Suite) -> None:
    cache = TensorCache.in_memory()
    plan, worker = _worker(smoke, cache)
    task = _cell(plan, "ptq-int4")
    record = worker.execute(task).record
    assert record is not None and record["status"] == "ok"
    assert validated(record) == {**record}  # written in today's schema: nothing to upgrade
    assert record["key"] == task.key and record["git_commit"] == "abc123"
    assert record["environment"] == {"device": "cpu"} and record["worker"]["executor"] == "local"
    group = plan.group(task.group)
    key = plan.copy_key(group, plan.components("compressor")[task.index])
    tensors, meta = cache.load("compressed", key)
    blob = to_bytes(Compressed("quantize", tensors, meta["meta"], meta["size_bytes"], meta["info"]))
    assert record["size_bytes"] == payload_bytes_of(blob) < record["fp32_bytes"]
    assert 0.0 <= record["accuracy"] <= 1.0 and record["delta"] == pytest.approx(
        record["accuracy"] - record["target_accuracy"])


def test_a_failing_compressor_is_a_failed_record_and_the_next_cell_still_runs(
    smoke: Suite, monkeypatch: pytest.MonkeyPatch
) -> None:
    quantize = COMPRESSORS.get("quantize")

    def broken(self: object, *args: object, **kwargs: object) -> object:
        raise RuntimeError("planted failure")

    monkeypatch.setattr(quantize, "encode", broken)
    plan, worker = _worker(smoke, TensorCache.in_memory())
    failed = worker.execute(_cell(plan, "ptq-int4")).record
    assert failed is not None and failed["status"] == "failed"
    assert failed["error"] == "RuntimeError: planted failure" and "planted failure" in failed["traceback"]
    assert validated(failed)["status"] == "failed"
    fine = worker.execute(_cell(plan, "identity")).record
    assert fine is not None and fine["status"] == "ok" and fine["accuracy"] == fine["target_accuracy"]
