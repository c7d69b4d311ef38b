"""Benchmark your own network: a target from a checkpoint trained elsewhere, your own data, and
the Python API, all on the runner's engine, cache, keys and records."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import save_file

from innr_bench import api
from innr_bench.cli import main
from innr_bench.config import load_suite
from innr_bench.data.datasets import synthetic
from innr_bench.engine.plan import Plan
from innr_bench.registry import MODELS

DATA = synthetic(n_train=384, n_test=200)


@pytest.fixture(scope="module")
def example(repo_root: Path) -> Any:
    """suites/your_own_net.py: the README's network, trained here in plain PyTorch."""
    spec = importlib.util.spec_from_file_location("your_own_net", repo_root / "suites" / "your_own_net.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def trained(example: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The network, its own test accuracy, its files (.safetensors, .pt) and the data file."""
    root = tmp_path_factory.mktemp("own")
    net = example.build(width=8)
    example.train(net, DATA.train_x, DATA.train_y, epochs=12, batch=32)
    with torch.no_grad():  # the test's own evaluation: one batch, plain PyTorch
        hits = (net(DATA.test_x).argmax(1) == DATA.test_y).float()
    assert float(hits.mean()) > 0.5  # it learned something a copy can lose
    save_file(net.state_dict(), str(root / "net.safetensors"))
    torch.save(net.state_dict(), root / "net.pt")
    np.savez(root / "data.npz", x_train=DATA.train_x.numpy(), y_train=DATA.train_y.numpy(),
             x_test=DATA.test_x.numpy(), y_test=DATA.test_y.numpy())
    return {"net": net, "accuracy": float(hits.mean()), "root": root}


def _suite(repo_root: Path, trained: dict[str, Any], weights: str = "net.safetensors",
           **changes: Any) -> Path:
    """The shipped example suite on the test's data and files (2 seeds, small budgets)."""
    root = trained["root"]
    doc = yaml.safe_load((repo_root / "suites" / "your-own-net.yaml").read_text())
    doc |= {"seeds": [0, 1], "datasets": [{"name": "tensors", "params": {"path": str(root / "data.npz")}}]}
    doc["targets"][0] |= {"params": {"width": 8}, "weights": weights}
    doc["compressors"][1]["grid"] = {"ratio": [0.5]}
    doc["compressors"][1]["params"]["epochs"] = 60
    doc["attacks"][0]["limit"] = 100
    doc |= changes
    path = root / f"suite-{len(list(root.glob('suite-*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(doc))
    (root / "your_own_net.py").write_text((repo_root / "suites" / "your_own_net.py").read_text())
    return path


def _records(out: Path, name: str = "your-own-net") -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in (out / name / "records").glob("*.json")]


@pytest.fixture
def clean_models(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(MODELS, "_entries", dict(MODELS._entries))
    monkeypatch.delitem(sys.modules, "your_own_net", raising=False)


def test_a_checkpoint_is_benchmarked_like_a_trained_target(repo_root: Path, trained: dict[str, Any],
                                                           tmp_path: Path, clean_models: None) -> None:
    suite = _suite(repo_root, trained)
    out = tmp_path / "out"
    args = ["run", str(suite), "--out", str(out), "--no-progress", "--device", "cpu", "--reference", "none"]
    assert main(args) == 0
    records = _records(out)
    sha = json.loads((out / "your-own-net" / "manifest.json").read_text())["suite"]["targets"][0]["weights"]
    assert all(r["target"]["weights"] == sha for r in records) and len(sha["sha256"]) == 64
    sizes = [r for r in records if r["kind"] == "compressor"]
    assert {r["target_accuracy"] for r in sizes} == {trained["accuracy"]}  # exactly the test's own
    assert {r["compressor"]["label"].split("[")[0] for r in sizes} == {"identity", "innr", "ptq", "prune"}
    assert {r["attack"]["label"] for r in records if r["kind"] == "attack"} == {"fgsm"}
    attacked = [r for r in records if r["kind"] == "attack"]
    assert all(r["control"] is None and "control" not in r["nets"] for r in attacked)
    assert all(r["transfer"] and r["inheritance"] for r in attacked)
    boards = out / "your-own-net" / "leaderboards"
    assert {"accuracy-vs-size.md", "transfer.md", "inheritance.md"} <= {p.name for p in boards.iterdir()}
    assert f"loaded from weights sha256 {sha['sha256'][:12]}" in (boards / "accuracy-vs-size.md").read_text()
    assert main(args) == 0  # a rerun recomputes nothing
    assert json.loads((out / "your-own-net" / "manifest.json").read_text())["runs"][-1]["computed"] == 0


def test_one_changed_byte_of_the_checkpoint_changes_the_key(repo_root: Path, trained: dict[str, Any],
                                                            clean_models: None) -> None:
    root = trained["root"]
    blob = bytearray((root / "net.safetensors").read_bytes())
    blob[-1] ^= 1  # the last byte of the last tensor's value
    (root / "changed.safetensors").write_bytes(bytes(blob))
    keys = []
    for weights in ("net.safetensors", "changed.safetensors", "net.pt"):
        suite = load_suite(_suite(repo_root, trained, weights))
        plan = Plan(suite, {suite.datasets[0].label: DATA}, {"device": "cpu"})
        keys.append({task.key for task in plan.cells()})
    assert not keys[0] & keys[1] and not keys[0] & keys[2]


def test_a_state_dict_file_loads_the_same_network(repo_root: Path, trained: dict[str, Any], tmp_path: Path,
                                                  clean_models: None) -> None:
    suite = _suite(repo_root, trained, "net.pt", seeds=[0], compressors=[{"name": "identity"}], attacks=[])
    assert main(["run", str(suite), "--out", str(tmp_path), "--no-progress", "--device", "cpu",
                 "--reference", "none"]) == 0
    (record,) = _records(tmp_path)
    assert record["accuracy"] == record["target_accuracy"] == trained["accuracy"]


def test_the_python_api_runs_the_same_engine(trained: dict[str, Any], tmp_path: Path,
                                             clean_models: None) -> None:
    net = trained["net"]
    small = api.compress(net, "innr-siren", ratio=0.5, epochs=60, precision="int8", entropy="huffman")
    assert small.size_bytes <= 0.5 * small.fp32_bytes and small.ratio == small.size_bytes / small.fp32_bytes
    assert small.save(tmp_path / "small.safetensors").stat().st_size > small.size_bytes
    data = api.tensors(DATA.train_x, DATA.train_y, DATA.test_x, DATA.test_y)
    compressors = ["identity", {"name": "quantize", "label": "ptq", "params": {"bits": 4}},
                   {"name": "prune-global", "label": "prune", "params": {"sparsity": 0.5}}]
    attacks = [{"name": "fgsm", "label": "fgsm", "limit": 100, "params": {"eps": [0.0, 0.1]}}]
    board = api.evaluate(net, data, compressors=compressors, attacks=attacks, seeds=[0], out=tmp_path,
                         device="cpu")
    table = board.accuracy_vs_size
    assert set(table["method"]) == {"identity", "ptq", "prune"}
    assert set(table["original %"]) == {f"{100 * trained['accuracy']:.2f} ± n/a"}
    assert not board.transfer.empty and not board.inheritance.empty
    assert (board.root / "leaderboards" / "accuracy-vs-size.md").is_file()
    again = api.evaluate(net, data, compressors=compressors, attacks=attacks, seeds=[0], out=tmp_path,
                         device="cpu")
    assert again.manifest["runs"][-1]["computed"] == 0  # same keys: nothing recomputed
