"""Small layers shared by target models."""

from __future__ import annotations

import torch
from torch import nn

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # the seed's input normalization
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
