"""Magnitude pruning: global or per-layer (unstructured) and L1-norm filters (structured).

Data-free by default. `finetune_epochs` > 0 retrains the kept weights on the training set
(prune-then-retrain; the masked weights stay zero), which makes the setting use data. `bits` stores
the kept values as a per-tensor k-means codebook + packed indices: prune + quantize as in Deep
Compression (without retraining unless `finetune_epochs` is set). Stored per tensor: the kept
positions (a bitmap or packed indices, whichever is smaller) and the kept values.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

import torch
from pydantic import Field
from torch import nn

from innr_bench.compress.base import BaseCompressor, CompressContext, Encoding, named_weights
from innr_bench.compress.kmeans import CodebookBits, pack_shared, unpack_shared
from innr_bench.compress.sparse import decode_mask, encode_mask
from innr_bench.errors import ConfigError
from innr_bench.models.train import TrainConfig, train
from innr_bench.registry import COMPRESSORS

Sparsity = Annotated[float, Field(ge=0, lt=1)]
Unit = Literal["entry", "row"]


def prunable(weights: Mapping[str, torch.Tensor]) -> list[str]:
    """Weight matrices and kernels; 1-D parameters (biases, norms) are always kept."""
    return [name for name, w in weights.items() if w.dim() >= 2]


def smallest(scores: torch.Tensor, count: int) -> torch.Tensor:
    """Boolean mask that is False at the `count` smallest scores (ties broken by position)."""
    keep = torch.ones(scores.numel(), dtype=torch.bool)
    keep[torch.argsort(scores.reshape(-1), stable=True)[:count]] = False
    return keep.reshape(scores.shape)


def mask_keeper(model: nn.Module, masks: Mapping[str, torch.Tensor]) -> Callable[[], None]:
    """A function that zeroes `model`'s pruned weights in place: run it once, then after every
    optimizer step so retraining keeps them at zero."""
    params = dict(model.named_parameters())

    def apply_masks() -> None:
        with torch.no_grad():
            for name, mask in masks.items():
                params[name].mul_(mask.to(params[name].device, params[name].dtype))

    return apply_masks


class _Pruning(BaseCompressor):
    """Shared by every pruning method: masks -> optional retraining -> sparse storage."""

    unit: Unit = "entry"

    def __init__(
        self,
        *,
        sparsity: Sparsity,
        bits: CodebookBits | None = None,  # None: kept values in fp32
        finetune_epochs: Annotated[int, Field(ge=0)] = 0,
        finetune_lr: Annotated[float, Field(gt=0)] | None = None,  # None: the target's own lr
    ) -> None:
        self.sparsity, self.bits = sparsity, bits
        self.finetune_epochs, self.finetune_lr = finetune_epochs, finetune_lr
        self.data_free = finetune_epochs == 0

    def masks(self, weights: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Boolean keep-mask (the weight's shape) for every prunable tensor."""
        raise NotImplementedError

    def encode(self, model: nn.Module, ctx: CompressContext, **options: Any) -> Encoding:
        weights = named_weights(model)
        masks = self.masks(weights)
        finetune: dict[str, Any] = {}
        source = model  # whose buffers (batch-norm statistics) are stored
        if self.finetune_epochs:
            source, finetune = self.retrain(model, masks, ctx)
            weights = named_weights(source)
        tensors: dict[str, torch.Tensor] = {}
        layout: dict[str, dict[str, Any]] = {}
        for name, weight in weights.items():
            stored, layout[name] = self._store(name, weight, masks.get(name))
            tensors |= stored
        zeros = sum(int((~m).sum()) for m in masks.values())
        total = sum(w.numel() for w in weights.values())
        meta = {"bits": self.bits, "unit": self.unit, "tensors": layout}
        formats = sorted({t["mask"] for t in layout.values()} - {"dense"}) or ["dense"]
        values = "fp32 values" if self.bits is None else f"{self.bits}-bit k-means values"
        info = {"sparsity": zeros / total,
                "storage": f"{' + '.join(formats)} + {values}",
                "mask_formats": {name: t["mask"] for name, t in layout.items()},
                "finetune_epochs": self.finetune_epochs, "finetune_steps": finetune.get("steps", 0)}
        return Encoding(tensors, meta, info, buffers_from=source)

    def retrain(
        self, model: nn.Module, masks: Mapping[str, torch.Tensor], ctx: CompressContext,
        who: str | None = None,
    ) -> tuple[nn.Module, dict[str, Any]]:
        """A retrained copy of `model` (masked weights kept at zero) and the training info; `who`
        names the compressor in errors (default: this pruning method)."""
        if ctx.data is None:
            raise ConfigError(f"{who or self.name}: finetune_epochs needs training data, which this run does "
                              "not provide")
        model = copy.deepcopy(model)
        apply_masks = mask_keeper(model, masks)
        apply_masks()
        recipe = ctx.train or TrainConfig()
        config = TrainConfig(lr=self.finetune_lr or recipe.lr, batch_size=recipe.batch_size,
                             epochs=self.finetune_epochs, weight_decay=recipe.weight_decay)
        info = train(model, ctx.data, config, seed=ctx.seed, device=ctx.device, progress=ctx.progress,
                     after_step=apply_masks)
        return model.eval(), info

    def _store(
        self, name: str, weight: torch.Tensor, mask: torch.Tensor | None
    ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        shape = list(weight.shape)
        rows = weight.reshape(weight.shape[0], -1)
        if mask is None or bool(mask.all()):
            kept_units, fmt, stored = None, "dense", {}
            values = weight.reshape(-1)
        else:
            unit_mask = mask.reshape(rows.shape).all(1) if self.unit == "row" else mask.reshape(-1)
            packed_mask, fmt = encode_mask(unit_mask)
            stored = {f"{name}.mask": packed_mask}
            kept_units = int(unit_mask.sum())
            values = rows[unit_mask].reshape(-1) if self.unit == "row" else weight.reshape(-1)[unit_mask]
        if self.bits is None:
            stored[f"{name}.values"] = values.float().contiguous()
        elif values.numel():
            stored |= pack_shared(name, values, self.bits)
        return stored, {"shape": shape, "mask": fmt, "kept": kept_units, "values": values.numel()}

    @staticmethod
    def decode(tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        decoded = {}
        for name, t in meta["tensors"].items():
            shape, numel = t["shape"], math.prod(t["shape"])
            if meta["bits"] is None:
                values = tensors[f"{name}.values"]
            elif t["values"]:
                values = unpack_shared(tensors, name, meta["bits"], t["values"])
            else:
                values = torch.zeros(0)
            if t["mask"] == "dense":
                decoded[name] = values.reshape(shape)
                continue
            units = shape[0] if meta["unit"] == "row" else numel
            unit_mask = decode_mask(tensors[f"{name}.mask"], t["mask"], units, t["kept"])
            if meta["unit"] == "row":
                rows = torch.zeros(units, numel // units)
                rows[unit_mask] = values.reshape(-1, numel // units)
                decoded[name] = rows.reshape(shape)
            else:
                flat = torch.zeros(numel)
                flat[unit_mask] = values
                decoded[name] = flat.reshape(shape)
        return decoded


@COMPRESSORS.register("prune-global")
class GlobalMagnitudePruning(_Pruning):
    """Unstructured: zero the smallest-magnitude weights across all layers (one global threshold)."""


    def masks(self, weights: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        names = prunable(weights)
        scores = torch.cat([weights[n].abs().reshape(-1) for n in names])
        keep = smallest(scores, round(self.sparsity * scores.numel())).split(
            [weights[n].numel() for n in names])
        return {n: k.reshape(weights[n].shape) for n, k in zip(names, keep, strict=True)}


@COMPRESSORS.register("prune-layer")
class LayerMagnitudePruning(_Pruning):
    """Unstructured: zero the same fraction of smallest-magnitude weights in every layer."""


    def masks(self, weights: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {n: smallest(weights[n].abs(), round(self.sparsity * weights[n].numel()))
                for n in prunable(weights)}


@COMPRESSORS.register("prune-filters")
class FilterPruning(_Pruning):
    """Structured: remove the fraction of output filters/neurons with the smallest L1 norm in every
    layer but the classifier (the last weight matrix, whose rows are the classes)."""

    unit = "row"

    def masks(self, weights: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        masks = {}
        for n in prunable(weights)[:-1]:
            w = weights[n]
            norms = w.abs().reshape(w.shape[0], -1).sum(1)
            keep_rows = smallest(norms, round(self.sparsity * w.shape[0]))
            masks[n] = keep_rows.reshape(-1, *[1] * (w.dim() - 1)).expand_as(w)
        return masks
