"""An INNR's resolved spec: layout x field x fit stages x storage (x a byte budget), every
default filled in, built from a preset and what a suite overrides.

Presets (`presets.json`) are data, each with a version. A part given in a suite replaces the
preset's: a layout or field of the same name is merged option by option, one of another name
replaces it; a `fit` list replaces the preset's stages; storage is merged. The resolved spec is
what a cell's key hashes (with the parts' versions), so a changed default changes the key.
A `partition` (one field per part of the target's queries) is an optional part: preset or suite.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from innr_bench.compress.innr.fields.base import SUPPLIED, size_knob
from innr_bench.compress.innr.partition import PartitionSpec
from innr_bench.compress.innr.stages import Around, Namer, Stage
from innr_bench.compress.innr.storage import StorageSpec
from innr_bench.errors import ConfigError, UnknownComponentError
from innr_bench.params import validate_params
from innr_bench.registry import FIELDS, LAYOUTS, STAGES, Registry

PRESETS: dict[str, dict[str, Any]] = json.loads((Path(__file__).parent / "presets.json").read_text())
DEFAULT_PRESET = "fast"  # under a budget or a given field size (every published cell's)
# with no size named: a field that follows the target (partitioned, so any size fits in time)
SCALABLE_PRESET, DEFAULT_RATIO = "fast-scalable", 0.13


@dataclass(frozen=True)
class InnrSpec:
    """A fully resolved INNR (JSON-ready parts). Under a budget the field's size knob is None:
    it is chosen per target, the largest whose stored bytes fit."""

    preset: dict[str, Any] | None  # {"name", "version"} of the preset it started from
    layout: dict[str, Any]  # {"name", **options}
    field: dict[str, Any]  # {"name", "version", **options}
    fit: tuple[dict[str, Any], ...]  # [{"name", **options}], run in order
    storage: dict[str, Any]
    budget: dict[str, Any] | None  # {"ratio": r} or {"bytes": n}
    # {"weights": n}: one field per part of at most n weights (`partition.py`); None: one field
    partition: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The spec as keys hash it; `partition` only where set, so specs made before it existed
        keep their keys."""
        return {"preset": self.preset, "layout": self.layout, "field": self.field, "fit": list(self.fit),
                "storage": self.storage, "budget": self.budget,
                **({"partition": self.partition} if self.partition is not None else {})}

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> InnrSpec:
        """The spec `to_dict` wrote (what a cell's key hashes), as it stands: no preset is read, so
        a machine whose presets differ computes what the key says. A field registered here at
        another version than the spec's is refused."""
        field = dict(spec["field"])
        found = FIELDS.entry(field["name"]).version
        if found != field.get("version"):
            raise ConfigError(f"field {field['name']!r} is version {found} here, the cell's key names "
                              f"version {field.get('version')}; run it where the field's code matches")
        return cls(spec["preset"], dict(spec["layout"]), field, tuple(dict(s) for s in spec["fit"]),
                   dict(spec["storage"]), spec["budget"], spec.get("partition"))

    def partition_spec(self) -> PartitionSpec | None:
        return None if self.partition is None else PartitionSpec(**self.partition)

    def stages(self) -> list[Stage]:
        return [STAGES.get(s["name"])(**{k: v for k, v in s.items() if k != "name"}) for s in self.fit]

    def storage_spec(self) -> StorageSpec:
        return StorageSpec(**self.storage)

    @property
    def data_free(self) -> bool:
        return all(stage.data_free for stage in self.stages())

    @property
    def knob(self) -> str | None:
        return size_knob(self.field["name"])


def preset_names() -> list[str]:
    return sorted(PRESETS)


def preset(name: str, where: str = "preset") -> dict[str, Any]:
    """A preset's entry (version, description, spec); one clear error for an unknown name."""
    if name not in PRESETS:
        raise ConfigError(f"{where}: {name!r} is not an INNR preset; available: {', '.join(preset_names())}")
    return PRESETS[name]


def resolve(
    *, preset_name: str = DEFAULT_PRESET, layout: Mapping[str, Any] | None = None,
    field: Mapping[str, Any] | None = None, fit: Sequence[Mapping[str, Any]] | None = None,
    storage: Mapping[str, Any] | None = None, ratio: float | None = None, bytes: int | None = None,
    partition: Mapping[str, Any] | None = None, name: Namer = str,
) -> InnrSpec:
    """The spec of preset `preset_name` with the given parts; ConfigError names the bad path."""
    entry = preset(preset_name, name("preset"))
    base = entry["spec"]
    budget = _budget(ratio, bytes, field or {}, base["field"], name)
    layout_spec = _part(LAYOUTS, _merge(base["layout"], layout), "layout", name)
    field_spec = _part(FIELDS, _merge(base["field"], field), "field", name, exclude=SUPPLIED)
    field_spec = {"name": field_spec["name"], "version": FIELDS.entry(field_spec["name"]).version,
                  **{k: v for k, v in field_spec.items() if k != "name"}}
    given_fit = base["fit"] if fit is None else fit
    stages = [_part(STAGES, dict(stage), f"fit[{i}]", name) for i, stage in enumerate(given_fit)]
    storage_spec = _storage({**base["storage"], **(storage or {})}, name)
    given_partition = partition if partition is not None else base.get("partition")
    partition_spec = None if given_partition is None else _partition(given_partition, name)
    if not stages:
        raise ConfigError(f"{name('fit')}: an INNR needs at least one fitting stage, "
                          "e.g. [{name: weights}]")
    # the options the suite wrote for each stage (a preset's stages: none), which a stage's
    # check may not override
    given = [frozenset() if fit is None else frozenset(stage) - {"name"} for stage in given_fit]
    _check(stages, given, storage_spec, field_spec, name)
    if budget is not None:  # the knob is the budget's to choose, per target
        field_spec[size_knob(field_spec["name"])] = None
    return InnrSpec({"name": preset_name, "version": entry["version"]}, layout_spec, field_spec,
                    tuple(stages), storage_spec.to_dict(), budget,
                    None if partition_spec is None else partition_spec.to_dict())


def _merge(base: Mapping[str, Any], given: Mapping[str, Any] | None) -> dict[str, Any]:
    """A part given in the suite over the preset's: merged if it names the same entry (or none)."""
    if given is None:
        return dict(base)
    if "name" in given and given["name"] != base["name"]:
        return dict(given)
    return {**base, **given}


def _part(registry: Registry[Any], spec: Mapping[str, Any], where: str, name: Namer,
          exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """{"name": canonical name, **every option validated with its default}."""
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{name(where)}: {spec!r} is invalid (a mapping with a `name` and options)")
    if "name" not in spec:
        raise ConfigError(f"{name(where + '.name')}: required key is missing (one of "
                          f"{', '.join(registry.names())})")
    try:
        entry = registry.entry(spec["name"])
    except UnknownComponentError as error:
        raise ConfigError(f"{name(where + '.name')}: {error}") from None
    given = {k: v for k, v in spec.items() if k != "name"}
    try:
        options = validate_params(entry.factory, given, where=where, exclude=exclude)
    except ConfigError as error:  # rename each line's path for the front end
        raise ConfigError("\n".join(_rename(line, name) for line in str(error).splitlines())) from None
    return {"name": entry.name, **options}


def _rename(line: str, name: Namer) -> str:
    path, _, rest = line.partition(": ")
    return f"{name(path)}: {rest}"


def _storage(given: Mapping[str, Any], name: Namer) -> StorageSpec:
    try:
        return StorageSpec(**validate_params(StorageSpec, given, where="storage"))
    except ConfigError as error:
        raise ConfigError("\n".join(_rename(line, name) for line in str(error).splitlines())) from None


def _partition(given: Mapping[str, Any], name: Namer) -> PartitionSpec:
    if not isinstance(given, Mapping):
        raise ConfigError(f"{name('partition')}: {given!r} is invalid (a mapping, e.g. {{weights: 131072}})")
    try:
        return PartitionSpec(**validate_params(PartitionSpec, given, where="partition"))
    except ConfigError as error:
        raise ConfigError("\n".join(_rename(line, name) for line in str(error).splitlines())) from None


def _budget(ratio: float | None, bytes: int | None, given_field: Mapping[str, Any],
            base_field: Mapping[str, Any], name: Namer) -> dict[str, Any] | None:
    if ratio is None and bytes is None:
        return None
    if ratio is not None and bytes is not None:
        raise ConfigError(f"{name('bytes')}: set only one of ratio and bytes (got both)")
    field_name = given_field.get("name", base_field["name"])
    knob = size_knob(field_name) if field_name in FIELDS else None
    if field_name in FIELDS and knob is None:
        raise ConfigError(f"{name('ratio' if ratio is not None else 'bytes')}: field {field_name!r} "
                          "declares no size option (register it with size=...), so a byte budget cannot "
                          "size it; set its size in the field instead")
    if knob is not None and knob in given_field:
        which = "ratio" if ratio is not None else "bytes"
        raise ConfigError(f"{name(which)}: set only one of {name('field.' + knob)}, ratio and bytes "
                          f"(got {name('field.' + knob)} and {which}); a budget picks the {knob} itself")
    return {"ratio": ratio} if ratio is not None else {"bytes": bytes}


def _check(stages: list[dict[str, Any]], given: list[frozenset[str]], storage: StorageSpec,
           field: Mapping[str, Any], name: Namer) -> None:
    """What no single part can check alone: the storage's codes, then each stage's own rules
    against the other parts (`Stage.check`); each problem names the path to change."""
    int8 = storage.precision == "int8"
    for key, active in (("entropy", storage.entropy != "none"), ("bits", storage.bits != 8)):
        if active and not int8:
            raise ConfigError(f"{name('storage.' + key)}: {getattr(storage, key)!r} needs integer codes; "
                              f"set {name('storage.precision')}: int8 (got {storage.precision!r})")
    for i, stage in enumerate(stages):
        check = getattr(STAGES.get(stage["name"]), "check", None)
        if callable(check):
            check(stage, Around(storage, field, stages[:i], given[i], f"fit[{i}]", name))
