from __future__ import annotations

import json
from pathlib import Path

import pytest

from innr_bench.engine.keys import content_key
from innr_bench.engine.records import SCHEMA_VERSION
from innr_bench.engine.store import ResultsLockedError, ResultStore, atomic_write_json


def test_content_key_is_order_independent_and_sensitive_to_values() -> None:
    assert content_key({"a": 1, "b": 2}) == content_key({"b": 2, "a": 1})
    assert content_key({"a": 1}) != content_key({"a": 2})


def test_atomic_write_leaves_no_temp_files(tmp_path: Path) -> None:
    atomic_write_json(tmp_path / "x.json", {"v": 1})
    assert json.loads((tmp_path / "x.json").read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def minimal_record(key: str, **fields: object) -> dict:
    """A failed cell's record: the least a record must hold to fit the schema."""
    return {"key": key, "kind": "compressor", "seed": 0, "status": "failed",
            "target": {"label": "t", "name": "t"},
            "dataset": {"label": "d", "name": "d", "source": "s", "sha256": "0", "n_train": 1, "n_test": 1},
            **fields}


def test_unreadable_record_is_ignored_not_used(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.put({**minimal_record("abc"), "status": "ok", "accuracy": 0.5, "target_accuracy": 0.5, "delta": 0.0,
               "agreement": 1.0, "size_bytes": 1, "fp32_bytes": 4, "ratio": 0.25, "data_free": True,
               "weight_error": {"rel_l2": 0.0}})
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


def test_second_runner_on_the_same_dir_gets_a_clear_error(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    with (
        store.lock(),
        pytest.raises(ResultsLockedError, match=r"in use by pid \d+"),
        ResultStore(tmp_path).lock(),
    ):
        pass
