"""Cached tensors: safetensors plus a JSON sidecar, in files under the user cache directory or in memory."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from safetensors import SafetensorError
from safetensors.torch import load, save

from innr_bench.engine.store import atomic_write_bytes, atomic_write_json, read_json
from innr_bench.paths import cache_dir

logger = logging.getLogger(__name__)
DIGEST = "_sha256"  # sidecar key: sha256 of the safetensors file


class Storage(Protocol):
    """Where cache entries live: bytes in, bytes out, no checking (the cache checks)."""

    def has(self, kind: str, key: str) -> bool: ...

    def read(self, kind: str, key: str) -> CacheEntry | None: ...

    def write(self, entry: CacheEntry) -> None: ...

    def where(self, kind: str, key: str) -> str: ...


class FileStorage:
    """`<root>/<kind>/<key>.safetensors` + `<key>.json`; the sidecar is written last."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _paths(self, kind: str, key: str) -> tuple[Path, Path]:
        base = self.root / kind / key
        return base.with_suffix(".safetensors"), base.with_suffix(".json")

    def has(self, kind: str, key: str) -> bool:
        return all(path.exists() for path in self._paths(kind, key))

    def read(self, kind: str, key: str) -> CacheEntry | None:
        tensor_path, meta_path = self._paths(kind, key)
        sidecar = read_json(meta_path)
        if sidecar is None or not tensor_path.exists():
            return None
        return CacheEntry(kind, key, tensor_path.read_bytes(), sidecar)

    def write(self, entry: CacheEntry) -> None:
        tensor_path, meta_path = self._paths(entry.kind, entry.key)
        atomic_write_bytes(tensor_path, entry.blob)
        atomic_write_json(meta_path, entry.sidecar)

    def where(self, kind: str, key: str) -> str:
        return str(self._paths(kind, key)[0])


class MemoryStorage:
    """Entries in a dict: a remote worker's scratch space, gone with the worker."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], CacheEntry] = {}

    def has(self, kind: str, key: str) -> bool:
        return (kind, key) in self._entries

    def read(self, kind: str, key: str) -> CacheEntry | None:
        return self._entries.get((kind, key))

    def write(self, entry: CacheEntry) -> None:
        self._entries[(entry.kind, entry.key)] = entry

    def where(self, kind: str, key: str) -> str:
        return f"<memory>/{kind}/{key}"


class TensorCache:
    """Tensors as safetensors blobs plus a JSON sidecar holding the blob's sha256, in a `Storage`
    (files under the user cache directory by default)."""

    def __init__(self, root: Path | None = None, *, storage: Storage | None = None) -> None:
        self.storage: Storage = storage or FileStorage(Path(root) if root else cache_dir())
        self._recording: list[list[CacheEntry]] = []

    @classmethod
    def in_memory(cls) -> TensorCache:
        return cls(storage=MemoryStorage())

    @property
    def root(self) -> Path:
        """The directory of a file-backed cache."""
        if not isinstance(self.storage, FileStorage):
            raise AttributeError("an in-memory cache has no root directory")
        return self.storage.root

    def has(self, kind: str, key: str) -> bool:
        """Whether an entry exists (its integrity is checked on load)."""
        return self.storage.has(kind, key)

    def read_entry(self, kind: str, key: str) -> CacheEntry | None:
        """An entry's raw bytes and sidecar (unchecked; `load` checks); None when absent."""
        return self.storage.read(kind, key)

    @contextlib.contextmanager
    def recording(self) -> Iterator[list[CacheEntry]]:
        """The entries saved inside the block, in order (what a task wrote)."""
        written: list[CacheEntry] = []
        self._recording.append(written)
        try:
            yield written
        finally:
            self._recording.remove(written)

    # -- tensors -----------------------------------------------------------------------------

    def save(self, kind: str, key: str, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        contiguous = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
        blob = save(contiguous)
        sidecar = json.loads(json.dumps(meta, default=str)) | {DIGEST: hashlib.sha256(blob).hexdigest()}
        entry = CacheEntry(kind, key, blob, sidecar)
        self.storage.write(entry)
        for written in self._recording:
            written.append(entry)

    def load(self, kind: str, key: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
        """Tensors and sidecar, or None when absent or unreadable (then it is recomputed)."""
        entry = self.read_entry(kind, key)
        if entry is None:
            return None
        meta = dict(entry.sidecar)
        expected = meta.pop(DIGEST, None)  # caches written before checksums have none
        if expected is not None and hashlib.sha256(entry.blob).hexdigest() != expected:
            logger.warning("corrupt cache file %s (checksum mismatch); recomputing",
                           self.storage.where(kind, key))
            return None
        try:
            return load(entry.blob), meta
        except (SafetensorError, OSError, ValueError) as error:
            logger.warning("ignoring unreadable cache file %s (%s); recomputing",
                           self.storage.where(kind, key), error)
            return None

    def write_entry(self, entry: CacheEntry) -> None:
        """Store an entry read elsewhere with `read_entry`, after checking its checksum."""
        expected = entry.sidecar.get(DIGEST)
        if expected is not None and hashlib.sha256(entry.blob).hexdigest() != expected:
            raise ValueError(f"cache entry {entry.kind}/{entry.key} was damaged in transit")
        self.storage.write(entry)


@dataclass(frozen=True)
class CacheEntry:
    """One cached item as bytes: what executors ship between machines."""

    kind: str
    key: str
    blob: bytes
    sidecar: dict[str, Any]
