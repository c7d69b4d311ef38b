"""The `innr-siren` compressor: recipes, size accounting, encode and decode."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import torch
from pydantic import Field
from torch import nn

from innr_bench.compress.base import (
    BaseCompressor,
    CompressContext,
    Encoding,
    fp32_bytes,
    named_weights,
    payload_bytes,
    with_buffers,
)
from innr_bench.compress.innr import encoding, storage
from innr_bench.compress.innr.finetune import DistillSettings, Inputs, distill, refit_quantized
from innr_bench.compress.innr.fit import Checkpoint, Schedule, fit_full_batch
from innr_bench.compress.innr.siren import Siren
from innr_bench.errors import ConfigError
from innr_bench.registry import COMPRESSORS

SAMPLE_CHUNK = 65_536  # queries per forward pass when sampling the INNR

# What every recipe leaves as it was before fine-tuning existed: no refit, no distillation.
PLAIN = {"normalize": "tensor", "bits": 8, "entropy": "none", "qat_epochs": 0, "distill_steps": 0,
         "distill_inputs": "data", "distill_lr": 5e-4, "distill_temperature": 1.0,
         "distill_batch": 256, "distill_weight_loss": 0.0, "distill_label_loss": 0.0,
         "distill_pool": 2000, "distill_pool_steps": 200, "learn_stats": True}

# The `fast` fit with 25 weights (one 5x5 kernel) per query, int8 codes Huffman-coded, one
# mean/std per row in fp16, then distillation through the decoded net (see `distill`).
DISTILL = {"layout": "rows", "block": 25, "width": 144, "depth": 4, "w0": 30.0, "w0_initial": 30.0,
           "epochs": 300, "lr": 3e-3, "schedule": "one-cycle", "warmup": 0.1, "solve_every": 5,
           "precision": "int8", **PLAIN, "normalize": "row", "entropy": "huffman",
           "distill_steps": 6000, "distill_label_loss": 0.5}

# A recipe's revision is bumped when its defaults change, so that cells cached under the old
# defaults are not taken for the new ones (it enters the cell keys; revision 1 is left out).
RECIPE_REVISIONS = {"distill": 2}  # 2: 6,000 steps (was 3,000) and the label loss (was none)

RECIPES: dict[str, dict[str, Any]] = {
    # The study's notebook: SirenNet(5, 64, 1, 12 layers, w0_initial=100*pi, w0=1), one query
    # per weight, global standardization, Adam 5e-4 constant, full batch, 2,000 epochs.
    "seed": {"layout": "scalar", "block": 1, "width": 64, "depth": 12, "w0": 1.0,
             "w0_initial": 100 * math.pi, "epochs": 2000, "lr": 5e-4, "schedule": "constant",
             "warmup": 0.0, "solve_every": None, "precision": "fp32", **PLAIN},
    # One query per 100-weight row chunk (four 5x5 kernels), per-tensor standardization,
    # one-cycle learning rate with a short warm-up, output layer re-solved by least squares every
    # 5 epochs, SIREN stored in fp16 (0.624 of the seed CNN's fp32 bytes). Chosen by measurement
    # (benchmarks/README.md, results/innr-sweep): fp16 storage loses nothing measurable, so the
    # bytes buy a wider SIREN (144 instead of 96 in fp32), which halves the weight error and
    # keeps Fashion-MNIST targets within 0.1 point of the original.
    "fast": {"layout": "rows", "block": 100, "width": 144, "depth": 4, "w0": 30.0,
             "w0_initial": 30.0, "epochs": 300, "lr": 3e-3, "schedule": "one-cycle",
             "warmup": 0.1, "solve_every": 5, "precision": "fp16", **PLAIN},
    # NeRN-style (data-aware): 6,000 steps of logit distillation on training images (batch 256,
    # KL at temperature 1 plus 0.5 x the cross-entropy with the labels, Adam 5e-4 with cosine
    # decay) through the decoded net, the field's weights rounded as stored and the per-row
    # mean/std trained with them; the teacher's probabilities are computed once. Chosen by
    # measurement on Fashion-MNIST (seed 0, ratio 0.05; README "Choosing an INNR recipe"):
    # lenet5 -1.46 pt after 3,000 steps, -1.21 with the label loss, -0.76 after 6,000, -0.18
    # with both; lenet-300-100 -1.98 / -1.34 / -1.09 (6,000 + labels). NeRN's feature-map loss
    # (attention maps of every hidden layer) cost points (-2.90 at weight 1, -3.74 at 10) and
    # was dropped. Earlier (ratio 0.13, 2,000 steps): temperature 1 -1.41, 2 -1.87, 4 -2.61;
    # lr 1e-3 -16.5 (unstable); batch 128 -2.38; stats at 10x the lr -1.80; 4-6 bit codes
    # -4.7 to -13.6 (int8 kept).
    "distill": DISTILL,
    # The same on synthetic images (pixel and smooth noise; data-free), with the weight loss kept
    # beside the KL so the field cannot drift from the weights where noise says nothing; no
    # labels to learn from, and its 3,000 steps are as first published.
    "distill-noise": {**DISTILL, "distill_inputs": "noise", "distill_weight_loss": 1.0,
                      "distill_steps": 3000, "distill_label_loss": 0.0},
    # `distill` cut to 4,000 steps so one LeNet-5 fit takes under 2 minutes on 2 CPU cores.
    # Measured on Fashion-MNIST lenet5 at 0.05 of the bytes, 3 seeds: 6,000 steps -0.06 +- 0.38
    # pt, 5,000 -0.25 +- 0.33, 4,000 -0.45 +- 0.28 (93 s a fit against 130 s).
    "distill-quick": {**DISTILL, "distill_steps": 4000},
    # `distill-noise` with half of each batch drawn from 2,000 class impressions: images optimized
    # through the original until it calls them (mostly) one class (`synthetic.class_impressions`);
    # still data-free. Measured on Fashion-MNIST lenet5 (seed 0, 0.13 of the bytes, H100): noise
    # alone -24.5 pt, impressions and noise -7.9 (only impressions -10.9; 6,000 impressions made
    # in 400 steps -7.2; 6,000 distillation steps -7.8; weight loss 0.1 instead of 1 -21.6);
    # lenet-300-100, whose first layer sees pixels directly: -41.0 against -42.7 for noise.
    "distill-impressions": {**DISTILL, "distill_inputs": "impressions", "distill_weight_loss": 1.0,
                            "distill_steps": 3000, "distill_label_loss": 0.0},
}
Recipe = Literal["fast", "seed", "distill", "distill-noise", "distill-quick", "distill-impressions"]

PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]


@COMPRESSORS.register("innr-siren")
class InnrSiren(BaseCompressor):
    """INNR: a SIREN from weight coordinates to values; recipes `fast`, `seed` (data-free weight
    fits), `distill` and `distill-quick` (then distilled on training images, 6,000 or 4,000 steps),
    `distill-noise` and `distill-impressions` (on synthetic ones: noise, or noise and class
    impressions)."""

    def __init__(
        self,
        *,
        recipe: Recipe = "fast",
        # Every option below left out (None) takes the recipe's value.
        width: PositiveInt | None = None,
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
        bits: Annotated[int, Field(ge=2, le=8)] | None = None,  # code width of precision int8
        # huffman: integer codes Huffman-coded tensor by tensor where smaller (precision int8)
        entropy: storage.Entropy | None = None,
        # A size budget instead of a width: the widest SIREN whose stored bytes (weights, stats,
        # buffers) fit `ratio` x the target's fp32 bytes, or `bytes`, chosen per target.
        ratio: Annotated[float, Field(gt=0, le=1)] | None = None,
        bytes: PositiveInt | None = None,  # shadows the builtin: it is the suite key users write
        # rows layout: standardize per tensor (fp32 stats) or per row/output channel (fp16 stats)
        normalize: encoding.Normalize | None = None,
        # data-free quantization-aware refit: epochs of weight MSE through the rounded field
        qat_epochs: Annotated[int, Field(ge=0)] | None = None,
        # distillation through the decoded net (NeRN-style): steps, inputs (data: training
        # images, the setting uses data; noise: synthetic images, data-free; impressions: half
        # noise, half class impressions made from the original, data-free), Adam lr with cosine
        # decay, KL temperature, batch size, weight of the weight-MSE term beside the KL, weight
        # of a cross-entropy with the training labels (data only), and whether the stored
        # mean/std are trained too
        distill_steps: Annotated[int, Field(ge=0)] | None = None,
        distill_inputs: Inputs | None = None,
        distill_lr: PositiveFloat | None = None,
        distill_temperature: PositiveFloat | None = None,
        distill_batch: PositiveInt | None = None,
        distill_weight_loss: Annotated[float, Field(ge=0)] | None = None,
        distill_label_loss: Annotated[float, Field(ge=0)] | None = None,
        # class impressions (distill_inputs: impressions): how many, and Adam steps that make them
        distill_pool: PositiveInt | None = None,
        distill_pool_steps: PositiveInt | None = None,
        learn_stats: bool | None = None,
    ) -> None:
        budgets = [name for name, value in (("width", width), ("ratio", ratio), ("bytes", bytes))
                   if value is not None]
        if len(budgets) > 1:
            raise ConfigError(f"{budgets[1]}: set only one of width, ratio and bytes (got "
                              f"{' and '.join(budgets)}); a budget picks the width itself")
        self.budget = {"ratio": ratio, "bytes": bytes}
        overrides = {k: v for k, v in locals().items()
                     if k in RECIPES[recipe] and v is not None}
        self.recipe = recipe
        self.revision = RECIPE_REVISIONS.get(recipe)  # enters the cell keys (config.Component)
        self.settings = {**RECIPES[recipe], **overrides}
        s = self.settings
        self.precision: storage.Precision = s["precision"]
        self.entropy: storage.Entropy = s["entropy"]
        self.bits: int = s["bits"]
        for option, active in (("entropy", s["entropy"] == "huffman"), ("bits", s["bits"] != 8),
                               ("qat_epochs", s["qat_epochs"] > 0)):
            if active and self.precision != "int8":
                raise ConfigError(f"{option}: {s[option]!r} needs integer codes; set precision: int8 "
                                  f"(got {self.precision!r})")
        self.qat_epochs: int = s["qat_epochs"]
        self.distill = (DistillSettings(
            steps=s["distill_steps"], inputs=s["distill_inputs"], lr=s["distill_lr"],
            temperature=s["distill_temperature"], batch_size=s["distill_batch"],
            bits=self.bits if self.precision == "int8" else None, learn_stats=s["learn_stats"],
            weight_loss=s["distill_weight_loss"], label_loss=s["distill_label_loss"],
            pool_size=s["distill_pool"], pool_steps=s["distill_pool_steps"])
            if s["distill_steps"] else None)
        if s["distill_label_loss"] and s["distill_inputs"] != "data":
            raise ConfigError(f"distill_label_loss: {s['distill_label_loss']!r} needs training labels; "
                              "set distill_inputs: data or leave distill_label_loss out")
        # Distillation on training images reads data; on synthetic inputs it does not.
        self.data_free = self.distill is None or self.distill.inputs != "data"
        if s["normalize"] == "row" and s["layout"] != "rows":
            raise ConfigError("normalize: 'row' needs the rows layout (recipe 'fast'); the seed "
                              "recipe standardizes all weights together")
        if s["layout"] == "scalar" and s["block"] != 1:
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
        return payload_bytes(storage.pack(siren.state_dict(), self.precision, bits=self.bits)) + fixed_bytes

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

    def encode(
        self, model: nn.Module, ctx: CompressContext, checkpoint: Checkpoint | None = None,
        checkpoint_every: int = 25, **options: Any,
    ) -> Encoding:
        """Fit the INNR; `checkpoint(epoch, fit_seconds)` may inspect `self.partial` while fitting."""
        weights = named_weights(model)
        meta = {
            "recipe": self.recipe,
            "layout": self.settings["layout"],
            "block": self.settings["block"],
            "precision": self.precision,
            "normalize": self.settings["normalize"],
            "bits": self.bits,
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
        stats = data.stats
        if self.qat_epochs:
            fit |= refit_quantized(siren, data.coords, data.targets, data.mask, epochs=self.qat_epochs,
                                   lr=self.settings["lr"] / 10, bits=self.bits, device=ctx.device,
                                   progress=ctx.progress)
        if self.distill is not None:
            stats, distilled = distill(siren, stats, meta, model, settings=self.distill,
                                       weights=data, data=ctx.data, input_shape=ctx.input_shape,
                                       seed=ctx.seed, device=ctx.device, progress=ctx.progress)
            fit |= distilled
        packed = storage.pack(siren.state_dict(), self.precision, self.entropy, self.bits)
        tensors = {f"siren.{k}": v for k, v in packed.items()}
        tensors["stats"] = stats
        field_bytes = payload_bytes({k: v for k, v in tensors.items() if k.startswith("siren.")})
        size = payload_bytes(with_buffers(model, tensors))  # what compress() will count
        info = {**fit, "innr_parameters": sum(p.numel() for p in siren.parameters()),
                "settings": self.settings,
                "storage": self.describe_storage(meta["architecture"]["width"]),
                # the share of the stored bytes that is the field itself (the rest: stats, buffers)
                "field_share": field_bytes / size,
                "precision": self.precision,
                **({"budget": {"bytes": chosen[1], "width": chosen[0]}} if chosen else {})}
        return Encoding(tensors, meta, info)

    def describe_storage(self, width: int) -> str:
        """The storage column: the field, its precision and coding, the stats, the fine-tuning."""
        precision = f"int{self.bits}" if self.precision == "int8" else self.precision
        parts = [f"SIREN {width}x{self.settings['depth']} {precision}"
                 f"{' + Huffman' if self.entropy == 'huffman' else ''}",
                 "per-row mean/std fp16" if self.settings["normalize"] == "row" else "per-tensor mean/std"]
        steps = []
        if self.qat_epochs:
            steps.append(f"QAT {self.qat_epochs} ep")
        if self.distill is not None:
            steps.append(f"distilled {self.distill.steps} steps on {self.distill.inputs}")
        return " + ".join(parts) + (f" ({', '.join(steps)})" if steps else "")

    @staticmethod
    def decode(tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """Sample the SIREN at every query coordinate and undo the standardization."""
        with torch.random.fork_rng(devices=[]):  # building the net must not move the global RNG
            siren = Siren(**meta["architecture"])
        packed = {k.removeprefix("siren."): v for k, v in tensors.items() if k.startswith("siren.")}
        shapes = {k: v.shape for k, v in siren.state_dict().items()}
        siren.load_state_dict(storage.unpack(packed, meta.get("precision", "fp32"), shapes,
                                             meta.get("bits", 8)))
        return sample(siren, tensors["stats"], meta)


def sample(siren: nn.Module, stats: torch.Tensor, meta: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Weights decoded from a (possibly still training) SIREN."""
    coords = encoding.query_coordinates(meta)
    device = next(siren.parameters()).device
    with torch.no_grad():
        outputs = torch.cat([siren(chunk.to(device)).cpu() for chunk in coords.split(SAMPLE_CHUNK)])
    return encoding.decode(outputs, stats, meta)
