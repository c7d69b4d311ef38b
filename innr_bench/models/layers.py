"""Small layers shared by target models."""

from __future__ import annotations

from typing import Annotated

import torch
from pydantic import Field
from torch import nn

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # the seed's input normalization
# Options every target's signature shares (pydantic checks them when a suite is parsed).
Classes = Annotated[int, Field(ge=2)]
PixelStd = Annotated[float, Field(gt=0)]
CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


class Normalize(nn.Module):
    """(x - mean) / std as a layer, so models take pixels in [0, 1] and attacks work in pixel space.

    The constants are not parameters or persistent buffers: they are part of the architecture,
    not of the weights an INNR must represent.
    """

    def __init__(
        self, mean: float | tuple[float, ...] = MNIST_MEAN, std: float | tuple[float, ...] = MNIST_STD
    ) -> None:
        super().__init__()
        self.mean, self.std = mean, std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if isinstance(self.mean, tuple):  # per channel
            mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).reshape(1, -1, 1, 1)
            std = torch.tensor(self.std, dtype=x.dtype, device=x.device).reshape(1, -1, 1, 1)
            return (x - mean) / std
        return (x - self.mean) / self.std

    def extra_repr(self) -> str:
        return f"mean={self.mean}, std={self.std}"


class MaxPool2d(nn.MaxPool2d):
    """`nn.MaxPool2d` whose passes that need no gradient, on the CPU, for 2x2 windows of stride 2
    (the LeNets'), are three elementwise maxima of the window's four positions: the same values
    (a maximum is exact in any order; NaN propagates in both; the logits that follow are bit for
    bit the same in the channels-last layout the engine uses). Measured at 2 threads, side by
    side: the pooling alone ~6x faster than aten's kernel on NCHW tensors; evaluating 10,000
    inputs channels-last, LeNet-5 1.25-1.39x and LeNet-5 (Caffe) 1.08x faster, the seed CNN
    0.88-1.05x (no gain: its pooling is a small share); the FGSM inheritance board 1.16x (seed
    CNN) and 1.21x (LeNet-5) a copy, PGD's 0.95-1.03x (benchmarks/test_pool_cost.py and
    benchmarks/measured/inheritance-stack-2026-12-01b.json). Whenever gradients are enabled
    (training, every attack, stacked attacks inside vmap too) aten's kernel runs: which input
    of a tied window gets the gradient follows its order, and the published numbers with it (an
    autograd function with the same gradients was bit-identical but slower to train with)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (self.kernel_size in (2, (2, 2)) and self.stride in (2, (2, 2)) and self.padding in (0, (0, 0))
                and self.dilation in (1, (1, 1)) and not self.ceil_mode and not self.return_indices
                # only where no gradient is taken at all: inside torch.func transforms (vmap of a
                # stacked attack) a tensor that gradients flow through reports requires_grad False
                and x.device.type == "cpu" and not torch.is_grad_enabled()
                and x.dim() >= 3 and x.shape[-1] % 2 == 0 and x.shape[-2] % 2 == 0):
            return pairwise_max_pool(x)
        return super().forward(x)


def pairwise_max_pool(x: torch.Tensor) -> torch.Tensor:
    """2x2, stride-2 max pooling as elementwise maxima (even height and width)."""
    windows = x.unflatten(-1, (-1, 2)).unflatten(-3, (-1, 2))  # (..., h, 2, w, 2)
    top = torch.maximum(windows[..., 0, :, 0], windows[..., 0, :, 1])
    bottom = torch.maximum(windows[..., 1, :, 0], windows[..., 1, :, 1])
    return torch.maximum(top, bottom)
