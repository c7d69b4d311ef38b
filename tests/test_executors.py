"""The ray executor gives the local executor's numbers, and both feed one result store."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from innr_bench.cli import main
from innr_bench.config import Suite, load_suite
from innr_bench.engine.cache import TensorCache
from innr_bench.engine.runner import Runner

ray = pytest.importorskip("ray")

NUMBERS = ("accuracy", "target_accuracy", "agreement", "size_bytes", "ratio", "weight_error", "transfer")


@pytest.fixture(scope="module")
def ray_executor() -> Iterator[Any]:
    from innr_bench.engine.executors import make_executor

    executor = make_executor("ray", num_cpus=2)  # a local 2-CPU Ray instance, as on this machine
    yield executor
    executor.close()


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Ray gives each cell one CPU and one torch thread; the local reference must match, since
    fits of thousands of steps round differently with another thread count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _numbers(results: Path) -> dict[str, dict[str, Any]]:
    records = [json.loads(p.read_text()) for p in (results / "records").glob("*.json")]
    return {r["key"]: {field: r.get(field) for field in (*NUMBERS, "status")} for r in records}


def _run(suite: Suite, out: Path, cache: Path, executor: Any = None) -> Any:
    return Runner(suite, out_dir=out, device="cpu", cache=TensorCache(cache), executor=executor).run()


def test_ray_gives_the_local_numbers(
    repo_root: Path, tmp_path: Path, ray_executor: Any, one_thread: None, freed_memory_expected: bool
) -> None:
    smoke = load_suite(repo_root / "suites" / "smoke.yaml")
    local = _run(smoke, tmp_path / "local", tmp_path / "local-cache")
    remote = _run(smoke, tmp_path / "ray", tmp_path / "ray-cache", ray_executor)
    assert local.failed == [] and remote.failed == []
    assert remote.computed == local.computed == 14
    assert remote.stage_seconds["train"] > 0  # the targets were trained by Ray workers
    expected, got = _numbers(tmp_path / "local" / "smoke"), _numbers(tmp_path / "ray" / "smoke")
    assert got.keys() == expected.keys() and len(got) == 14
    assert got == expected
    record = json.loads(next((tmp_path / "ray" / "smoke" / "records").glob("*.json")).read_text())
    assert record["worker"]["executor"] == "ray" and record["worker"]["torch_threads"] == 1
    # the worker process kept freed memory as the run asked
    assert record["worker"]["freed_memory_kept"] is freed_memory_expected
    manifest = json.loads((tmp_path / "ray" / "smoke" / "manifest.json").read_text())
    assert manifest["runs"][-1]["executor"]["name"] == "ray"
    # what the workers trained and compressed came back into the runner's cache
    cache = TensorCache(tmp_path / "ray-cache")
    assert len(list((cache.root / "targets").glob("*.safetensors"))) == 2
    assert len(list((cache.root / "compressed").glob("*.safetensors"))) == 12  # 6 x 2 seeds


def test_a_mixed_local_and_ray_history_is_one_result_set(
    repo_root: Path, tmp_path: Path, ray_executor: Any, one_thread: None
) -> None:
    smoke = load_suite(repo_root / "suites" / "smoke.yaml")
    without_attacks = dataclasses.replace(smoke, attacks=[])
    first = _run(without_attacks, tmp_path / "mixed", tmp_path / "cache")  # compressor cells, locally
    rest = _run(smoke, tmp_path / "mixed", tmp_path / "cache", ray_executor)  # the rest on Ray
    assert (first.computed, rest.skipped, rest.computed) == (12, 12, 2)
    assert "train" not in rest.stage_seconds  # the workers were sent the cached targets
    reference = _run(smoke, tmp_path / "reference", tmp_path / "reference-cache")
    assert reference.computed == 14
    assert _numbers(tmp_path / "mixed" / "smoke") == _numbers(tmp_path / "reference" / "smoke")


def test_force_on_ray_recomputes_rather_than_shipping_old_entries(
    repo_root: Path, tmp_path: Path, ray_executor: Any, one_thread: None
) -> None:
    smoke = load_suite(repo_root / "suites" / "smoke.yaml")
    suite = dataclasses.replace(smoke, compressors=smoke.compressors[:3], attacks=[])
    _run(suite, tmp_path / "out", tmp_path / "cache")
    again = Runner(suite, out_dir=tmp_path / "out", device="cpu", cache=TensorCache(tmp_path / "cache"),
                   executor=ray_executor, force=True).run()
    assert again.computed == 6 and again.stage_seconds["train"] > 0


def test_a_one_seed_suite_trains_its_control_on_ray(
    repo_root: Path, tmp_path: Path, ray_executor: Any
) -> None:
    smoke = load_suite(repo_root / "suites" / "smoke.yaml")
    suite = dataclasses.replace(smoke, seeds=[0], compressors=smoke.compressors[:3])
    summary = _run(suite, tmp_path / "out", tmp_path / "cache", ray_executor)
    assert summary.failed == [] and summary.computed == 4
    attack = [r for r in map(json.loads, map(Path.read_text, (tmp_path / "out" / "smoke" / "records")
                                            .glob("*.json"))) if r["kind"] == "attack"]
    assert attack[0]["control"]["seed"] == 1  # seed + 1, trained by a worker


def test_address_without_the_ray_executor_is_a_user_error(
    repo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", str(repo_root / "suites" / "smoke.yaml"), "--address", "auto"])
    assert code == 2
    assert "--executor ray" in capsys.readouterr().err


def test_components_registered_in_main_cannot_go_to_ray_workers(
    repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from innr_bench.errors import ConfigError
    from innr_bench.plugins import plugin_modules, remote_modules
    from innr_bench.registry import MODELS

    smoke = load_suite(repo_root / "suites" / "smoke.yaml")
    assert plugin_modules(smoke) == ()  # built-ins need no import
    monkeypatch.setattr(MODELS, "_entries", dict(MODELS._entries))

    def toy() -> torch.nn.Module:
        return torch.nn.Linear(1, 1)

    toy.__module__ = "__main__"
    MODELS.register("toy-main")(toy)
    target = dataclasses.replace(smoke.targets[0], model=dataclasses.replace(smoke.targets[0].model,
                                                                             name="toy-main"))
    with pytest.raises(ConfigError, match="__main__"):
        remote_modules(plugin_modules(dataclasses.replace(smoke, targets=[target])))


@pytest.mark.parametrize(("requested", "device", "share"), [
    (None, "cpu", 0.0),     # cells on the CPU take no GPU
    (None, "cuda", 0.25),   # four cells share each GPU
    (0.5, "cuda", 0.5),     # as asked
])
def test_gpu_share(requested: float | None, device: str, share: float) -> None:
    from innr_bench.engine.executors.ray_cluster import gpu_share

    assert gpu_share(requested, torch.device(device)) == share


def test_the_cluster_decides_the_device(ray_executor: Any) -> None:
    from innr_bench.errors import ConfigError

    # this machine's local Ray instance has no GPUs
    assert ray_executor.device("auto") == torch.device("cpu")
    assert ray_executor.device("cpu") == torch.device("cpu")
    with pytest.raises(ConfigError, match="no GPUs"):
        ray_executor.device("cuda")


def test_without_ray_the_ray_executor_says_which_extra_to_install(
    repo_root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if not installed
    monkeypatch.delitem(sys.modules, "innr_bench.engine.executors.ray_cluster", raising=False)
    code = main(["run", str(repo_root / "suites" / "smoke.yaml"), "--executor", "ray"])
    assert code == 2
    assert "pip install 'innr-bench[ray]'" in capsys.readouterr().err


def test_threads_sets_and_records_the_torch_thread_count(
    repo_root: Path, tmp_path: Path, one_thread: None
) -> None:
    torch.set_num_threads(2)
    code = main(["run", str(repo_root / "suites" / "smoke.yaml"), "--out", str(tmp_path), "--threads", "1",
                 "--no-progress"])
    assert code == 0
    records = [json.loads(p.read_text()) for p in (tmp_path / "smoke" / "records").glob("*.json")]
    assert {r["worker"]["torch_threads"] for r in records} == {1}


def test_threads_below_one_is_a_user_error(repo_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(repo_root / "suites" / "smoke.yaml"), "--threads", "0"]) == 2
    assert "--threads must be >= 1" in capsys.readouterr().err


def _plan_and_tasks(repo_root: Path) -> tuple[Any, list[Any]]:
    from innr_bench.data.datasets import synthetic
    from innr_bench.engine.plan import Plan, Task

    smoke = load_suite(repo_root / "suites" / "smoke.yaml")
    plan = Plan(smoke, {smoke.datasets[0].label: synthetic(n_train=512, n_test=256)}, {"device": "cpu"})
    cells = plan.cells()
    targets = [Task("target", g.id) for g in plan.targets_for(cells)]
    return plan, [*targets, *(t for kind in ("compressor", "attack") for t in cells if t.kind == kind)]


def test_by_dependency_a_cell_starts_when_its_target_and_copies_exist(repo_root: Path) -> None:
    from innr_bench.engine.executors.ray_cluster import Dependencies

    plan, tasks = _plan_and_tasks(repo_root)
    waiting = Dependencies(plan, tasks)
    first = waiting.ready(100)
    assert {t.kind for t in first} == {"target"}  # every cell reads a target not trained yet
    seed0 = next(t for t in first if t.group[2] == 0)
    waiting.finished(seed0)
    started = waiting.ready(100)
    assert started and all(t.kind == "compressor" and t.group[2] == 0 for t in started)  # not seed 1's
    for task in started:
        waiting.finished(task)
    attacks = waiting.ready(100)
    # seed 0's attack needs its control too: seed 1's target, still training
    assert attacks == []
    waiting.finished(next(t for t in first if t.group[2] == 1))
    assert {(t.kind, t.group[2]) for t in waiting.ready(100)} >= {("attack", 0), ("compressor", 1)}


def test_by_wave_no_cell_starts_before_its_kind_is_due(repo_root: Path) -> None:
    from innr_bench.engine.executors.ray_cluster import Dependencies

    plan, tasks = _plan_and_tasks(repo_root)
    waiting = Dependencies(plan, tasks, waves=True)
    targets = waiting.ready(100)
    waiting.finished(targets[0])
    assert waiting.ready(100) == []  # a barrier: the other target is still training
    waiting.finished(targets[1])
    compressors = waiting.ready(100)
    assert {t.kind for t in compressors} == {"compressor"}
    for task in compressors[:-1]:
        waiting.finished(task)
    assert waiting.ready(100) == []
    waiting.finished(compressors[-1])
    assert {t.kind for t in waiting.ready(100)} == {"attack"}
