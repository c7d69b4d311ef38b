"""Compressed copies: from the cache, or made now (alone, or with the other seeds' copies of a
fit group, `eval.stack_fits`) and cached under their keys."""

from __future__ import annotations

from typing import Any

from innr_bench.compress.base import CompressContext, Compressed
from innr_bench.config import Component
from innr_bench.engine.context import WorkContext
from innr_bench.engine.plan import TargetGroup
from innr_bench.engine.targets import ensure_target
from innr_bench.registry import COMPRESSORS


def build_compressor(compressor: Component) -> Any:
    """The compressor a cell's key names, built from the component's resolved spec (cheap: nothing
    is fitted yet); from the suite's params only for a plugin class that cannot be: one without
    `from_spec`, or one that resolves its spec itself (`resolved_spec`) but builds from it only
    with the base class's `from_spec`."""
    factory = COMPRESSORS.get(compressor.name)
    return factory.from_spec(compressor.spec) if builds_from_spec(factory) else factory(**compressor.params)


def builds_from_spec(factory: Any) -> bool:
    """Whether `factory.from_spec` reads what `factory`'s resolved spec holds."""
    if not isinstance(factory, type) or not callable(getattr(factory, "from_spec", None)):
        return False
    builder, resolver = _defined_by(factory, "from_spec"), _defined_by(factory, "resolved_spec")
    return resolver is None or (builder is not None and issubclass(builder, resolver))


def _defined_by(cls: type, name: str) -> type | None:
    return next((k for k in cls.__mro__ if name in vars(k)), None)


class Copies:
    """The compressed copies one worker reads and makes."""

    def __init__(self, ctx: WorkContext) -> None:
        self.ctx = ctx
        # keys of copies made this run, which --force does not recompute: by this worker (a fit
        # group's members are made by one task) or shipped to it fresh (Ray, executors/ray_cluster.py)
        self.made: set[str] = set()
        self._failed: dict[str, Exception] = {}  # a fit group's members that failed, by key

    def get(self, group: TargetGroup, compressor: Component) -> Compressed:
        """The compressed copy from the cache, or compressed now (and cached)."""
        ctx = self.ctx
        key = ctx.plan.copy_key(group, compressor)
        if key in self._failed:  # its fit group ran in an earlier task of this worker
            raise self._failed[key]
        cached = None if ctx.force and key not in self.made else ctx.cache.load("compressed", key)
        if cached is not None:
            tensors, meta = cached
            return Compressed(compressor.name, tensors, meta["meta"], meta["size_bytes"], meta["info"])
        seeds = ctx.plan.fit_group(group, compressor)
        if seeds is not None:
            return self._fit_together(group, compressor, seeds)
        instance = build_compressor(compressor)
        assert group.model is not None
        with ctx.stage("compress"):
            compressed = instance.compress(group.model, self._context(group, instance))
        self._keep(key, compressed)
        return compressed

    def _fit_together(self, group: TargetGroup, compressor: Component, seeds: list[int]) -> Compressed:
        """The copies of `compressor` on every seed of `seeds` fit as one (`eval.stack_fits`),
        each cached under its own key; `group`'s returned (or its failure raised). A later task
        of the run for another member finds its copy made (or its failure), even under --force."""
        ctx = self.ctx
        members = [ctx.plan.at_seed(group, s) for s in seeds]
        for member in members:
            ensure_target(ctx, member)
        instance = build_compressor(compressor)
        with ctx.stage("compress"):
            made = instance.compress_together([m.model for m in members],
                                              [self._context(m, instance) for m in members])
        for member, compressed in zip(members, made, strict=True):
            key = ctx.plan.copy_key(member, compressor)
            if isinstance(compressed, Exception):
                self._failed[key] = compressed
                continue
            compressed.info["fit_group"] = {**compressed.info.get("fit_group", {}), "seeds": list(seeds)}
            self._keep(key, compressed)
        mine = made[seeds.index(group.seed)]
        if isinstance(mine, Exception):
            raise mine
        return mine

    def _context(self, group: TargetGroup, instance: Any) -> CompressContext:
        # only compressors that declare they use data see it
        data = None if instance.data_free else group.data
        return CompressContext(seed=group.seed, device=self.ctx.device, progress=self.ctx.progress, data=data,
                               train=group.target.train, amp=self.ctx.numerics["amp"],
                               input_shape=tuple(group.data.test_x.shape[1:]))

    def _keep(self, key: str, compressed: Compressed) -> None:
        self.ctx.cache.save("compressed", key, compressed.tensors, {
            "meta": compressed.meta, "size_bytes": compressed.size_bytes, "info": compressed.info})
        self.made.add(key)
