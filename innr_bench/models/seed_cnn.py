"""The seed study's LeNet-5-like target network."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from torch import nn

from innr_bench.models.layers import MNIST_MEAN, MNIST_STD, Classes, MaxPool2d, Normalize, PixelStd
from innr_bench.registry import MODELS


@MODELS.register("seed-cnn")
def seed_cnn(*, c: Annotated[int, Field(gt=0)] = 32, num_classes: Classes = 10, mean: float = MNIST_MEAN,
             std: PixelStd = MNIST_STD) -> nn.Module:
    """Seed CNN: conv5(c) -> pool -> conv5(2c) -> pool -> linear, sigmoid, no biases; c=32: 62,240 weights."""
    return nn.Sequential(
        Normalize(mean, std),
        nn.Conv2d(1, c, 5, bias=False),
        nn.Sigmoid(),
        MaxPool2d(2, 2),
        nn.Conv2d(c, 2 * c, 5, bias=False),
        nn.Sigmoid(),
        MaxPool2d(2, 2),
        nn.Flatten(),
        nn.Linear(2 * c * 4 * 4, num_classes, bias=False),
    )
