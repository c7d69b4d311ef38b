"""Expand a suite into cells, compute the missing ones, and store one record per cell."""

from __future__ import annotations

import contextlib
import logging
import time
import traceback
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import nn

import innr_bench
from innr_bench.cache import TensorCache
from innr_bench.compress.base import CompressContext, Compressed, fp32_bytes, named_weights
from innr_bench.config import CONTROL, ORIGINAL, Component, Suite, Target
from innr_bench.data import Dataset
from innr_bench.env import environment
from innr_bench.errors import ConfigError, InnrBenchError
from innr_bench.evaluate import predict, transfer_matrix, weight_errors
from innr_bench.models.placement import TRAINER_REVISION, place_model
from innr_bench.models.train import train
from innr_bench.numerics import effective, tf32_scope
from innr_bench.progress import Progress
from innr_bench.registry import ATTACKS, COMPRESSORS, DATASETS, MODELS
from innr_bench.store import ResultStore, content_key

logger = logging.getLogger(__name__)



def resolve_device(name: str) -> torch.device:
    """`auto` picks CUDA when present; asking for CUDA without it is a user error."""
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device: 'cuda' was requested but CUDA is not available; use auto or cpu")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class RunSummary:
    """What one invocation did."""

    out_dir: Path
    computed: int = 0
    skipped: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))


@dataclass
class TargetGroup:
    """One trained target (dataset x target config x seed); trained or loaded on first use."""

    dataset: Component
    data: Dataset
    target: Target
    seed: int
    key: str
    model: nn.Module | None = None
    info: dict[str, Any] = field(default_factory=dict)
    test_predictions: torch.Tensor | None = None  # the original's, computed once per group

    def describe(self) -> dict[str, Any]:
        return {"label": self.target.model.label, "name": self.target.model.name,
                "params": self.target.model.params, "train": self.target.train.to_dict(),
                "key": self.key}


class Runner:
    """Runs a suite into `out_dir/<suite name>`, reusing every finished cell unless `force`."""

    def __init__(
        self,
        suite: Suite,
        *,
        out_dir: Path,
        device: str | None = None,
        force: bool = False,
        progress: Progress | None = None,
        cache: TensorCache | None = None,
    ) -> None:
        self.suite = suite
        self.device = resolve_device(device or suite.device)
        self.numerics = effective(suite.numerics, self.device)
        self.force = force
        self.progress = progress or Progress(enabled=False)
        self.cache = cache or TensorCache()
        self.store = ResultStore(Path(out_dir) / suite.name)
        self.summary = RunSummary(self.store.root)
        self.datasets: dict[str, dict[str, Any]] = {}
        self._commit: str | None = None
        self._all_groups: dict[tuple[str, str, int], TargetGroup] = {}

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.summary.stage_seconds[name] += time.perf_counter() - start

    def run(self) -> RunSummary:
        """Compute every missing cell; write the manifest before and after."""
        requested = self.numerics["requested"]
        if any(requested.values()) and self.device.type != "cuda":
            self.progress.print(f"NOTE: numerics {requested} apply on CUDA only; running in fp32 on "
                                f"{self.device}")
        with self.store.lock(), tf32_scope(self.numerics["tf32"]):
            runs = self.store.manifest().get("runs", [])
            env = environment(self.device)
            self._commit = env["git_commit"]
            current: dict[str, Any] = {"started": _now(), "device": str(self.device),
                                       "git_commit": env["git_commit"], "numerics": self.numerics}
            cells = [(group, component, self._cell_key(group, component))
                     for group in self._groups()
                     for component in [*self.suite.compressors, *self.suite.attacks]]
            keys = [key for _, _, key in cells]
            self._write_manifest(env, [*runs, current], keys)
            with self.progress.task("cells", total=len(cells), transient=False) as advance:
                for group, component, key in cells:
                    self._cell(group, component, key)
                    advance(1, "")
            current.update(finished=_now(), computed=self.summary.computed,
                           skipped=self.summary.skipped, failed=len(self.summary.failed),
                           stage_seconds={k: round(v, 2) for k, v in self.summary.stage_seconds.items()})
            self._write_manifest(env, [*runs, current], keys)
        return self.summary

    def _write_manifest(self, env: dict[str, Any], runs: list[dict[str, Any]], keys: list[str]) -> None:
        self.store.write_manifest({
            "suite": self.suite.to_dict(), "environment": env, "datasets": self.datasets,
            "cells": keys,  # reports show these; records of earlier suite versions stay on disk
            "runs": runs,
        })

    # -- cells ------------------------------------------------------------------------------

    def _groups(self) -> list[TargetGroup]:
        groups = []
        for dataset in self.suite.datasets:
            with self.stage("data"):
                data = DATASETS.get(dataset.name)(**dataset.params)
            if data.warning:
                self.progress.print(f"WARNING: {data.warning}")
            self.datasets[dataset.label] = {
                "name": data.name, "source": data.source, "sha256": data.sha256,
                "warning": data.warning, "n_train": len(data.train_y), "n_test": len(data.test_y),
            }
            for target in self.suite.targets:
                for seed in self.suite.seeds:
                    groups.append(self._group(dataset, data, target, seed))
        self._all_groups = {(g.dataset.label, g.target.model.label, g.seed): g for g in groups}
        return groups

    def _group(self, dataset: Component, data: Dataset, target: Target, seed: int) -> TargetGroup:
        reduced = {k: True for k in ("tf32", "amp") if self.numerics[k]}
        key = content_key({
            "dataset": dataset.to_dict(), "data_sha256": data.sha256,
            "model": target.model.to_dict(), "train": target.train.to_dict(),
            "seed": seed, "version": innr_bench.__version__, "trainer": TRAINER_REVISION,
            # reduced precision changes every number; fp32 keys stay as they were
            **({"numerics": reduced} if reduced else {}),
        })
        return TargetGroup(dataset, data, target, seed, key)

    def _control(self, group: TargetGroup) -> TargetGroup:
        """The independently trained copy for `group`: the next seed's target (seed + 1 when the
        suite has one seed), shared with that seed's cells when it is part of the suite."""
        seeds = self.suite.seeds
        seed = seeds[(seeds.index(group.seed) + 1) % len(seeds)] if len(seeds) > 1 else group.seed + 1
        index = (group.dataset.label, group.target.model.label, seed)
        if index not in self._all_groups:
            self._all_groups[index] = self._group(group.dataset, group.data, group.target, seed)
        return self._all_groups[index]

    def _cell_key(self, group: TargetGroup, component: Component) -> str:
        identity = {"name": component.name, "params": component.key_params(), "label": component.label}
        return content_key({"kind": component.kind, "group": group.key, **identity,
                            **self._cell_inputs(group, component)})

    def _cell(self, group: TargetGroup, component: Component, key: str) -> None:
        compute = self._attack_cell if component.kind == "attack" else self._compress_cell
        existing = self.store.get(key)
        if existing is not None and existing.get("status") == "ok" and not self.force:
            self.summary.skipped += 1
            return
        base = {
            "key": key, "kind": component.kind, "suite": self.suite.name, "seed": group.seed,
            "dataset": {"label": group.dataset.label, **self.datasets[group.dataset.label]},
            "target": group.describe(), component.kind: component.to_dict(),
            "device": str(self.device), "numerics": self.numerics, "created": _now(),
            "innr_bench": innr_bench.__version__, "git_commit": self._commit,
        }
        start = time.perf_counter()
        try:
            self._ensure_target(group)
            record = {**base, **compute(group, component), "status": "ok"}
        except InnrBenchError:
            raise
        except Exception as error:  # one failed cell must not stop the others
            logger.debug("cell %s failed", key, exc_info=True)
            record = {**base, "status": "failed", "error": f"{type(error).__name__}: {error}",
                      "traceback": traceback.format_exc(limit=5)}
            self.summary.failed.append(record)
        record["wall_seconds"] = round(time.perf_counter() - start, 3)
        self.store.put(record)
        self.summary.computed += 1
        self.progress.print(_summary_line(record))

    def _cell_inputs(self, group: TargetGroup, component: Component) -> dict[str, Any]:
        """What a cell depends on beyond its component: attack cells depend on the nets."""
        if component.kind != "attack":
            return {"version": innr_bench.__version__}
        control = [self._control(group).key] if self.suite.eval.control else []
        return {"version": innr_bench.__version__, "eval": self.suite.eval.__dict__,
                **({"limit": component.limit} if component.limit is not None else {}),
                "nets": [self._compressed_key(group, c) for c in self._attacked(self.suite.compressors)],
                **({"control": control} if control else {})}

    # -- targets and compressed copies ------------------------------------------------------

    def _ensure_target(self, group: TargetGroup) -> None:
        if group.model is not None:
            return
        torch.manual_seed(group.seed)  # the target's initialization
        model = MODELS.get(group.target.model.name)(**group.target.model.params)
        cached = None if self.force else self.cache.load("targets", group.key)
        if cached is not None:
            tensors, meta = cached
            model.load_state_dict(tensors)
            group.info = meta
        else:
            with self.stage("train"):
                info = train(model, group.data, group.target.train, seed=group.seed,
                             device=self.device, progress=self.progress, amp=self.numerics["amp"])
            with self.stage("evaluate"):
                preds = self._predict(model, group.data.test_x)
            info["accuracy"] = float((preds == group.data.test_y).float().mean())
            info["parameters"] = sum(p.numel() for p in model.parameters())
            info["device"] = str(self.device)
            self.cache.save("targets", group.key, model.state_dict(), info)
            group.info = info
            self.progress.print(
                f"trained {group.target.model.label} seed {group.seed}: accuracy "
                f"{info['accuracy']:.4f} after {info['steps']} steps ({info['epochs']} epochs) "
                f"in {info['seconds']:.1f} s"
            )
        group.model = place_model(model, self.device).eval()

    def _compressed_key(self, group: TargetGroup, compressor: Component) -> str:
        return content_key({"group": group.key, "name": compressor.name,
                            "params": compressor.key_params(), "version": innr_bench.__version__})

    def _compressed(self, group: TargetGroup, compressor: Component) -> Compressed:
        """The compressed copy from the cache, or compressed now (and cached)."""
        key = self._compressed_key(group, compressor)
        cached = None if self.force else self.cache.load("compressed", key)
        if cached is not None:
            tensors, meta = cached
            return Compressed(compressor.name, tensors, meta["meta"], meta["size_bytes"], meta["info"])
        instance = self._compressor(compressor)
        # only compressors that declare they use data see it
        data = None if instance.data_free else group.data
        ctx = CompressContext(seed=group.seed, device=self.device, progress=self.progress, data=data,
                              train=group.target.train, amp=self.numerics["amp"])
        with self.stage("compress"):
            compressed = instance.compress(group.model, ctx)
        self.cache.save("compressed", key, compressed.tensors, {
            "meta": compressed.meta, "size_bytes": compressed.size_bytes, "info": compressed.info})
        return compressed

    @staticmethod
    def _compressor(compressor: Component) -> Any:
        """The registered compressor configured as in the suite (cheap: nothing is fitted yet)."""
        return COMPRESSORS.get(compressor.name)(**compressor.params)

    @staticmethod
    def _attacked(compressors: list[Component]) -> list[Component]:
        """Compressed copies that enter transfer matrices (identity would duplicate the original)."""
        return [c for c in compressors if c.name != "identity" and c.transfer]

    def _predict(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return predict(model, x, batch_size=self.suite.eval.batch_size, device=self.device)

    def _compress_cell(self, group: TargetGroup, compressor: Component) -> dict[str, Any]:
        assert group.model is not None
        compressed = self._compressed(group, compressor)
        with self.stage("evaluate"):
            rebuilt = compressed.reconstruct(group.model)
            preds = self._predict(rebuilt, group.data.test_x)
            if group.test_predictions is None:
                group.test_predictions = self._predict(group.model, group.data.test_x)
            original_preds = group.test_predictions
            errors = weight_errors(named_weights(group.model), named_weights(rebuilt))
        accuracy = float((preds == group.data.test_y).float().mean())
        reference = fp32_bytes(group.model)
        if not all(torch.isfinite(p).all() for p in rebuilt.parameters()):
            raise FloatingPointError("reconstructed weights contain NaN or inf")
        return {
            "target_accuracy": group.info["accuracy"],
            "target_train": {k: group.info.get(k) for k in ("steps", "epochs", "seconds")},
            "accuracy": accuracy,
            "delta": accuracy - group.info["accuracy"],
            "agreement": float((preds == original_preds).float().mean()),
            "size_bytes": compressed.size_bytes,
            "fp32_bytes": reference,
            "ratio": compressed.size_bytes / reference,
            "data_free": bool(self._compressor(compressor).data_free),
            "compress_seconds": compressed.info.get("seconds"),
            "weight_error": errors,
            "info": compressed.info,
        }

    def _attack_cell(self, group: TargetGroup, attack: Component) -> dict[str, Any]:
        assert group.model is not None
        nets = {ORIGINAL: group.model}
        for compressor in self._attacked(self.suite.compressors):
            nets[compressor.label] = self._compressed(group, compressor).reconstruct(group.model)
        control = None
        if self.suite.eval.control:
            control = self._control(group)
            self._ensure_target(control)
            nets[CONTROL] = control.model
        limit = attack.limit or self.suite.eval.attack_limit
        x, y = group.data.test_x[:limit], group.data.test_y[:limit]
        with self.stage("attack"):
            rows = transfer_matrix(nets, ATTACKS.get(attack.name)(**attack.params), x, y,
                                   batch_size=self.suite.eval.batch_size, device=self.device,
                                   progress=self.progress)
        return {"nets": list(nets), "n_attacked": len(y), "transfer": rows,
                "control": None if control is None else {"seed": control.seed, "key": control.key,
                                                         "accuracy": control.info.get("accuracy")}}


def _summary_line(record: dict[str, Any]) -> str:
    where = f"{record['dataset']['label']} / {record['target']['label']} / seed {record['seed']}"
    kind = record["kind"]
    name = record[kind]["label"]
    if record["status"] != "ok":
        return f"FAILED {kind} {where} / {name}: {record['error']}"
    if kind == "compressor":
        return (f"done {where} / {name}: accuracy {record['accuracy']:.4f} "
                f"({100 * record['delta']:+.2f} pt), {record['size_bytes']:,} B "
                f"(ratio {record['ratio']:.3f}), {record['wall_seconds']:.1f} s")
    worst = min(r["accuracy"] for r in record["transfer"])
    return (f"done {where} / {name}: {len(record['nets'])} nets, lowest accuracy under attack "
            f"{worst:.4f}, {record['wall_seconds']:.1f} s")
