from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from innr_bench.cache import TensorCache
from innr_bench.store import ResultsLockedError, ResultStore, atomic_write_json, content_key


def test_content_key_is_order_independent_and_sensitive_to_values() -> None:
    assert content_key({"a": 1, "b": 2}) == content_key({"b": 2, "a": 1})
    assert content_key({"a": 1}) != content_key({"a": 2})


def test_atomic_write_leaves_no_temp_files(tmp_path: Path) -> None:
    atomic_write_json(tmp_path / "x.json", {"v": 1})
    assert json.loads((tmp_path / "x.json").read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_unreadable_record_is_ignored_not_used(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.put({"key": "abc", "status": "ok"})
    assert store.get("abc") == {"key": "abc", "status": "ok"}
    store.record_path("abc").write_text('{"key": "abc", "sta')
    assert store.get("abc") is None


def test_second_runner_on_the_same_dir_gets_a_clear_error(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    with (
        store.lock(),
        pytest.raises(ResultsLockedError, match=r"in use by pid \d+"),
        ResultStore(tmp_path).lock(),
    ):
        pass


def test_tensor_cache_round_trip_and_truncation(tmp_path: Path) -> None:
    cache = TensorCache(tmp_path)
    tensors = {"w": torch.arange(6.0).reshape(2, 3)}
    cache.save("targets", "k", tensors, {"accuracy": 0.5})
    loaded, meta = cache.load("targets", "k")
    assert torch.equal(loaded["w"], tensors["w"]) and meta == {"accuracy": 0.5}
    path = tmp_path / "targets" / "k.safetensors"
    path.write_bytes(path.read_bytes()[:20])
    assert cache.load("targets", "k") is None
