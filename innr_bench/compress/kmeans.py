"""Weight sharing: a k-means codebook of 2^bits fp32 values per tensor plus bit-packed indices
(Deep Compression's quantization step). Data-free by default; `finetune_epochs` trains the
codebooks on the training data (the assignments stay fixed), which makes the setting use data."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Annotated, Any

import torch
from pydantic import Field
from torch import nn

from innr_bench.compress.base import BaseCompressor, CompressContext, Encoding, named_weights
from innr_bench.compress.bitpack import pack_bits, unpack_bits
from innr_bench.compress.finetune import SharedWeight, train_through
from innr_bench.registry import COMPRESSORS

CodebookBits = Annotated[int, Field(ge=1, le=8)]


def kmeans_1d(values: torch.Tensor, k: int, iterations: int = 30) -> tuple[torch.Tensor, torch.Tensor]:
    """Codebook (sorted, k entries) and each value's index. Linear initialization over the value
    range (Han et al. found it best for weights); Lloyd iterations; an empty cluster keeps its value."""
    values = values.reshape(-1).float()
    k = min(k, max(1, values.numel()))
    centroids = torch.linspace(float(values.min()), float(values.max()), k)
    for _ in range(iterations):
        assign = torch.bucketize(values, (centroids[1:] + centroids[:-1]) / 2)
        sums = torch.zeros(k).index_add_(0, assign, values)
        counts = torch.zeros(k).index_add_(0, assign, torch.ones_like(values))
        updated = torch.where(counts > 0, sums / counts.clamp_min(1), centroids)
        updated, _ = updated.sort()
        if torch.equal(updated, centroids):
            break
        centroids = updated
    return centroids, torch.bucketize(values, (centroids[1:] + centroids[:-1]) / 2)


def pack_shared(name: str, values: torch.Tensor, bits: int) -> dict[str, torch.Tensor]:
    """A tensor's values as a codebook of 2^bits fp32 entries and packed indices."""
    return shared_tensors(name, *kmeans_1d(values, 2**bits), bits)


def shared_tensors(
    name: str, codebook: torch.Tensor, index: torch.Tensor, bits: int
) -> dict[str, torch.Tensor]:
    """What is stored for a shared tensor: its fp32 codebook and its indices packed at `bits`."""
    return {f"{name}.codebook": codebook.float().contiguous(), f"{name}.index": pack_bits(index, bits)}


def unpack_shared(tensors: Mapping[str, torch.Tensor], name: str, bits: int, count: int) -> torch.Tensor:
    return tensors[f"{name}.codebook"][unpack_bits(tensors[f"{name}.index"], bits, count)]


@COMPRESSORS.register("kmeans")
class KMeansSharing(BaseCompressor):
    """Weight sharing: per-tensor k-means codebook (2^bits fp32 values) + bit-packed indices."""

    def __init__(
        self, *, bits: CodebookBits = 4,
        # codebook training on the data; None (unset, so earlier cells keep their keys): none
        finetune_epochs: Annotated[int, Field(ge=1)] | None = None,
        finetune_lr: Annotated[float, Field(gt=0)] | None = None,  # None: the target's own lr
    ) -> None:
        self.bits, self.finetune_epochs, self.finetune_lr = bits, finetune_epochs, finetune_lr
        self.data_free = finetune_epochs is None

    def encode(self, model: nn.Module, ctx: CompressContext, **options: Any) -> Encoding:
        weights = named_weights(model)
        shared = {name: kmeans_1d(weight, 2**self.bits) for name, weight in weights.items()}
        steps = 0
        if self.finetune_epochs:
            forms = {name: SharedWeight(codebook, index.reshape(weights[name].shape))
                     for name, (codebook, index) in shared.items()}
            model = copy.deepcopy(model)  # its batch-norm statistics follow the training: stored below
            steps = train_through(model, forms, ctx, epochs=self.finetune_epochs,
                                  lr=self.finetune_lr, seed=ctx.seed * 1000 + 1, who="kmeans")
            shared = {name: (form.codebook.detach().cpu(), shared[name][1]) for name, form in forms.items()}
        tensors: dict[str, torch.Tensor] = {}
        for name, (codebook, index) in shared.items():
            tensors |= shared_tensors(name, codebook, index, self.bits)
        meta = {"bits": self.bits, "shapes": {n: list(w.shape) for n, w in weights.items()}}
        tuned = f" (codebooks trained {steps} steps)" if self.finetune_epochs else ""
        return Encoding(tensors, meta, {"finetune_steps": steps, "storage":
                                        f"{self.bits}-bit indices + fp32 codebook per tensor{tuned}"},
                        buffers_from=model)  # the trained copy's batch-norm statistics

    @staticmethod
    def decode(tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        return {name: unpack_shared(tensors, name, meta["bits"], torch.Size(shape).numel()).reshape(shape)
                for name, shape in meta["shapes"].items()}
