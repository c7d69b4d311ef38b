"""Target architectures (registered in MODELS) and their training loop."""

from __future__ import annotations

from innr_bench.models import lenet, resnet, seed_cnn
from innr_bench.models.layers import Normalize
from innr_bench.models.train import TrainConfig, train

__all__ = ["Normalize", "TrainConfig", "lenet", "resnet", "seed_cnn", "train"]
