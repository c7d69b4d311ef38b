"""Computing one task of a plan: train or load a target, compress it, evaluate it, attack it.

A `CellWorker` lives where the computing happens: in the runner's own process (local executor)
or in a Ray worker (ray executor). It never writes results; it returns them as `TaskResult`s
(with the cache entries the task wrote) and the runner stores them, so every executor feeds the
same result store. Keys come from the `Plan`, the record's shape from `records`."""

from __future__ import annotations

import contextlib
import logging
import socket
import time
import traceback
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import torch
from torch import nn

import innr_bench
from innr_bench.compress.base import CompressContext, Compressed, fp32_bytes, named_weights
from innr_bench.config import CONTROL, ORIGINAL, Component
from innr_bench.data.datasets import Dataset
from innr_bench.engine import memory
from innr_bench.engine.cache import CacheEntry, TensorCache
from innr_bench.engine.degraded import cast_on_loading, degradation
from innr_bench.engine.env import cpu_model, device_name
from innr_bench.engine.evaluate import attack_pairs, inheritance_rows, predict, weight_errors
from innr_bench.engine.plan import Plan, TargetGroup, Task, attacked, inherited
from innr_bench.engine.records import SCHEMA_VERSION, pack_correct, validated
from innr_bench.errors import InnrBenchError
from innr_bench.models.checkpoint import load_weights
from innr_bench.models.external import ensure_registered
from innr_bench.models.placement import place_model
from innr_bench.models.train import train
from innr_bench.numerics import deterministic_digits
from innr_bench.progress import Progress, RecordedProgress
from innr_bench.registry import ATTACKS, COMPRESSORS, MODELS

logger = logging.getLogger(__name__)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def dataset_info(data: Dataset) -> dict[str, Any]:
    """What results record about the data a cell saw."""
    return {"name": data.name, "source": data.source, "sha256": data.sha256,
            "warning": data.warning, "verified": data.verified,
            "n_train": len(data.train_y), "n_test": len(data.test_y)}


@contextlib.contextmanager
def timed(totals: dict[str, float], name: str) -> Iterator[None]:
    """Add the wall time of the block to `totals[name]`."""
    start = time.perf_counter()
    try:
        yield
    finally:
        totals[name] += time.perf_counter() - start


@dataclass
class TaskResult:
    """What a task produced: a cell record (none for targets), stage times, messages for the
    user, and the cache entries it wrote when it ran somewhere else (to be kept by the runner)."""

    task: Task
    record: dict[str, Any] | None = None
    stage_seconds: dict[str, float] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    entries: list[CacheEntry] = field(default_factory=list)


class CellWorker:
    """Computes tasks of a plan against a tensor cache."""

    def __init__(
        self,
        plan: Plan,
        *,
        device: torch.device,
        numerics: dict[str, Any],
        cache: TensorCache,
        force: bool = False,
        progress: Progress | None = None,
        executor: str = "local",
        git_commit: str | None = None,
        keep_freed_memory: bool = True,
    ) -> None:
        self.plan = plan
        self.suite = plan.suite
        self.device = device
        self.numerics = numerics
        self.cache = cache
        self.force = force
        self.progress = progress or Progress(enabled=False)
        self.executor = executor
        self.git_commit = git_commit
        self.stage_seconds: dict[str, float] = defaultdict(float)
        self._made: set[str] = set()  # copies this worker made (a group's members: made by one task)
        if keep_freed_memory:  # reuse freed pages, not fault them in anew
            memory.keep_freed_memory(device.type)

    def stage(self, name: str) -> contextlib.AbstractContextManager[None]:
        return timed(self.stage_seconds, name)

    # -- tasks ------------------------------------------------------------------------------

    def execute(self, task: Task) -> TaskResult:
        """Run one task; cell failures become failed records, user errors propagate."""
        before = dict(self.stage_seconds)
        group = self.plan.group(task.group)
        record = None
        with self.cache.recording() as written:
            try:
                record = self._run(task, group)
            finally:
                memory.release_freed_memory()  # what a task kept goes back to the OS once it is done
        spent = {k: v - before.get(k, 0.0) for k, v in self.stage_seconds.items()}
        messages = self.progress.drain() if isinstance(self.progress, RecordedProgress) else []
        return TaskResult(task, record, {k: v for k, v in spent.items() if v > 0}, messages, written)

    def _run(self, task: Task, group: TargetGroup) -> dict[str, Any] | None:
        record = None
        if task.kind == "target":
            try:
                self.ensure_target(group)
            except InnrBenchError:
                raise
            except Exception as error:  # the cells that need it retry and record the failure
                logger.debug("training %s failed", group.id, exc_info=True)
                self.progress.print(f"FAILED training {group.id}: {type(error).__name__}: {error}")
        else:
            record = self.cell(group, self.plan.components(task.kind)[task.index], task.key)
        return record

    def cell(self, group: TargetGroup, component: Component, key: str) -> dict[str, Any]:
        """One cell's record: its results, or status `failed` with the error; checked against
        the record schema (`records`) before it leaves the worker."""
        base = {
            "key": key, "kind": component.kind, "suite": self.suite.name, "seed": group.seed,
            "dataset": {"label": group.dataset.label, **dataset_info(group.data)},
            "target": group.describe(), component.kind: component.to_dict(),
            "device": str(self.device), "environment": self.plan.environment,
            "numerics": self.numerics, "created": now(),
            "innr_bench": innr_bench.__version__, "git_commit": self.git_commit,
            "schema_version": SCHEMA_VERSION,
            "worker": {"executor": self.executor, "host": socket.gethostname(),
                       "device_name": device_name(self.device),
                       # fits of thousands of steps round differently with another thread count
                       "torch_threads": torch.get_num_threads(),
                       # the fit seconds depend on it (engine/memory.py)
                       "freed_memory_kept": memory.kept(),
                       # "AMD EPYC" names several microarchitectures that round differently
                       "cpu": cpu_model(),
                       # whether a rerun here computes these digits again (numerics.py)
                       "deterministic": deterministic_digits(self.numerics, self.device)},
        }
        compute = self._attack_cell if component.kind == "attack" else self._compress_cell
        start = time.perf_counter()
        try:
            self.ensure_target(group)
            try:
                record = {**base, **compute(group, component), "status": "ok"}
            except InnrBenchError as error:  # bad input met while computing: say which suite entry
                error.args = (f"{self.suite.path}: {component.kind} {component.label} on "
                              f"{group.target.model.label} seed {group.seed}: {error}", *error.args[1:])
                raise
        except InnrBenchError:
            raise
        except Exception as error:  # one failed cell must not stop the others
            logger.debug("cell %s failed", key, exc_info=True)
            record = {**base, "status": "failed", "error": f"{type(error).__name__}: {error}",
                      "traceback": traceback.format_exc(limit=5)}
        record["wall_seconds"] = round(time.perf_counter() - start, 3)
        validated(record)  # a record the readers could not read is a bug here, not a cell failure
        return record

    # -- targets and compressed copies ------------------------------------------------------

    def ensure_target(self, group: TargetGroup) -> None:
        if group.model is not None:
            return
        torch.manual_seed(group.seed)  # the target's initialization
        ensure_registered(group.target.model.name, where="target")  # a Ray worker's first sight of it
        model = MODELS.get(group.target.model.name)(**group.target.model.params)
        cached = None if self.force else self.cache.load("targets", group.key)
        if cached is not None:
            tensors, meta = cached
            model.load_state_dict(tensors)
            group.info = meta
        else:
            weights = group.target.weights
            if weights is not None:
                start = time.perf_counter()
                casts = load_weights(model, weights)
                info = {"steps": None, "epochs": None, "seconds": time.perf_counter() - start,
                        "weights": weights.to_dict(), **({"weights_cast": casts} if casts else {})}
                if casts:
                    self.progress.print(f"WARNING: {cast_on_loading(info)} ({weights.path}); the copies' "
                                        "records say so")
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
            how = (f"loaded from {weights.path} (sha256 {weights.sha256[:12]})" if weights is not None else
                   f"after {info['steps']} steps ({info['epochs']} epochs) in {info['seconds']:.1f} s")
            verb = "loaded" if weights is not None else "trained"
            self.progress.print(f"{verb} {group.target.model.label} seed {group.seed}: accuracy "
                                f"{info['accuracy']:.4f} {how}")
        group.model = place_model(model, self.device).eval()

    def _compressed(self, group: TargetGroup, compressor: Component) -> Compressed:
        """The compressed copy from the cache, or compressed now (and cached)."""
        key = self.plan.compressed_key(group, compressor)
        cached = None if self.force and key not in self._made else self.cache.load("compressed", key)
        if cached is not None:
            tensors, meta = cached
            return Compressed(compressor.name, tensors, meta["meta"], meta["size_bytes"], meta["info"])
        seeds = self.plan.fit_group(group, compressor)
        if seeds is not None:
            return self._fit_together(group, compressor, seeds)
        instance = build_compressor(compressor)
        with self.stage("compress"):
            compressed = instance.compress(group.model, self._context(group, instance))
        self._keep(key, compressed)
        return compressed

    def _fit_together(self, group: TargetGroup, compressor: Component, seeds: list[int]) -> Compressed:
        """The copies of `compressor` on every seed of `seeds` fit as one (`eval.stack_fits`),
        each cached under its own key; `group`'s returned. A later task of the run for another
        member finds its copy made, even under --force."""
        members = [self.plan.group((group.dataset.label, group.target.model.label, s)) for s in seeds]
        for member in members:
            self.ensure_target(member)
        instance = build_compressor(compressor)
        with self.stage("compress"):
            made = instance.compress_together([m.model for m in members],
                                              [self._context(m, instance) for m in members])
        for member, compressed in zip(members, made, strict=True):
            compressed.info["fit_group"] = {**compressed.info.get("fit_group", {}), "seeds": list(seeds)}
            self._keep(self.plan.compressed_key(member, compressor), compressed)
        return made[seeds.index(group.seed)]

    def _context(self, group: TargetGroup, instance: Any) -> CompressContext:
        # only compressors that declare they use data see it
        data = None if instance.data_free else group.data
        return CompressContext(seed=group.seed, device=self.device, progress=self.progress, data=data,
                               train=group.target.train, amp=self.numerics["amp"],
                               input_shape=tuple(group.data.test_x.shape[1:]))

    def _keep(self, key: str, compressed: Compressed) -> None:
        self.cache.save("compressed", key, compressed.tensors, {
            "meta": compressed.meta, "size_bytes": compressed.size_bytes, "info": compressed.info})
        self._made.add(key)

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
        result = {
            "target_accuracy": group.info["accuracy"],
            "target_train": {k: group.info.get(k) for k in ("steps", "epochs", "seconds")},
            "accuracy": accuracy,
            "delta": accuracy - group.info["accuracy"],
            "agreement": float((preds == original_preds).float().mean()),
            # which test inputs it got right: rows are then compared input by input (McNemar)
            "correct": {"n": len(preds), "bits": pack_correct((preds == group.data.test_y).cpu().numpy())},
            "size_bytes": compressed.size_bytes,
            "fp32_bytes": reference,
            "ratio": compressed.size_bytes / reference,
            "data_free": bool(build_compressor(compressor).data_free),
            "compress_seconds": compressed.info.get("seconds"),
            "weight_error": errors,
            "info": compressed.info,
            "classes": group.data.num_classes,
        }
        return {**result, "degraded": degradation(result, target_info=group.info)}

    def _attack_cell(self, group: TargetGroup, attack: Component) -> dict[str, Any]:
        """The transfer matrix between the original, the copies marked `transfer` and the control;
        and the inheritance board: every copy under the original's adversarials (crafted once
        per batch and reused) and under its own (white-box). A `whitebox_only` attack: each net
        on its own, no transfer."""
        assert group.model is not None
        in_matrix, on_board = attacked(self.suite.compressors, group), inherited(self.suite, attack, group)
        matrix = [ORIGINAL, *(c.label for c in in_matrix)]
        copies = [c.label for c in on_board]
        nets = {ORIGINAL: group.model}
        for compressor in in_matrix + on_board:
            if compressor.label not in nets:
                nets[compressor.label] = self._compressed(group, compressor).reconstruct(group.model)
        control = None
        if self.plan.has_control(group):
            control = self.plan.control(group)
            self.ensure_target(control)
            nets[CONTROL] = control.model
            matrix.append(CONTROL)
        board = [*copies, *([CONTROL] if control is not None else [])]
        if attack.whitebox_only:
            evaluated_on = {name: [name] for name in [ORIGINAL, *board]}
        else:
            evaluated_on = {name: list(matrix) for name in matrix}
            evaluated_on[ORIGINAL] = list(dict.fromkeys([*matrix, *board]))
            evaluated_on.update({name: [name] for name in copies if name not in evaluated_on})
        limit = attack.limit or self.suite.eval.attack_limit
        x, y = group.data.test_x[:limit], group.data.test_y[:limit]
        start = time.perf_counter()
        with self.stage("attack"):
            rows = attack_pairs(nets, evaluated_on, ATTACKS.get(attack.name)(**attack.params), x, y,
                                batch_size=self.suite.eval.batch_size, device=self.device,
                                progress=self.progress, stack=self.suite.eval.stack_copies)
        matrix_nets = set(matrix)
        return {"nets": [] if attack.whitebox_only else matrix, "n_attacked": len(y),
                "transfer": [] if attack.whitebox_only else
                [r for r in rows if r["source"] in matrix_nets and r["evaluated"] in matrix_nets],
                "inheritance": inheritance_rows(rows, ORIGINAL, [ORIGINAL, *board],
                                                whitebox_only=attack.whitebox_only),
                "whitebox_only": attack.whitebox_only, "copies": len(copies),
                "attack_seconds": round(time.perf_counter() - start, 3),
                "control": None if control is None else {"seed": control.seed, "key": control.key,
                                                         "accuracy": control.info.get("accuracy")}}


def build_compressor(compressor: Component) -> Any:
    """The registered compressor configured as in the suite (cheap: nothing is fitted yet)."""
    return COMPRESSORS.get(compressor.name)(**compressor.params)

