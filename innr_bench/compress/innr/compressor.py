"""The `innr-siren` compressor: recipes, size accounting, encode and decode."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import torch
from pydantic import Field
from torch import nn

from innr_bench.compress.base import (
    CompressContext,
    Compressed,
    fp32_bytes,
    named_weights,
    payload_bytes,
    with_buffers,
)
from innr_bench.compress.innr import encoding, storage
from innr_bench.compress.innr.fit import Checkpoint, Schedule, fit_full_batch
from innr_bench.compress.innr.siren import Siren
from innr_bench.errors import ConfigError
from innr_bench.registry import COMPRESSORS

SAMPLE_CHUNK = 65_536  # queries per forward pass when sampling the INNR

RECIPES: dict[str, dict[str, Any]] = {
    # The study's notebook: SirenNet(5, 64, 1, 12 layers, w0_initial=100*pi, w0=1), one query
    # per weight, global standardization, Adam 5e-4 constant, full batch, 2,000 epochs.
    "seed": {"layout": "scalar", "block": 1, "width": 64, "depth": 12, "w0": 1.0,
             "w0_initial": 100 * math.pi, "epochs": 2000, "lr": 5e-4, "schedule": "constant",
             "warmup": 0.0, "solve_every": None, "precision": "fp32"},
    # One query per 100-weight row chunk (four 5x5 kernels), per-tensor standardization,
    # one-cycle learning rate with a short warm-up, output layer re-solved by least squares every
    # 5 epochs, SIREN stored in fp16 (0.624 of the seed CNN's fp32 bytes). Chosen by measurement
    # (benchmarks/README.md, results/innr-sweep): fp16 storage loses nothing measurable, so the
    # bytes buy a wider SIREN (144 instead of 96 in fp32), which halves the weight error and
    # keeps Fashion-MNIST targets within 0.1 point of the original.
    "fast": {"layout": "rows", "block": 100, "width": 144, "depth": 4, "w0": 30.0,
             "w0_initial": 30.0, "epochs": 300, "lr": 3e-3, "schedule": "one-cycle",
             "warmup": 0.1, "solve_every": 5, "precision": "fp16"},
}

PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]


@COMPRESSORS.register("innr-siren")
class InnrSiren:
    """INNR: a SIREN fit (data-free) from weight coordinates to values; recipes `fast`, `seed`."""

    data_free = True

    def __init__(
        self,
        *,
        recipe: Literal["fast", "seed"] = "fast",
        width: PositiveInt | None = None,  # None: the recipe's value
        depth: PositiveInt | None = None,
        w0: PositiveFloat | None = None,
        w0_initial: PositiveFloat | None = None,
        epochs: PositiveInt | None = None,
        lr: PositiveFloat | None = None,
        block: PositiveInt | None = None,  # weights per query (rows layout)
        schedule: Schedule | None = None,
        warmup: Annotated[float, Field(gt=0, lt=1)] | None = None,  # one-cycle warm-up fraction
        solve_every: Annotated[int, Field(ge=0)] | None = None,  # least-squares output layer
        precision: storage.Precision | None = None,  # storage of the SIREN's weights
        # huffman: int8 codes Huffman-coded tensor by tensor where smaller (needs precision int8)
        entropy: storage.Entropy | None = None,
        # A size budget instead of a width: the widest SIREN whose stored bytes (weights, stats,
        # buffers) fit `ratio` x the target's fp32 bytes, or `bytes`, chosen per target.
        ratio: Annotated[float, Field(gt=0, le=1)] | None = None,
        bytes: PositiveInt | None = None,  # shadows the builtin: it is the suite key users write
    ) -> None:
        budgets = [name for name, value in (("width", width), ("ratio", ratio), ("bytes", bytes))
                   if value is not None]
        if len(budgets) > 1:
            raise ConfigError(f"{budgets[1]}: set only one of width, ratio and bytes (got "
                              f"{' and '.join(budgets)}); a budget picks the width itself")
        self.budget = {"ratio": ratio, "bytes": bytes}
        overrides = {"width": width, "depth": depth, "w0": w0, "w0_initial": w0_initial,
                     "epochs": epochs, "lr": lr, "block": block, "schedule": schedule,
                     "warmup": warmup, "solve_every": solve_every, "precision": precision}
        self.recipe = recipe
        self.settings = {**RECIPES[recipe], **{k: v for k, v in overrides.items() if v is not None}}
        self.precision: storage.Precision = self.settings["precision"]
        self.entropy: storage.Entropy = entropy or "none"
        if self.entropy == "huffman" and self.precision != "int8":
            raise ConfigError(f"entropy: 'huffman' codes int8 weights; set precision: int8 (got "
                              f"{self.precision!r})")
        if self.settings["layout"] == "scalar" and self.settings["block"] != 1:
            raise ConfigError(f"block: {block!r} is invalid (recipe {recipe!r} predicts one weight "
                              "per query; use recipe 'fast' for blocks)")

    def architecture(self, width: int | None = None) -> dict[str, Any]:
        s = self.settings
        dim_in, dim_out = encoding.dims(s["layout"], s["block"])
        return {"dim_in": dim_in, "width": width or s["width"], "dim_out": dim_out, "depth": s["depth"],
                "w0": s["w0"], "w0_initial": s["w0_initial"]}

    def stored_bytes(self, width: int, fixed_bytes: int) -> int:
        """Exact bytes stored for a SIREN of `width` at this precision, plus `fixed_bytes`
        (standardization stats and buffers, which do not depend on the width). Without entropy
        coding: Huffman-coded tensors are only kept where smaller, so this bounds them."""
        with torch.random.fork_rng(devices=[]):
            siren = Siren(**self.architecture(width))
        return payload_bytes(storage.pack(siren.state_dict(), self.precision)) + fixed_bytes

    def budget_width(self, model: nn.Module, fixed_bytes: int) -> tuple[int, int] | None:
        """(width, byte budget) for a `ratio`/`bytes` budget; None without one. The stored size
        grows with the width, so the widest SIREN that fits is found by bisection."""
        if self.budget["ratio"] is None and self.budget["bytes"] is None:
            return None
        budget = self.budget["bytes"] or int(self.budget["ratio"] * fp32_bytes(model))
        smallest = self.stored_bytes(1, fixed_bytes)
        if smallest > budget:
            asked = (f"ratio {self.budget['ratio']:g} ({budget:,} bytes)" if self.budget["ratio"]
                     else f"bytes {budget:,}")
            raise ConfigError(
                f"innr-siren: {asked} is impossible for this target: the smallest SIREN (width 1, "
                f"depth {self.settings['depth']}, {self.precision}) with its stats and buffers takes "
                f"{smallest:,} bytes; raise the budget, or lower depth or precision")
        low, high = 1, 2
        while self.stored_bytes(high, fixed_bytes) <= budget:
            low, high = high, high * 2
        while high - low > 1:  # stored_bytes(low) fits, stored_bytes(high) does not
            middle = (low + high) // 2
            low, high = (middle, high) if self.stored_bytes(middle, fixed_bytes) <= budget else (low, middle)
        return low, budget

    def compress(
        self, model: nn.Module, ctx: CompressContext, checkpoint: Checkpoint | None = None,
        checkpoint_every: int = 25,
    ) -> Compressed:
        """Fit the INNR; `checkpoint(epoch, fit_seconds)` may inspect `self.partial` while fitting."""
        start = time.perf_counter()
        weights = named_weights(model)
        meta = {
            "recipe": self.recipe,
            "layout": self.settings["layout"],
            "block": self.settings["block"],
            "precision": self.precision,
            "names": list(weights),
            "shapes": [list(w.shape) for w in weights.values()],
        }
        data = encoding.encode(weights, meta)
        fixed_bytes = payload_bytes({"stats": data.stats, **dict(model.named_buffers())})
        chosen = self.budget_width(model, fixed_bytes)
        meta["architecture"] = self.architecture(chosen[0] if chosen else None)
        torch.manual_seed(ctx.seed)
        siren = Siren(**meta["architecture"])
        self.partial = (siren, data.stats, meta)
        fit = fit_full_batch(
            siren, data.coords, data.targets, epochs=self.settings["epochs"], lr=self.settings["lr"],
            device=ctx.device, progress=ctx.progress, mask=data.mask,
            schedule=self.settings["schedule"], warmup=self.settings["warmup"],
            solve_every=self.settings["solve_every"], checkpoint=checkpoint,
            checkpoint_every=checkpoint_every, amp=ctx.amp,
        )
        packed = storage.pack(siren.state_dict(), self.precision, self.entropy)
        tensors = {f"siren.{k}": v for k, v in packed.items()}
        tensors["stats"] = data.stats
        info = {**fit, "innr_parameters": sum(p.numel() for p in siren.parameters()),
                "seconds": time.perf_counter() - start, "settings": self.settings,
                "storage": f"SIREN {meta['architecture']['width']}x{self.settings['depth']} "
                           f"{self.precision}{' + Huffman' if self.entropy == 'huffman' else ''} "
                           "+ per-tensor mean/std",
                "precision": self.precision,
                **({"budget": {"bytes": chosen[1], "width": chosen[0]}} if chosen else {})}
        tensors = with_buffers(model, tensors)
        return Compressed("innr-siren", tensors, meta, payload_bytes(tensors), info)

    @staticmethod
    def decode(tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """Sample the SIREN at every query coordinate and undo the standardization."""
        with torch.random.fork_rng(devices=[]):  # building the net must not move the global RNG
            siren = Siren(**meta["architecture"])
        packed = {k.removeprefix("siren."): v for k, v in tensors.items() if k.startswith("siren.")}
        shapes = {k: v.shape for k, v in siren.state_dict().items()}
        siren.load_state_dict(storage.unpack(packed, meta.get("precision", "fp32"), shapes))
        return sample(siren, tensors["stats"], meta)


def sample(siren: nn.Module, stats: torch.Tensor, meta: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Weights decoded from a (possibly still training) SIREN."""
    coords = encoding.query_coordinates(meta)
    device = next(siren.parameters()).device
    with torch.no_grad():
        outputs = torch.cat([siren(chunk.to(device)).cpu() for chunk in coords.split(SAMPLE_CHUNK)])
    return encoding.decode(outputs, stats, meta)
