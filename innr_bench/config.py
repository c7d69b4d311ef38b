"""Suite files: YAML -> validated frozen dataclasses, with grids expanded into components."""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict, field
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
import yaml
from pydantic import Field
from pydantic.dataclasses import dataclass

import innr_bench.components  # noqa: F401  (registers the built-in components)
from innr_bench.errors import ConfigError, MissingExtraError, UnknownComponentError
from innr_bench.models.checkpoint import WeightsFile, weights_file
from innr_bench.models.external import download_named, ensure_registered, is_weights_name
from innr_bench.models.train import TrainConfig
from innr_bench.numerics import NumericsConfig
from innr_bench.params import format_validation_error, validate_params
from innr_bench.plugins import load_installed_plugins, load_plugins
from innr_bench.registry import ATTACKS, COMPRESSORS, DATASETS, MODELS, Registry

STRICT = pydantic.ConfigDict(extra="forbid")
ORIGINAL = "original"  # the uncompressed target's name in transfer matrices
CONTROL = "control"  # an independently trained copy of the target (another seed)


@dataclass(frozen=True, config=STRICT)
class ComponentSpec:
    """A registry name with parameters; every list under `grid` is one axis of a product."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, Annotated[list[Any], Field(min_length=1)]] = field(default_factory=dict)
    label: str | None = None  # shown in leaderboards; default: name and the params given


@dataclass(frozen=True, config=STRICT)
class CompressorSpec(ComponentSpec):
    """A compressor; `transfer: false` keeps its copies out of the attack-transfer matrices (whose
    cost grows with the square of the number of nets); `targets` applies it to those target
    labels only (settings that are per-layer, such as a list per weight tensor)."""

    transfer: bool = True
    targets: Annotated[list[str], Field(min_length=1)] | None = None


@dataclass(frozen=True, config=STRICT)
class AttackSpec(ComponentSpec):
    """An attack; `limit` attacks only the first N test inputs (default: `eval.attack_limit`),
    so an expensive attack can run on a subset while cheap ones see every input. `whitebox_only`
    crafts it on each net for that net alone (its own robustness; e.g. AutoAttack), with no
    transfer between nets."""

    limit: Annotated[int, Field(gt=0)] | None = None
    whitebox_only: bool = False


@dataclass(frozen=True, config=STRICT)
class TargetSpec(ComponentSpec):
    """A target model and how to train it; `train` keys left out come from the model's
    registered training default (`innr-bench list models` shows it), then TrainConfig's. With
    `weights` (a .safetensors or torch state_dict file, relative to the suite file; or, for
    torchvision:/timm: targets, a named pretrained weights) it is loaded, not trained."""

    train: dict[str, Any] = field(default_factory=dict)
    weights: str | None = None


@dataclass(frozen=True, config=STRICT)
class EvalConfig:
    """How nets are evaluated and attacked."""

    batch_size: Annotated[int, Field(gt=0)] = 1000
    attack_limit: Annotated[int, Field(gt=0)] | None = None  # attack the first N test inputs; None: all
    # An independently trained copy of the target enters every transfer matrix as "control":
    # the target of the next seed in `seeds` (one extra target is trained for a one-seed suite).
    control: bool = True
    # Every compressed copy (every method and budget, transfer or not) is attacked too: under
    # adversarials crafted on the original (crafted once, reused) and white-box on itself.
    inheritance: bool = True
    # The eps the inheritance leaderboard shows; None: each attack's largest eps.
    headline_eps: Annotated[float, Field(gt=0)] | None = None
    # Attack and evaluate up to this many copies of one architecture as one batched pass
    # (innr_bench.models.stacked); 1 = one net at a time, as every published suite ran. Larger stacks
    # change floating-point summation order (a few inputs may flip), so it enters the key.
    stack_copies: Annotated[int, Field(ge=1, le=64)] = 1
    # Fit the INNR copies of one setting on up to this many seeds' targets as one batched weight
    # fit (innr_bench.compress.innr.together), each still its own cell; 1 = one fit at a time, as
    # every published suite ran. Batched products may sum in another order, so it enters the key.
    stack_fits: Annotated[int, Field(ge=1, le=64)] = 1


@dataclass(frozen=True, config=STRICT)
class Reference:
    """A published result shown beside the measured ones, never mixed with them: a distinct
    marker on the accuracy-vs-bytes plot and its own table under the target's leaderboard."""

    label: str  # who published it, e.g. "Han et al. 2016, Table 1"
    target: str  # the label of the suite's target it is compared with
    method: str  # what the published row is, e.g. "deep-compression" or "original (fp32)"
    accuracy: Annotated[float, Field(ge=0, le=100)]  # top-1 %, as published (100 - error %)
    bytes: Annotated[int, Field(gt=0)] | None = None  # stored size as published (KB = 1,000 bytes)
    ratio: Annotated[float, Field(gt=0)] | None = None  # published size / published fp32 size
    note: str = ""


@dataclass(frozen=True, config=STRICT)
class SuiteSpec:
    """The YAML file as written."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    seeds: Annotated[list[int], Field(min_length=1)]
    datasets: Annotated[list[ComponentSpec], Field(min_length=1)]
    targets: Annotated[list[TargetSpec], Field(min_length=1)]
    compressors: Annotated[list[CompressorSpec], Field(min_length=1)]
    attacks: list[AttackSpec] = field(default_factory=list)
    description: str = ""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    eval: EvalConfig = field(default_factory=EvalConfig)
    numerics: NumericsConfig = field(default_factory=NumericsConfig)
    references: list[Reference] = field(default_factory=list)
    # modules to import first: they register components from outside innr-bench
    plugins: list[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")]] = \
        field(default_factory=list)


@dataclass(frozen=True)
class Component:
    """One concrete, validated configuration of a registered component."""

    kind: str
    name: str
    params: dict[str, Any]  # validated, with defaults filled in (what the suite could have written)
    label: str
    transfer: bool = True  # compressors: whether the copy enters attack-transfer matrices
    limit: int | None = None  # attacks: attack only the first N test inputs
    targets: tuple[str, ...] | None = None  # compressors: the target labels it applies to; None: all
    whitebox_only: bool = False  # attacks: each net attacked on its own, no transfer
    # What actually runs, every default filled in (a compressor's own resolution, e.g. an
    # INNR's layout, field, stages and storage; else the params set): with `version`, what a
    # cell's key hashes, so a changed default or a changed component changes the key.
    spec: dict[str, Any] = field(default_factory=dict)
    version: int = 1  # the registered component's own version
    # compressors: whether what the spec runs reads no data (resolved with the spec; records say
    # it per cell, so it is not part of the component's dict)
    data_free: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "params": self.params, "label": self.label, "spec": self.spec,
                "version": self.version,
                **({} if self.transfer else {"transfer": False}),
                **({} if self.limit is None else {"limit": self.limit}),
                **({"whitebox_only": True} if self.whitebox_only else {}),
                **({} if self.targets is None else {"targets": list(self.targets)})}

    def applies_to(self, target: str) -> bool:
        """Whether this component computes cells for the target with label `target`."""
        return self.targets is None or target in self.targets

    def identity(self) -> dict[str, Any]:
        """What identifies the computation in a key: the name, the resolved spec and the version."""
        return {"name": self.name, "spec": self.spec, "version": self.version}


def resolved_spec(instance: Any, params: dict[str, Any]) -> dict[str, Any]:
    """A component's resolved spec: its own `resolved_spec()` where it has one, else its params
    with unset (None) options left out (an option added later with None meaning "not set"
    leaves the keys of what was computed before as they were)."""
    own = getattr(instance, "resolved_spec", None)
    spec = own() if callable(own) else {k: v for k, v in params.items() if v is not None}
    return json.loads(json.dumps(spec, default=str))


@dataclass(frozen=True)
class Target:
    """A target model component and its training configuration, or the file it is loaded from."""

    model: Component
    train: TrainConfig
    weights: WeightsFile | None = None  # loaded from this file, never trained

    def to_dict(self) -> dict[str, Any]:
        return {**self.model.to_dict(), "train": self.train.to_dict(),
                **({"weights": self.weights.to_dict()} if self.weights else {})}


@dataclass(frozen=True)
class Suite:
    """A validated suite with every grid expanded."""

    name: str
    description: str
    path: str
    seeds: list[int]
    device: str
    datasets: list[Component]
    targets: list[Target]
    compressors: list[Component]
    attacks: list[Component]
    eval: EvalConfig
    numerics: NumericsConfig = NumericsConfig()
    references: tuple[Reference, ...] = ()
    plugins: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form stored next to results."""
        return json.loads(json.dumps({
            "name": self.name, "description": self.description, "path": self.path,
            "seeds": self.seeds, "device": self.device,
            "datasets": [c.to_dict() for c in self.datasets],
            "targets": [t.to_dict() for t in self.targets],
            "compressors": [c.to_dict() for c in self.compressors],
            "attacks": [c.to_dict() for c in self.attacks],
            "eval": asdict(self.eval), "numerics": asdict(self.numerics),
            **({"references": [asdict(r) for r in self.references]} if self.references else {}),
            **({"plugins": list(self.plugins)} if self.plugins else {}),
        }, default=str))


def load_suite(path: str | Path, *, plugins: tuple[str, ...] = ()) -> Suite:
    """Read, validate and expand a suite file; every problem raises ConfigError naming the file.
    `plugins`: modules to import besides the suite's own `plugins` (the --plugin option)."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: suite file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read suite file ({error})") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from None
    return parse_suite(raw, source=str(path), plugins=plugins, search=path.resolve().parent)


def parse_suite(raw: Any, *, source: str = "<suite>", plugins: tuple[str, ...] = (),
                search: Path | None = None) -> Suite:
    """Validate an already-parsed YAML document, after importing the plugins it and `plugins`
    name (`search`: a directory tried first for them, the suite file's)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of keys, got {type(raw).__name__}")
    try:
        spec = pydantic.TypeAdapter(SuiteSpec).validate_python(raw)
    except pydantic.ValidationError as error:
        raise ConfigError(_prefix(format_validation_error(error, where=""), source)) from None
    load_installed_plugins()
    for i, module in enumerate(spec.plugins):
        load_plugins([module], where=f"{source}: plugins[{i}]", search=search)
    load_plugins(plugins, where="--plugin", search=search)
    targets = []
    for i, target in enumerate(spec.targets):
        ensure_registered(target.name, where=f"{source}: targets[{i}].name", search=search)
        models = _expand(f"targets[{i}]", target, MODELS, source)
        weights = _weights(f"targets[{i}]", target, source, search)
        train = _train_config(f"targets[{i}].train", models[0].name, target.train, source)
        targets += [Target(model, train, weights) for model in models]
    _check_target_labels(spec, targets, source)
    return Suite(
        name=spec.name,
        description=spec.description,
        path=source,
        seeds=list(spec.seeds),
        device=spec.device,
        datasets=_expand_all("datasets", spec.datasets, DATASETS, source),
        targets=targets,
        compressors=_expand_all("compressors", spec.compressors, COMPRESSORS, source),
        attacks=_expand_all("attacks", spec.attacks, ATTACKS, source),
        eval=spec.eval,
        numerics=spec.numerics,
        references=tuple(spec.references),
        plugins=tuple(dict.fromkeys([*spec.plugins, *plugins])),
    )


def _check_target_labels(spec: SuiteSpec, targets: list[Target], source: str) -> None:
    """Every target label a compressor's `targets` or a reference names must be one of the suite's."""
    labels = {t.model.label for t in targets}
    named = [(f"compressors[{i}].targets", label) for i, c in enumerate(spec.compressors)
             for label in c.targets or ()]
    named += [(f"references[{i}].target", r.target) for i, r in enumerate(spec.references)]
    for where, label in named:
        if label not in labels:
            raise ConfigError(f"{source}: {where}: {label!r} is not a target label of this suite; "
                              f"use one of {sorted(labels)}")


def _weights(where: str, target: TargetSpec, source: str, search: Path | None) -> WeightsFile | None:
    """The checkpoint a target is loaded from (its sha256 read now, so it enters every key)."""
    if target.weights is None:
        return None
    if target.train:
        raise ConfigError(f"{source}: {where}.train: a target loaded from weights is not trained here; "
                          "remove train, or remove weights to train it")
    if is_weights_name(target.name, target.weights):
        path = download_named(target.name, target.weights, where=f"{source}: {where}.weights")
    else:
        path = Path(target.weights).expanduser()
        if not path.is_absolute() and search is not None:
            path = search / path
    return weights_file(path, where=f"{source}: {where}.weights")


def _train_config(where: str, model: str, given: dict[str, Any], source: str) -> TrainConfig:
    """The model's registered training default, overridden key by key by the suite's `train`."""
    merged = {**MODELS.entry(model).defaults.get("train", {}), **given}
    try:
        return TrainConfig(**merged)
    except pydantic.ValidationError as error:
        raise ConfigError(_prefix(format_validation_error(error, where=where), source)) from None
    except TypeError as error:
        raise ConfigError(f"{source}: {where}: {error}") from None


def _prefix(message: str, source: str) -> str:
    """Every line of `message` after `source` (a file, or a file and a key path ending in ".")."""
    sep = "" if source.endswith(".") else ": "
    return "\n".join(f"{source}{sep}{line.lstrip('.')}" for line in message.splitlines())


def _expand_all(
    key: str, specs: list[ComponentSpec], registry: Registry[Any], source: str
) -> list[Component]:
    components = [c for i, s in enumerate(specs) for c in _expand(f"{key}[{i}]", s, registry, source)]
    labels = [c.label for c in components]
    reserved = sorted({ORIGINAL, CONTROL} & set(labels)) if key == "compressors" else []
    if reserved:
        raise ConfigError(f"{source}: {key}: label {reserved[0]!r} is reserved for the nets every "
                          "transfer matrix holds; choose another `label`")
    duplicates = sorted({a.label for i, a in enumerate(components) for b in components[i + 1:]
                         if a.label == b.label and _overlap(a, b)})
    if duplicates:
        raise ConfigError(
            f"{source}: {key}: configurations {duplicates} appear more than once; "
            "remove the copy or give each a distinct `label`"
        )
    return components


def _overlap(a: Component, b: Component) -> bool:
    """Whether two components compute cells for a common target (one label may serve
    several targets through disjoint `targets` lists)."""
    return a.targets is None or b.targets is None or bool(set(a.targets) & set(b.targets))


def _expand(where: str, spec: ComponentSpec, registry: Registry[Any], source: str) -> list[Component]:
    try:
        entry = registry.entry(spec.name)
    except UnknownComponentError as error:
        raise ConfigError(f"{source}: {where}.name: {error}") from None
    clash = sorted(set(spec.params) & set(spec.grid))
    if clash:
        raise ConfigError(f"{source}: {where}: {clash} set in both params and grid; keep one")
    axes = list(spec.grid)
    components = []
    for values in itertools.product(*(spec.grid[a] for a in axes)):
        given = {**spec.params, **dict(zip(axes, values))}
        try:
            params = validate_params(entry.factory, given, where=f"{where}.params")
        except ConfigError as error:
            raise ConfigError(_prefix(str(error), source)) from None
        instance = None
        if registry.kind in ("compressor", "attack"):  # cheap to build: catch cross-field errors now
            try:
                instance = entry.factory(**params)
            except ConfigError as error:
                raise ConfigError(_prefix(str(error), f"{source}: {where}.params.")) from None
            except MissingExtraError as error:
                raise MissingExtraError(f"{source}: {where}: {error}") from None
        label = _label(spec, entry.name, given, axes)
        only = getattr(spec, "targets", None)
        components.append(Component(registry.kind, entry.name, params, label,
                                    transfer=getattr(spec, "transfer", True),
                                    limit=getattr(spec, "limit", None),
                                    targets=None if only is None else tuple(only),
                                    whitebox_only=getattr(spec, "whitebox_only", False),
                                    spec=resolved_spec(instance, params), version=entry.version,
                                    data_free=bool(getattr(instance, "data_free", True))))
    return components


def _label(spec: ComponentSpec, name: str, given: dict[str, Any], axes: list[str]) -> str:
    shown = {k: given[k] for k in axes} if spec.label else given
    suffix = ",".join(f"{k}={_short(v)}" for k, v in shown.items())
    base = spec.label or name
    return f"{base}[{suffix}]" if suffix else base


def _short(value: Any) -> str:
    if isinstance(value, list):
        return "/".join(_short(v) for v in value)
    if isinstance(value, dict):  # a part, e.g. an INNR's field: `gauss(scale=3)`
        options = ",".join(f"{k}={_short(v)}" for k, v in value.items() if k != "name")
        return f"{value.get('name', '')}({options})" if options else str(value.get("name", "()"))
    return f"{value:g}" if isinstance(value, float) else str(value)
