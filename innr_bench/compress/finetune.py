"""Training a compressed form on the training data: each weight tensor is replaced by a module
that computes it from trainable parts (a shared codebook, a fake-quantized copy), the model is
trained through them, and the trained weights are written back. Shared by k-means sharing,
quantization-aware fine-tuning and Deep Compression; any setting that uses it reads data."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn
from torch.nn.utils import parametrize

from innr_bench.compress.base import CompressContext
from innr_bench.errors import ConfigError
from innr_bench.models.train import TrainConfig, train


class SharedWeight(nn.Module):
    """A weight tensor as codebook[index] on the kept positions, zero elsewhere; the codebook
    is the only trainable part (Deep Compression's centroid fine-tuning: a centroid's gradient
    is the sum of its weights' gradients)."""

    def __init__(self, codebook: torch.Tensor, index: torch.Tensor, mask: torch.Tensor | None = None) -> None:
        super().__init__()
        self.codebook = nn.Parameter(codebook.clone())
        self.register_buffer("index", index)
        self.register_buffer("mask", torch.ones(index.shape) if mask is None else mask.float())

    def forward(self, original: torch.Tensor) -> torch.Tensor:  # the original weight is unused
        return self.codebook[self.index] * self.mask


def train_through(
    model: nn.Module, forms: Mapping[str, nn.Module], ctx: CompressContext, *, epochs: int,
    lr: float | None, seed: int, who: str, keep_originals: bool = False,
) -> int:
    """Train `model` in place with each named parameter computed by its form; the steps taken.

    `keep_originals`: the original tensors are trained (a fake-quantizing form), and are what
    is left in the model afterwards; otherwise they are frozen and the forms' outputs are left.
    Cosine-decayed Adam at `lr` (None: the target's own), batch size of the target's recipe, no
    weight decay (it would pull shared values toward zero)."""
    if ctx.data is None:
        raise ConfigError(f"{who}: fine-tuning needs the training data, which this run does not provide")
    device = next(model.parameters()).device
    for name, form in forms.items():
        module_name, _, attr = name.rpartition(".")
        module = model.get_submodule(module_name)
        parametrize.register_parametrization(module, attr, form.to(device), unsafe=True)
        getattr(module.parametrizations, attr).original.requires_grad_(keep_originals)
    recipe = ctx.train or TrainConfig()
    steps = 0
    if epochs:
        config = TrainConfig(lr=lr or recipe.lr, batch_size=recipe.batch_size, epochs=epochs,
                             weight_decay=0.0, schedule="cosine")
        steps = int(train(model, ctx.data, config, seed=seed, device=ctx.device, progress=ctx.progress,
                          amp=ctx.amp)["steps"])
    for name in forms:
        module_name, _, attr = name.rpartition(".")
        parametrize.remove_parametrizations(model.get_submodule(module_name), attr,
                                            leave_parametrized=not keep_originals)
    model.eval()
    return steps
