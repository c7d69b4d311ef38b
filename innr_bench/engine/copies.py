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
    is fitted yet); a plugin's class without `from_spec` from the suite's params."""
    factory = COMPRESSORS.get(compressor.name)
    from_spec = getattr(factory, "from_spec", None)
    return from_spec(compressor.spec) if callable(from_spec) else factory(**compressor.params)


class Copies:
    """The compressed copies one worker reads and makes."""

    def __init__(self, ctx: WorkContext) -> None:
        self.ctx = ctx
        self._made: set[str] = set()  # keys this worker made (a group's members: made by one task)

    def get(self, group: TargetGroup, compressor: Component) -> Compressed:
        """The compressed copy from the cache, or compressed now (and cached)."""
        ctx = self.ctx
        key = ctx.plan.copy_key(group, compressor)
        cached = None if ctx.force and key not in self._made else ctx.cache.load("compressed", key)
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
        each cached under its own key; `group`'s returned. A later task of the run for another
        member finds its copy made, even under --force."""
        ctx = self.ctx
        members = [ctx.plan.group((group.dataset.label, group.target.model.label, s)) for s in seeds]
        for member in members:
            ensure_target(ctx, member)
        instance = build_compressor(compressor)
        with ctx.stage("compress"):
            made = instance.compress_together([m.model for m in members],
                                              [self._context(m, instance) for m in members])
        for member, compressed in zip(members, made, strict=True):
            compressed.info["fit_group"] = {**compressed.info.get("fit_group", {}), "seeds": list(seeds)}
            self._keep(ctx.plan.copy_key(member, compressor), compressed)
        return made[seeds.index(group.seed)]

    def _context(self, group: TargetGroup, instance: Any) -> CompressContext:
        # only compressors that declare they use data see it
        data = None if instance.data_free else group.data
        return CompressContext(seed=group.seed, device=self.ctx.device, progress=self.ctx.progress, data=data,
                               train=group.target.train, amp=self.ctx.numerics["amp"],
                               input_shape=tuple(group.data.test_x.shape[1:]))

    def _keep(self, key: str, compressed: Compressed) -> None:
        self.ctx.cache.save("compressed", key, compressed.tensors, {
            "meta": compressed.meta, "size_bytes": compressed.size_bytes, "info": compressed.info})
        self._made.add(key)
