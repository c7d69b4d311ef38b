"""The tensor cache: safetensors blobs with a checksummed JSON sidecar, on disk or in memory;
damaged entries are detected and recomputed, never used."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from innr_bench.engine.cache import CacheEntry, TensorCache


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
