"""A suite's work as a plan: target groups, their keys, and the tasks that compute cells.

Pure: nothing here trains, reads or writes. The same plan is built by the runner and by every
remote worker from the same inputs, so they agree on every key."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from innr_bench.config import CONTROL, ORIGINAL, Component, EvalConfig, Suite, Target
from innr_bench.data.datasets import Dataset
from innr_bench.engine.keys import content_key
from innr_bench.engine.records import signature_of
from innr_bench.models.placement import TRAINER_REVISION
from innr_bench.registry import COMPRESSORS, MODELS

GroupId = tuple[str, str, int]  # dataset label, target label, seed
KINDS = ("compressor", "attack")
# Target keys hash the package version they were defined under, frozen: what training computes
# is versioned by TRAINER_REVISION (and a model's own registered version), not by releases.
TARGET_KEY_VERSION = "0.1.0"


@dataclass(frozen=True)
class Task:
    """One independent unit of work: train a target (`kind == "target"`) or compute one cell
    (`kind` "compressor" or "attack", `index` into the suite's list of that kind)."""

    kind: str
    group: GroupId
    index: int = -1
    key: str = ""


@dataclass
class TargetGroup:
    """One target to train (dataset x target config x seed); the model is filled in by a worker."""

    dataset: Component
    data: Dataset
    target: Target
    seed: int
    key: str
    model: Any = None  # nn.Module once trained or loaded
    info: dict[str, Any] = field(default_factory=dict)
    test_predictions: Any = None  # the original's, computed once per group

    @property
    def id(self) -> GroupId:
        return (self.dataset.label, self.target.model.label, self.seed)

    def describe(self) -> dict[str, Any]:
        weights = self.target.weights
        return {"label": self.target.model.label, "name": self.target.model.name,
                "params": self.target.model.params, "train": self.target.train.to_dict(),
                **({"weights": weights.to_dict()} if weights else {}), "key": self.key}


class Plan:
    """Every key of a suite run in one environment.

    `environment` is what a number depends on besides the suite (torch version, device kind and
    name, CPU threads, reduced-precision numerics): it enters every target key, so compressed
    copies, cells and records made elsewhere are never reused for this environment."""

    def __init__(self, suite: Suite, datasets: dict[str, Dataset], environment: dict[str, Any]) -> None:
        self.suite = suite
        self.datasets = datasets
        self.environment = environment
        self.groups: dict[GroupId, TargetGroup] = {}
        for dataset in suite.datasets:
            for target in suite.targets:
                for seed in suite.seeds:
                    group = self._group(dataset, target, seed)
                    self.groups[group.id] = group

    def _group(self, dataset: Component, target: Target, seed: int) -> TargetGroup:
        data = self.datasets[dataset.label]
        model_version = MODELS.entry(target.model.name).version
        key = content_key({
            "dataset": _legacy(dataset), "data_sha256": data.sha256,
            "model": _legacy(target.model), "train": target.train.to_dict(),
            "seed": seed, "version": TARGET_KEY_VERSION, "trainer": TRAINER_REVISION,
            "environment": self.environment,
            **({"model_version": model_version} if model_version != 1 else {}),
            # a target loaded from a checkpoint is that file: its bytes, not its path
            **({"weights_sha256": target.weights.sha256} if target.weights else {}),
        })
        return TargetGroup(dataset, data, target, seed, key)

    def group(self, gid: GroupId) -> TargetGroup:
        """A group by id, including a control target outside the suite's seeds."""
        if gid not in self.groups:
            dataset_label, target_label, seed = gid
            dataset = next(d for d in self.suite.datasets if d.label == dataset_label)
            target = next(t for t in self.suite.targets if t.model.label == target_label)
            self.groups[gid] = self._group(dataset, target, seed)
        return self.groups[gid]

    def at_seed(self, group: TargetGroup, seed: int) -> TargetGroup:
        """The group of `group`'s dataset and target at another seed."""
        return self.group((group.dataset.label, group.target.model.label, seed))

    def has_control(self, group: TargetGroup) -> bool:
        """Whether `group`'s attack cells hold a control: an independently trained copy, which a
        target loaded from a checkpoint does not have (the next seed loads the same file)."""
        return self.suite.eval.control and group.target.weights is None

    def control(self, group: TargetGroup) -> TargetGroup:
        """The independently trained copy for `group`: the next seed's target (seed + 1 when the
        suite has one seed), shared with that seed's cells when it is part of the suite."""
        seeds = self.suite.seeds
        seed = seeds[(seeds.index(group.seed) + 1) % len(seeds)] if len(seeds) > 1 else group.seed + 1
        return self.at_seed(group, seed)

    def components(self, kind: str) -> list[Component]:
        return self.suite.attacks if kind == "attack" else self.suite.compressors

    def names_its_nets(self, task: Task, record: dict[str, Any]) -> bool:
        """Whether a finished attack record names the nets it attacked by today's labels. A cell's
        key holds the copies' keys, not their labels, so a relabelled copy keeps the attack's key:
        such a record is recomputed, never shown under a label the suite no longer has."""
        if task.kind != "attack":
            return True
        group = self.group(task.group)
        attack = self.suite.attacks[task.index]
        return stale_labels(record, attack, attacked(self.suite.compressors, group),
                            inherited(self.suite, attack, group), control=self.has_control(group)) is None

    # -- keys -------------------------------------------------------------------------------

    def cell_key(self, group: TargetGroup, component: Component) -> str:
        if component.kind != "attack":
            seeds = self.fit_group(group, component)
            return hash_cell(group.key, component, None if seeds is None else {"fit_group": seeds})
        control = self.control(group).key if self.has_control(group) else None
        nets = [self.copy_key(group, c) for c in attacked(self.suite.compressors, group)]
        copies = [self.copy_key(group, c) for c in inherited(self.suite, component, group)]
        inputs = attack_inputs(self.suite.eval, component, nets, copies, control)
        return hash_cell(group.key, component, inputs)

    def copy_key(self, group: TargetGroup, compressor: Component) -> str:
        return hash_copy(group.key, compressor, self.fit_group(group, compressor))

    def fit_group(self, group: TargetGroup, compressor: Component) -> list[int] | None:
        """The seeds whose copies of `compressor` are fit together with `group`'s (`eval.stack_fits`
        consecutive seeds of the suite, where the compressor fits copies together), or None: alone."""
        size = self.suite.eval.stack_fits
        if size == 1 or group.seed not in self.suite.seeds:
            return None
        fits = getattr(COMPRESSORS.get(compressor.name), "fits_together", None)
        if not (callable(fits) and fits(compressor.spec)):
            return None
        at = self.suite.seeds.index(group.seed) // size * size
        seeds = self.suite.seeds[at:at + size]
        return seeds if len(seeds) > 1 else None

    def fit_leader(self, group: TargetGroup, compressor: Component) -> TargetGroup | None:
        """The group whose task fits `group`'s copy of `compressor` with its own, when that is
        another group: `group`'s compressor task then waits for it and finds its copy made."""
        seeds = self.fit_group(group, compressor)
        if seeds is None or seeds[0] == group.seed:
            return None
        return self.at_seed(group, seeds[0])

    def signature(self, task: Task) -> str:
        """The environment-free identity of a cell task (see `records.signature`)."""
        group = self.group(task.group)
        component = self.components(task.kind)[task.index]
        return signature_of(task.kind, group.seed, json.loads(json.dumps(component.to_dict(), default=str)),
                            group.describe(), group.data.sha256)

    # -- tasks ------------------------------------------------------------------------------

    def cells(self) -> list[Task]:
        """Every cell of the suite, compressor cells first."""
        return [Task(c.kind, group.id, i, self.cell_key(group, c))
                for group in list(self.groups.values())
                for kind in KINDS
                for i, c in enumerate(self.components(kind))
                if c.applies_to(group.target.model.label)]

    def targets_for(self, cells: list[Task]) -> list[TargetGroup]:
        """The targets `cells` need (controls included), in first-needed order."""
        needed: dict[GroupId, TargetGroup] = {}
        for task in cells:
            group = self.group(task.group)
            needed[group.id] = group
            if task.kind == "attack" and self.has_control(group):
                control = self.control(group)
                needed[control.id] = control
        return list(needed.values())

    def outputs(self, task: Task) -> list[tuple[str, str]]:
        """Cache entries (kind, key) a task makes: its trained target or its compressed copy
        (what cells of the same target wait for when the work is scheduled by dependency)."""
        group = self.group(task.group)
        if task.kind == "target":
            return [("targets", group.key)]
        if task.kind == "compressor":
            return [("compressed", self.copy_key(group, self.suite.compressors[task.index]))]
        return []

    def inputs(self, task: Task) -> list[tuple[str, str]]:
        """Cache entries (kind, key) a task reads when they exist: what to ship to a remote worker."""
        group = self.group(task.group)
        needed = [("targets", group.key)]
        if task.kind == "compressor":
            compressor = self.suite.compressors[task.index]
            needed.append(("compressed", self.copy_key(group, compressor)))
            leader = self.fit_leader(group, compressor)
            if leader is not None:  # its copy is made by the leader's task: wait for that
                needed.append(("compressed", self.copy_key(leader, compressor)))
            elif (seeds := self.fit_group(group, compressor)) is not None:  # the leader reads every target
                needed += [("targets", self.at_seed(group, s).key) for s in seeds if s != group.seed]
        elif task.kind == "attack":
            if self.has_control(group):
                needed.append(("targets", self.control(group).key))
            attack = self.suite.attacks[task.index]
            nets = attacked(self.suite.compressors, group) + inherited(self.suite, attack, group)
            needed += list(dict.fromkeys(("compressed", self.copy_key(group, c)) for c in nets))
        return needed


def _legacy(component: Component) -> dict[str, Any]:
    """A dataset's or model's dict as target keys have always hashed it (spec and version are
    left out: a model's version enters as `model_version` where it is not 1)."""
    return {k: v for k, v in component.to_dict().items() if k not in ("spec", "version")}


def hash_copy(target_key: str, compressor: Component, fit_group: list[int] | None = None) -> str:
    """The cache key of a compressed copy: its target, what the compressor runs, and the seeds
    it was fit together with (none: alone)."""
    return content_key({"group": target_key, **compressor.identity(),
                        **({"fit_group": fit_group} if fit_group is not None else {})})


def hash_cell(target_key: str, component: Component, inputs: dict[str, Any] | None = None) -> str:
    """A cell's key: its target, what the component runs, its label, and what else it reads."""
    return content_key({"kind": component.kind, "group": target_key, **component.identity(),
                        "label": component.label, **(inputs or {})})


def attack_inputs(evaluation: EvalConfig, attack: Component, nets: list[str], copies: list[str],
                  control: str | None) -> dict[str, Any]:
    """What an attack cell reads besides its target: the evaluation settings, the compressed
    copies in its transfer matrix (`nets`) and on its inheritance board (`copies`, keys), and
    the control's target key."""
    shown_only = ("headline_eps",)  # what the reports show, not what is computed
    # at these values the cell is computed as before they existed
    added_later = {"stack_copies": 1, "stack_fits": 1}
    return {"eval": {k: v for k, v in evaluation.__dict__.items()
                     if k not in shown_only and added_later.get(k, object()) != v},
            **({"limit": attack.limit} if attack.limit is not None else {}),
            **({"whitebox_only": True} if attack.whitebox_only else {}),
            "nets": nets, **({"copies": copies} if copies else {}),
            **({"control": [control]} if control is not None else {})}


def stale_labels(record: dict[str, Any], attack: Component, matrix: list[Component], board: list[Component],
                 *, control: bool, whose: str = "the suite's") -> str | None:
    """Why an attack record does not name the nets of `matrix` (its transfer matrix, with the
    original and, with `control`, the control) and of `board` (its inheritance board) by their
    labels, or None when it does."""
    shown = [ORIGINAL, *(c.label for c in matrix), *([CONTROL] if control else [])]
    if not attack.whitebox_only and record.get("nets") != shown:
        return f"its matrix {record.get('nets')} is not {whose} {shown}"
    rows = {row.get("net") for row in record.get("inheritance", [])} - {ORIGINAL, CONTROL}
    if rows != {c.label for c in board}:
        return f"its inheritance board is not {whose}"
    return None


def attacked(compressors: list[Component], group: TargetGroup | str) -> list[Component]:
    """Compressed copies that enter transfer matrices (identity would duplicate the original),
    for a group or a target label."""
    label = group if isinstance(group, str) else group.target.model.label
    return [c for c in compressors if c.name != "identity" and c.transfer and c.applies_to(label)]


def inherited(suite: Suite, attack: Component, group: TargetGroup | str) -> list[Component]:
    """Compressed copies on the inheritance board of an attack cell: every setting of every method
    that applies to the target (identity is the original), when the suite asks for the board or
    the attack is white-box only."""
    if not (suite.eval.inheritance or attack.whitebox_only):
        return []
    label = group if isinstance(group, str) else group.target.model.label
    return [c for c in suite.compressors if c.name != "identity" and c.applies_to(label)]
