from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from innr_bench.cache import TensorCache
from innr_bench.records import SCHEMA_VERSION
from innr_bench.store import ResultsLockedError, ResultStore, atomic_write_json, content_key


def test_content_key_is_order_independent_and_sensitive_to_values() -> None:
    assert content_key({"a": 1, "b": 2}) == content_key({"b": 2, "a": 1})
    assert content_key({"a": 1}) != content_key({"a": 2})


def test_atomic_write_leaves_no_temp_files(tmp_path: Path) -> None:
    atomic_write_json(tmp_path / "x.json", {"v": 1})
    assert json.loads((tmp_path / "x.json").read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def minimal_record(key: str, **fields: object) -> dict:
    """A failed cell's record: the least a record must hold to fit the schema."""
    return {"key": key, "kind": "compressor", "seed": 0, "status": "failed", "target": {"label": "t"},
            "dataset": {"label": "d", "name": "d", "source": "s", "sha256": "0", "n_train": 1, "n_test": 1},
            **fields}


def test_unreadable_record_is_ignored_not_used(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.put({**minimal_record("abc"), "status": "ok", "accuracy": 0.5, "target_accuracy": 0.5, "delta": 0.0,
               "agreement": 1.0, "size_bytes": 1, "fp32_bytes": 4, "ratio": 0.25, "data_free": True})
    record = store.get("abc")
    assert record is not None and record["status"] == "ok" and len(record["sha256"]) == 64
    store.record_path("abc").write_text('{"key": "abc", "sta')  # truncated
    assert store.get("abc") is None


def test_a_record_whose_content_changed_fails_its_checksum(tmp_path: Path, caplog) -> None:
    store = ResultStore(tmp_path)
    store.put(minimal_record("abc", accuracy=0.5))
    path = store.record_path("abc")
    path.write_text(path.read_text().replace("0.5", "0.9"))  # still valid JSON, wrong numbers
    assert store.get("abc") is None and store.records(current_only=False) == []
    assert "corrupt record" in caplog.text and "checksum mismatch" in caplog.text
    legacy = minimal_record("old")  # written before checksums and schema versions: accepted, upgraded
    store.record_path("old").write_text(json.dumps(legacy))
    assert store.get("old") == {**legacy, "schema_version": SCHEMA_VERSION}


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_a_damaged_cache_file_is_detected_and_not_used(tmp_path: Path, caplog, damage: str) -> None:
    cache = TensorCache(tmp_path)
    cache.save("targets", "k", {"w": torch.arange(64.0)}, {"accuracy": 0.9})
    loaded = cache.load("targets", "k")
    assert loaded is not None and loaded[1] == {"accuracy": 0.9}
    path = tmp_path / "targets" / "k.safetensors"
    blob = bytearray(path.read_bytes())
    if damage == "flip":
        blob[-5] ^= 0xFF  # a weight changes; the file still parses
    else:
        del blob[-40:]
    path.write_bytes(bytes(blob))
    assert cache.load("targets", "k") is None
    assert "corrupt cache file" in caplog.text

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


def test_cache_entries_travel_between_caches_and_damage_is_refused(tmp_path: Path) -> None:
    from innr_bench.cache import CacheEntry, TensorCache

    disk = TensorCache(tmp_path)
    disk.save("targets", "k", {"w": torch.arange(6.0)}, {"accuracy": 0.5})
    memory = TensorCache.in_memory()
    memory.write_entry(disk.read_entry("targets", "k"))
    loaded, meta = memory.load("targets", "k")
    assert torch.equal(loaded["w"], torch.arange(6.0)) and meta == {"accuracy": 0.5}
    assert memory.has("targets", "k") and not memory.has("targets", "other")
    entry = memory.read_entry("targets", "k")
    damaged = CacheEntry(entry.kind, entry.key, entry.blob[:-1] + b"\x00", entry.sidecar)
    with pytest.raises(ValueError, match="damaged in transit"):
        TensorCache(tmp_path / "elsewhere").write_entry(damaged)
