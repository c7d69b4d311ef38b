"""Classic small targets with biases: LeNet-5 and the LeNet-300-100 MLP (28x28 inputs)."""

from __future__ import annotations

from torch import nn

from innr_bench.models.layers import MNIST_MEAN, MNIST_STD, Classes, MaxPool2d, Normalize, PixelStd
from innr_bench.registry import MODELS

# Both LeNets: Adam 1e-3, batch 128, 10 epochs (4,690 steps on 60k images) reaches ~89-90 % on
# Fashion-MNIST in under a minute on 2 CPU cores.
LENET_TRAIN = {"lr": 1e-3, "batch_size": 128, "epochs": 10}


@MODELS.register("lenet5", defaults={"train": LENET_TRAIN})
def lenet5(*, num_classes: Classes = 10, mean: float = MNIST_MEAN, std: PixelStd = MNIST_STD) -> nn.Module:
    """LeNet-5 with ReLU, max-pool: conv5(6) -> conv5(16) -> 120 -> 84 -> classes, biases; 61,706 params."""
    return nn.Sequential(
        Normalize(mean, std),
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), MaxPool2d(2, 2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), MaxPool2d(2, 2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, num_classes),
    )


# LeNet-5 (Caffe): Adam 1e-3 decayed to zero (cosine), batch 128, 15 epochs (7,035 steps);
# measured on full MNIST, seed 0: 99.31 % (Han et al.'s reference: 99.20 %), 128 s on 2 CPU cores.
CAFFE_LENET_TRAIN = {"lr": 1e-3, "batch_size": 128, "epochs": 15, "schedule": "cosine"}


@MODELS.register("lenet5-caffe", defaults={"train": CAFFE_LENET_TRAIN})
def lenet5_caffe(*, num_classes: Classes = 10, mean: float = MNIST_MEAN,
    std: PixelStd = MNIST_STD) -> nn.Module:
    """Caffe's LeNet-5 (Deep Compression): conv(20), pool, conv(50), pool, 500, classes; 431,080 params."""
    # As in Caffe's examples/mnist/lenet.prototxt: no nonlinearity after the convolutions,
    # one ReLU after ip1; biases everywhere.
    return nn.Sequential(
        Normalize(mean, std),
        nn.Conv2d(1, 20, 5), MaxPool2d(2, 2),
        nn.Conv2d(20, 50, 5), MaxPool2d(2, 2),
        nn.Flatten(),
        nn.Linear(50 * 4 * 4, 500), nn.ReLU(),
        nn.Linear(500, num_classes),
    )


@MODELS.register("lenet-300-100", defaults={"train": LENET_TRAIN})
def lenet_300_100(*, num_classes: Classes = 10, mean: float = MNIST_MEAN,
    std: PixelStd = MNIST_STD) -> nn.Module:
    """LeNet-300-100 MLP (a pruning classic): 784 -> 300 -> 100 -> classes, ReLU, biases; 266,610 params."""
    return nn.Sequential(
        Normalize(mean, std),
        nn.Flatten(),
        nn.Linear(28 * 28, 300), nn.ReLU(),
        nn.Linear(300, 100), nn.ReLU(),
        nn.Linear(100, num_classes),
    )
