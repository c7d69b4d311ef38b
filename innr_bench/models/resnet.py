"""ResNets for small images: the CIFAR ResNet-20/32/56 (He et al. 2016, option-A shortcuts) and a
CIFAR-style ResNet-18 (3x3 stem, no max-pool, projection shortcuts), for 3-channel 32x32 or
1-channel 28x28 inputs (`in_channels`).

Batch norm: its scale and shift (`weight`, `bias`) are parameters, compressed by every method like
any other weight; its running mean and variance and the step counter are buffers, which every
method stores exactly at their own dtype and counts in its bytes (`compress.base.with_buffers`).
"""

from __future__ import annotations

from typing import Annotated, Literal

import torch
from pydantic import Field
from torch import nn

from innr_bench.models.layers import CIFAR10_MEAN, CIFAR10_STD, MNIST_MEAN, MNIST_STD, Classes, Normalize
from innr_bench.registry import MODELS

InChannels = Literal[1, 3]  # 1: MNIST-style 28x28 grey images, 3: CIFAR-style 32x32 colour ones
Width = Annotated[int, Field(gt=0)]


def input_normalization(in_channels: int) -> Normalize:
    """The data set's normalization as a layer: MNIST's for grey images, CIFAR-10's for colour."""
    return Normalize(MNIST_MEAN, MNIST_STD) if in_channels == 1 else Normalize(CIFAR10_MEAN, CIFAR10_STD)


class TwoConvs(nn.Module):
    """The residual branch of a basic block: 3x3 conv, batch norm, ReLU, 3x3 conv, batch norm."""

    def __init__(self, channels_in: int, channels_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels_in, channels_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels_out)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels_out)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))


class BasicBlock(TwoConvs):
    """Two 3x3 conv + batch-norm layers; the shortcut subsamples and zero-pads channels (option A,
    no parameters) when the shape changes."""

    def __init__(self, channels_in: int, channels_out: int, stride: int) -> None:
        super().__init__(channels_in, channels_out, stride)
        self.stride, self.pad = stride, channels_out - channels_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x[:, :, :: self.stride, :: self.stride] if self.stride > 1 else x
        if self.pad:
            shortcut = nn.functional.pad(shortcut, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
        return torch.relu(self.residual(x) + shortcut)


def stacked_resnet(block: type[TwoConvs], *, stages: int, blocks: int, num_classes: int, width: int,
                   in_channels: int) -> nn.Sequential:
    """Normalization, a 3x3 stem, `stages` x `blocks` blocks of width, 2 width, ... (each stage
    after the first halves the resolution), global average pooling, a linear classifier."""
    layers: list[nn.Module] = [input_normalization(in_channels),
                               nn.Conv2d(in_channels, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width),
                               nn.ReLU()]
    channels = width
    for stage in range(stages):
        out = width * 2**stage
        for index in range(blocks):
            layers.append(block(channels, out, 2 if stage > 0 and index == 0 else 1))
            channels = out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes)]
    return nn.Sequential(*layers)


def cifar_resnet(depth: int, *, num_classes: int, width: int, in_channels: int) -> nn.Sequential:
    """The CIFAR ResNet of `depth` = 6n + 2 layers: 3 stages x n blocks of width/2width/4width."""
    if (depth - 2) % 6:
        raise ValueError(f"a CIFAR ResNet has 6n + 2 layers, got {depth}")
    return stacked_resnet(BasicBlock, stages=3, blocks=(depth - 2) // 6, num_classes=num_classes, width=width,
                          in_channels=in_channels)


# Adam with a small L2 term, cosine decay; a short budget (the paper trains 182 epochs with SGD).
# On 2 CPU cores at batch 128 on 28x28 grey inputs a step took ~0.18 s (ResNet-20) and ~0.49 s
# (ResNet-56) (measured for the field-scale issue): 15 epochs of 60,000 images (7,035 steps),
# ~21 and ~57 minutes.
CIFAR_RESNET_TRAIN = {"lr": 1e-3, "batch_size": 128, "epochs": 15, "weight_decay": 1e-4, "schedule": "cosine"}


@MODELS.register("resnet20", defaults={"train": CIFAR_RESNET_TRAIN})
def resnet20(*, num_classes: Classes = 10, width: Width = 16, in_channels: InChannels = 3) -> nn.Module:
    """ResNet-20 (CIFAR-style, batch-norm): 3 stages x 3 blocks of 16/32/64; 269,722 params (RGB)."""
    return cifar_resnet(20, num_classes=num_classes, width=width, in_channels=in_channels)


@MODELS.register("resnet32", defaults={"train": CIFAR_RESNET_TRAIN})
def resnet32(*, num_classes: Classes = 10, width: Width = 16, in_channels: InChannels = 3) -> nn.Module:
    """ResNet-32 (CIFAR-style, batch-norm): 3 stages x 5 blocks of 16/32/64; 464,154 params (RGB)."""
    return cifar_resnet(32, num_classes=num_classes, width=width, in_channels=in_channels)


@MODELS.register("resnet56", defaults={"train": CIFAR_RESNET_TRAIN})
def resnet56(*, num_classes: Classes = 10, width: Width = 16, in_channels: InChannels = 3) -> nn.Module:
    """ResNet-56 (CIFAR-style, batch-norm): 3 stages x 9 blocks of 16/32/64; 853,018 params (RGB)."""
    return cifar_resnet(56, num_classes=num_classes, width=width, in_channels=in_channels)


class ProjectionBlock(TwoConvs):
    """ResNet-18's basic block: two 3x3 conv + batch-norm layers; a 1x1 conv + batch-norm
    shortcut where the shape changes (option B)."""

    def __init__(self, channels_in: int, channels_out: int, stride: int) -> None:
        super().__init__(channels_in, channels_out, stride)
        self.shortcut = nn.Sequential()
        if stride != 1 or channels_in != channels_out:
            self.shortcut = nn.Sequential(nn.Conv2d(channels_in, channels_out, 1, stride, bias=False),
                                          nn.BatchNorm2d(channels_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.residual(x) + self.shortcut(x))


# The CIFAR recipe. About 0.56 GFLOPs a 32x32 image (a forward pass): on 2 CPU cores an epoch is
# far longer than the small ResNets'; train it on a card.
@MODELS.register("resnet18", defaults={"train": CIFAR_RESNET_TRAIN})
def resnet18(*, num_classes: Classes = 10, width: Width = 64, in_channels: InChannels = 3) -> nn.Module:
    """ResNet-18, CIFAR-style (3x3 stem, no max-pool): 4 stages x 2 blocks of 64-512; 11,173,962 params."""
    return stacked_resnet(ProjectionBlock, stages=4, blocks=2, num_classes=num_classes, width=width,
                          in_channels=in_channels)
