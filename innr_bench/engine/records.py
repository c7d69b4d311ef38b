"""What a cell record holds: one typed definition (pydantic models), shared by the worker that
writes records (it checks each one before returning it) and by everything that reads them
(reports, the gate, the reproducibility report), with a `schema_version` and the one place older
records are upgraded (`upgrade`, applied by the store on every read).

Records are JSON files. A record's `key` depends on the environment it was computed in (so reuse
never crosses environments); its `identity` does not, so the same cell can be found in two result
sets made on different machines."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from innr_bench.engine.keys import content_key

Identity = tuple[str, str, str, str, int]  # dataset label, target label, kind, component label, seed


def component_label(record: dict[str, Any]) -> str:
    return record[record["kind"]]["label"]


def identity(record: dict[str, Any]) -> Identity:
    """The cell a record measures, whatever the environment: how two result sets are matched."""
    return (record["dataset"]["label"], record["target"]["label"], record["kind"],
            component_label(record), int(record["seed"]))


def comparable_environment(record: Any) -> dict[str, Any] | None:
    """What must match for two records of one seed to compare paired: the environment that entered
    the key plus the CPU's microarchitecture (`worker.cpu`; None in records made before it was kept,
    so that an older record never pairs as "the same environment" with a newer one), for cells
    computed on the CPU. None when the record predates recorded environments. Takes a record dict
    or a RecordModel."""
    get = record.get if isinstance(record, dict) else lambda name: getattr(record, name, None)
    environment = get("environment")
    if environment is None:
        return None
    if environment.get("device") != "cpu":  # on a card the card computes: its name is in the key
        return dict(environment)
    worker = get("worker") or {}
    cpu = worker.get("cpu") if isinstance(worker, dict) else getattr(worker, "cpu", None)
    return {**environment, "cpu": cpu}


def setting(record: dict[str, Any]) -> tuple[str, str, str, str]:
    """The identity without the seed: what seeds are averaged over."""
    return identity(record)[:4]


def signature_of(kind: str, seed: int, component: dict[str, Any], target: dict[str, Any],
                 data_sha256: str) -> str:
    """What a cell computes, without where: the same component (its resolved spec and version
    included) on the same target, data and seed. `--reuse any` takes a finished record with the
    same signature."""

    return content_key({"kind": kind, "seed": seed, "component": component,
                        "target": {k: v for k, v in target.items() if k != "key"},
                        "data": data_sha256})


def signature(record: dict[str, Any]) -> str:
    return signature_of(record["kind"], record["seed"], record[record["kind"]], record["target"],
                        record["dataset"]["sha256"])


SCHEMA_VERSION = 3  # 1: records before the field existed; 2: + `correct` (compressor); 3: transfer
# rows name the net they evaluate `evaluated` (was `target`, which also names the trained model)


class _Loose(BaseModel):
    # extra fields are kept: a record may carry more than readers need (and older readers must
    # not reject newer records)
    model_config = ConfigDict(extra="allow")


class DatasetModel(_Loose):
    """The data a cell saw: its suite label and its provenance, as separate fields."""

    label: str
    name: str
    source: str  # where it was read from: an IDX dir, a bundled package, a fallback ...
    sha256: str
    n_train: int
    n_test: int
    warning: str | None = None  # set when the data is a degraded fallback
    verified: bool | None = None  # checked against canonical checksums; None: no checksums known


class TargetModel(_Loose):
    """The trained (or loaded) model a cell compresses or attacks."""

    label: str
    name: str
    key: str | None = None
    params: dict[str, Any] = {}
    train: dict[str, Any] | None = None
    weights: dict[str, Any] | None = None  # {"path", "sha256"} when loaded from a file


class ComponentModel(_Loose):
    """The compressor or attack as run: its name, label, options and resolved spec."""

    name: str
    label: str
    params: dict[str, Any] = {}
    limit: int | None = None  # attacks: the test inputs attacked


class WorkerModel(_Loose):
    executor: str
    host: str
    device_name: str
    torch_threads: int  # fits of thousands of steps round differently with another thread count
    freed_memory_kept: bool | None = None  # engine/memory.py; wall times depend on it (none before)
    cpu: str | None = None  # engine/env.cpu_model: vendor, family, model, ISA (none before)


class RecordModel(_Loose):
    """What every record must hold to be read at all (finished or failed); kind-specific fields
    are checked by `CompressorModel` / `AttackModel` for finished cells."""

    schema_version: int = SCHEMA_VERSION
    key: str
    kind: Literal["compressor", "attack"]
    seed: int
    dataset: DatasetModel
    target: TargetModel
    status: Literal["ok", "failed"]
    git_commit: str | None = None
    environment: dict[str, Any] | None = None  # what entered the key; None: made before it was recorded
    compressor: ComponentModel | None = None  # the component, for kind "compressor"
    attack: ComponentModel | None = None  # the component, for kind "attack"
    worker: WorkerModel | None = None
    error: str | None = None  # failed cells: the exception, one line
    wall_seconds: float | None = None

    @property
    def component(self) -> ComponentModel:
        found = self.compressor if self.kind == "compressor" else self.attack
        assert found is not None, f"{self.key}: a {self.kind} record without its component"
        return found


class WeightErrorModel(_Loose):
    rel_l2: float  # ||W' - W|| / ||W|| over every weight


class CompressorModel(RecordModel):
    """A finished compressor cell: the copy's accuracy, agreement and stored bytes."""

    accuracy: float
    target_accuracy: float
    delta: float  # accuracy - target_accuracy
    agreement: float  # fraction of test inputs where copy and original predict the same class
    size_bytes: int  # counted from the serialized blob
    fp32_bytes: int
    ratio: float
    data_free: bool
    target_train: dict[str, Any] = {}  # steps, epochs, seconds of the target's training
    compress_seconds: float | None = None
    weight_error: WeightErrorModel
    info: dict[str, Any] = {}
    correct: dict[str, Any] | None = None  # {"n": test inputs, "bits": packed}; schema 2 on
    classes: int | None = None  # the data's classes (chance = 1 / classes); None before it was kept
    degraded: list[str] = []  # why the result is degraded (engine/degraded.py); empty: it is not


class TransferRowModel(_Loose):
    """One (eps, source net, evaluated net) cell of an attack's transfer matrix."""

    eps: float
    source: str
    evaluated: str
    accuracy: float
    n: int | None = None
    transfer_rate: float | None = None
    relative_transfer: float | None = None


class InheritanceRowModel(_Loose):
    """One (eps, net) row of the inheritance board: under the original's adversarials (None when
    the attack is white-box only) and under the net's own (white-box)."""

    eps: float
    net: str
    n: int
    whitebox_accuracy: float
    accuracy: float | None = None
    transfer_rate: float | None = None
    relative_transfer: float | None = None


class AttackModel(RecordModel):
    """A finished attack cell: the transfer matrix between `nets`, the inheritance board (every
    compressed copy and the control under the original's attack and its own), its wall time."""

    nets: list[str]
    transfer: list[TransferRowModel]
    inheritance: list[InheritanceRowModel] = []
    whitebox_only: bool = False
    n_attacked: int | None = None
    control: dict[str, Any] | None = None  # the independently trained net: its accuracy


FINISHED = {"compressor": CompressorModel, "attack": AttackModel}  # the model of a finished cell, by kind


def finished(records: Iterable[dict[str, Any]], kind: Literal["compressor", "attack"]
             ) -> list[Any]:
    """The finished records of one kind as typed models (CompressorModel / AttackModel)."""
    return [FINISHED[kind].model_validate(r) for r in records
            if r.get("kind") == kind and r.get("status") == "ok"]


def upgrade(record: dict[str, Any]) -> dict[str, Any]:
    """An older record in today's shape (the one place that knows what older records lack): a
    copy with every field today's readers use filled in as it was computed then."""
    found = dict(record)
    version = int(found.get("schema_version", 1))
    if version < 2 and found.get("kind") == "attack" and found.get("status") == "ok":
        found.setdefault("inheritance", [])  # made before the inheritance board existed
        found["transfer"] = [{"relative_transfer": None, **row} for row in found.get("transfer", [])]
    if version < 3 and found.get("kind") == "attack" and found.get("status") == "ok":
        found["transfer"] = [{("evaluated" if k == "target" else k): v for k, v in row.items()}
                             for row in found.get("transfer", [])]
    if found.get("kind") == "compressor" and found.get("status") == "ok" and "degraded" not in found:
        from innr_bench.engine.degraded import degradation  # records made before the field

        found["degraded"] = degradation(found)
    found["schema_version"] = max(version, SCHEMA_VERSION)  # a newer record keeps its own
    return found


def validated(record: dict[str, Any]) -> dict[str, Any]:
    """The upgraded record, checked against the schema (ValidationError when it does not fit)."""
    found = upgrade(record)
    model = FINISHED.get(found.get("kind"), RecordModel) if found.get("status") == "ok" else RecordModel
    model.model_validate(found)
    return found


def pack_correct(correct: np.ndarray) -> str:
    """Which test inputs a net got right, as base64 of the packed bits (what records store)."""
    return base64.b64encode(np.packbits(np.asarray(correct, dtype=bool)).tobytes()).decode()


def unpack_correct(packed: str, n: int) -> np.ndarray:
    """The bits `pack_correct` stored, for the first `n` inputs."""
    return np.unpackbits(np.frombuffer(base64.b64decode(packed), dtype=np.uint8))[:n].astype(bool)
