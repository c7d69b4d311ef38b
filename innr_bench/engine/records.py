"""What a cell record holds: one typed definition, shared by the worker that writes records and
by everything that reads them (reports, the gate, the reproducibility report).

Records are JSON files; these TypedDicts name their fields. A record's `key` depends on the
environment it was computed in (so reuse never crosses environments); its `identity` does not,
so the same cell can be found in two result sets made on different machines."""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

from pydantic import BaseModel, ConfigDict


class DatasetInfo(TypedDict):
    """The data a cell saw: its suite label and its provenance, as separate fields."""

    label: str
    name: str
    source: str
    sha256: str
    warning: str | None
    verified: bool | None
    n_train: int
    n_test: int


class WorkerInfo(TypedDict):
    executor: str
    host: str
    device_name: str
    torch_threads: int


class Record(TypedDict):
    """Fields every record has, finished or failed."""

    key: str
    kind: str  # "compressor" or "attack"
    suite: str
    seed: int
    dataset: DatasetInfo
    target: dict[str, Any]  # label, name, params, train, key
    device: str
    environment: dict[str, Any]  # what entered the key: torch, device, device_name, threads, numerics
    numerics: dict[str, Any]
    created: str
    innr_bench: str
    git_commit: str | None
    worker: WorkerInfo
    status: str  # "ok" or "failed"
    wall_seconds: float
    compressor: NotRequired[dict[str, Any]]  # the component, for kind "compressor"
    attack: NotRequired[dict[str, Any]]  # the component, for kind "attack"
    error: NotRequired[str]
    traceback: NotRequired[str]


class CompressorResult(TypedDict):
    """What a finished compressor cell adds."""

    target_accuracy: float
    target_train: dict[str, Any]
    accuracy: float
    delta: float
    agreement: float
    size_bytes: int
    fp32_bytes: int
    ratio: float
    data_free: bool
    compress_seconds: float | None
    weight_error: dict[str, Any]
    info: dict[str, Any]


class AttackResult(TypedDict):
    """What a finished attack cell adds: the transfer matrix, one row per (eps, source net,
    evaluated net), between `nets`; the inheritance board, one row per (eps, net) for the original,
    every compressed copy and the control (accuracy, conditional and relative transfer under the
    original's adversarials; accuracy under its own, white-box); the attack's wall time."""

    nets: list[str]
    n_attacked: int
    transfer: list[dict[str, Any]]
    inheritance: NotRequired[list[dict[str, Any]]]  # records before the board have none
    whitebox_only: NotRequired[bool]
    copies: NotRequired[int]
    attack_seconds: NotRequired[float]
    control: dict[str, Any] | None


Identity = tuple[str, str, str, str, int]  # dataset label, target label, kind, component label, seed


def component_label(record: dict[str, Any]) -> str:
    return record[record["kind"]]["label"]


def identity(record: dict[str, Any]) -> Identity:
    """The cell a record measures, whatever the environment: how two result sets are matched."""
    return (record["dataset"]["label"], record["target"]["label"], record["kind"],
            component_label(record), int(record["seed"]))


def setting(record: dict[str, Any]) -> tuple[str, str, str, str]:
    """The identity without the seed: what seeds are averaged over."""
    return identity(record)[:4]


def signature_of(kind: str, seed: int, component: dict[str, Any], target: dict[str, Any],
                 data_sha256: str) -> str:
    """What a cell computes, without where: the same component (its resolved spec and version
    included) on the same target, data and seed. `--reuse any` takes a finished record with the
    same signature."""
    from innr_bench.engine.store import content_key

    return content_key({"kind": kind, "seed": seed, "component": component,
                        "target": {k: v for k, v in target.items() if k != "key"},
                        "data": data_sha256})


def signature(record: dict[str, Any]) -> str:
    return signature_of(record["kind"], record["seed"], record[record["kind"]], record["target"],
                        record["dataset"]["sha256"])


# --- The schema: versioned, validated on load, older records upgraded in one place ------------

SCHEMA_VERSION = 3  # 1: records before the field existed; 2: + `correct` (compressor); 3: transfer
# rows name the net they evaluate `evaluated` (was `target`, which also names the trained model)


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class DatasetModel(_Loose):
    label: str
    name: str
    source: str
    sha256: str
    n_train: int
    n_test: int


class ComponentModel(_Loose):
    name: str
    label: str


class RecordModel(_Loose):
    """What every record must hold to be read at all (finished or failed); kind-specific fields
    are checked by `CompressorModel` / `AttackModel` for finished cells."""

    schema_version: int = SCHEMA_VERSION
    key: str
    kind: Literal["compressor", "attack"]
    seed: int
    dataset: DatasetModel
    target: dict[str, Any]
    status: Literal["ok", "failed"]
    git_commit: str | None = None
    environment: dict[str, Any] | None = None  # what entered the key; None: made before it was recorded
    compressor: ComponentModel | None = None
    attack: ComponentModel | None = None


class CompressorModel(RecordModel):
    accuracy: float
    target_accuracy: float
    delta: float
    agreement: float
    size_bytes: int
    fp32_bytes: int
    ratio: float
    data_free: bool
    correct: dict[str, Any] | None = None  # {"n": test inputs, "bits": packed}; schema 2 on


class TransferRowModel(_Loose):
    """One (eps, source net, evaluated net) cell of an attack's transfer matrix."""

    eps: float
    source: str
    evaluated: str
    accuracy: float


class AttackModel(RecordModel):
    nets: list[str]
    transfer: list[TransferRowModel]
    inheritance: list[dict[str, Any]] = []
    whitebox_only: bool = False
    n_attacked: int | None = None


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
    found["schema_version"] = SCHEMA_VERSION
    return found


def validated(record: dict[str, Any]) -> dict[str, Any]:
    """The upgraded record, checked against the schema (ValidationError when it does not fit)."""
    found = upgrade(record)
    model = RecordModel
    if found.get("status") == "ok":
        model = CompressorModel if found.get("kind") == "compressor" else AttackModel
    model.model_validate(found)
    return found
