"""ResNet-20 for 32x32 RGB inputs (He et al. 2016, CIFAR variant, option-A shortcuts)."""

from __future__ import annotations

from typing import Annotated

import torch
from pydantic import Field
from torch import nn

from innr_bench.models.layers import CIFAR10_MEAN, CIFAR10_STD, Normalize
from innr_bench.registry import MODELS


class BasicBlock(nn.Module):
    """Two 3x3 conv + batch-norm layers; the shortcut subsamples and zero-pads channels (option A,
    no parameters) when the shape changes."""

    def __init__(self, channels_in: int, channels_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels_in, channels_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels_out)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels_out)
        self.stride, self.pad = stride, channels_out - channels_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x[:, :, :: self.stride, :: self.stride] if self.stride > 1 else x
        if self.pad:
            shortcut = nn.functional.pad(shortcut, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
        return torch.relu(out + shortcut)


# Adam with a small L2 term; 30 epochs is a short budget (the paper trains 182 with SGD).
@MODELS.register("resnet20", defaults={"train": {"lr": 1e-3, "batch_size": 128, "epochs": 30,
                                                "weight_decay": 1e-4}})
def resnet20(
    *, num_classes: Annotated[int, Field(ge=2)] = 10, width: Annotated[int, Field(gt=0)] = 16
) -> nn.Module:
    """ResNet-20 (CIFAR-style, batch-norm, 32x32 RGB): 3 stages x 3 blocks of 16/32/64; 269,722 params."""
    layers: list[nn.Module] = [Normalize(CIFAR10_MEAN, CIFAR10_STD),
                               nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
    channels = width
    for stage in range(3):
        out = width * 2**stage
        for block in range(3):
            layers.append(BasicBlock(channels, out, 2 if stage > 0 and block == 0 else 1))
            channels = out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes)]
    return nn.Sequential(*layers)
