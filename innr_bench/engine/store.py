"""Results on disk: one JSON record per cell, a manifest, atomic writes and a directory lock."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import filelock
from pydantic import ValidationError

from innr_bench.engine.records import validated
from innr_bench.errors import ConfigError, InnrBenchError

logger = logging.getLogger(__name__)


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write via a temp file in the same directory, fsync, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(payload)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


CHECKSUM_FIELD = "sha256"


def record_digest(record: dict[str, Any]) -> str:
    """sha256 of a record's canonical JSON, its own checksum field left out."""
    body = {k: v for k, v in record.items() if k != CHECKSUM_FIELD}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def checksum_ok(record: dict[str, Any], path: Path) -> bool:
    """False (with a warning) when a record's content does not match its checksum. Records
    written before checksums existed carry none and are accepted."""
    expected = record.get(CHECKSUM_FIELD)
    if expected is None or expected == record_digest(record):
        return True
    logger.warning("corrupt record %s (checksum mismatch); it will be recomputed", path)
    return False


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode())


def read_json(path: Path) -> Any | None:
    """Parsed JSON, or None (with a warning) when the file is missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        logger.warning("ignoring unreadable file %s (%s); it will be recomputed", path, error)
        return None


def loaded(record: dict[str, Any], path: Path) -> dict[str, Any] | None:
    """A record as today's readers see it (upgraded and checked against the schema, in
    `records.validated`), or None with a warning when it does not fit the schema."""
    try:
        return validated(record)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        logger.warning("ignoring record %s: %s: %s; it will be recomputed", path, where, first["msg"])
        return None


class ResultsLockedError(InnrBenchError, RuntimeError):
    """Another runner is writing the same results directory."""


class ResultStore:
    """`<root>/manifest.json` and `<root>/records/<key>.json`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.records_dir = self.root / "records"
        self.manifest_path = self.root / "manifest.json"

    def record_path(self, key: str) -> Path:
        return self.records_dir / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The finished record for `key`, or None."""
        path = self.record_path(key)
        record = read_json(path)
        if record is not None and record.get("key") != key:
            logger.warning("record %s does not carry its own key; it will be recomputed", key)
            return None
        return loaded(record, path) if record is not None and checksum_ok(record, path) else None

    def put(self, record: dict[str, Any]) -> None:
        """Write a record with its checksum (atomically: a crash leaves the old file or the new)."""
        sealed = json.loads(json.dumps(record, default=str))
        sealed[CHECKSUM_FIELD] = record_digest(sealed)
        atomic_write_json(self.record_path(record["key"]), sealed)

    def records(self, *, current_only: bool = True) -> list[dict[str, Any]]:
        """Readable records sorted by key; by default only the cells of the suite's latest run."""
        paths = sorted(self.records_dir.glob("*.json")) if self.records_dir.is_dir() else []
        read = ((read_json(p), p) for p in paths)
        records = [found for found in (loaded(r, p) for r, p in read if r is not None and checksum_ok(r, p))
                   if found is not None]
        cells = self.manifest().get("cells") if current_only else None
        if cells is None:
            return records
        current = set(cells)
        return [r for r in records if r.get("key") in current]

    def manifest(self) -> dict[str, Any]:
        return read_json(self.manifest_path) or {}

    def require(self) -> ResultStore:
        """This store, or one clear error when its directory is not a results directory."""
        if not (self.records_dir.is_dir() and self.manifest_path.is_file()):
            raise ConfigError(f"{self.root}: not a results directory (needs manifest.json and records/); "
                              "pass the directory `innr-bench run` wrote, e.g. runs/mnist or results/mnist")
        return self

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        atomic_write_json(self.manifest_path, manifest)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive use of this results directory; fails at once if another runner holds it."""
        self.root.mkdir(parents=True, exist_ok=True)
        owner = self.root / ".lock.owner"
        lock = filelock.FileLock(str(self.root / ".lock"))
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            holder = owner.read_text().strip() if owner.exists() else "another process"
            raise ResultsLockedError(
                f"{self.root}: results directory is in use by {holder}; wait for it to finish "
                "or choose another --out"
            ) from None
        try:
            owner.write_text(f"pid {os.getpid()}\n")
            yield
        finally:
            lock.release()
