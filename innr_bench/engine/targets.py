"""A target group's net: from the cache, loaded from its weights file, or trained (and cached)."""

from __future__ import annotations

import time

import torch

from innr_bench.engine.context import WorkContext
from innr_bench.engine.degraded import cast_on_loading
from innr_bench.engine.plan import TargetGroup
from innr_bench.models.checkpoint import load_weights
from innr_bench.models.external import ensure_registered
from innr_bench.models.placement import place_model
from innr_bench.models.train import train
from innr_bench.registry import MODELS


def ensure_target(ctx: WorkContext, group: TargetGroup) -> None:
    """Fill in `group.model` (placed on the device, in eval mode) and `group.info`."""
    if group.model is not None:
        return
    torch.manual_seed(group.seed)  # the target's initialization
    ensure_registered(group.target.model.name, where="target")  # a Ray worker's first sight of it
    model = MODELS.get(group.target.model.name)(**group.target.model.params)
    cached = None if ctx.force else ctx.cache.load("targets", group.key)
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
                ctx.progress.print(f"WARNING: {cast_on_loading(info)} ({weights.path}); the copies' "
                                   "records say so")
        else:
            with ctx.stage("train"):
                info = train(model, group.data, group.target.train, seed=group.seed,
                             device=ctx.device, progress=ctx.progress, amp=ctx.numerics["amp"])
        with ctx.stage("evaluate"):
            preds = ctx.predict(model, group.data.test_x)
        info["accuracy"] = float((preds == group.data.test_y).float().mean())
        info["parameters"] = sum(p.numel() for p in model.parameters())
        info["device"] = str(ctx.device)
        ctx.cache.save("targets", group.key, model.state_dict(), info)
        group.info = info
        how = (f"loaded from {weights.path} (sha256 {weights.sha256[:12]})" if weights is not None else
               f"after {info['steps']} steps ({info['epochs']} epochs) in {info['seconds']:.1f} s")
        verb = "loaded" if weights is not None else "trained"
        ctx.progress.print(f"{verb} {group.target.model.label} seed {group.seed}: accuracy "
                           f"{info['accuracy']:.4f} {how}")
    group.model = place_model(model, ctx.device).eval()
