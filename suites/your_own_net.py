"""A network trained outside innr-bench, in plain PyTorch: the example of "Benchmark your own
network" (README). `build` is the target's builder (`your_own_net:build` in
suites/your-own-net.yaml); running this file trains it on MNIST and saves its state_dict:

    python suites/your_own_net.py            # ~1 minute on 2 CPU cores -> suites/your-net.safetensors
    innr-bench run suites/your-own-net.yaml  # compress, evaluate, attack: the leaderboards
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn


class SmallResNet(nn.Module):
    """conv-BN-ReLU, a residual block of two conv-BN, global pooling, a linear head; biases."""

    def __init__(self, width: int = 16, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, width, 3, stride=2, padding=1), nn.BatchNorm2d(width),
                                  nn.ReLU())
        self.block = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
                                   nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width))
        self.head = nn.Linear(width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - 0.1307) / 0.3081  # inputs are pixels in [0, 1]: normalization inside the model
        x = self.stem(x)
        x = torch.relu(x + self.block(x))
        return self.head(x.mean((2, 3)))


def build(*, width: int = 16, classes: int = 10) -> nn.Module:
    """The builder innr-bench calls (keyword arguments are the suite's `params`)."""
    return SmallResNet(width, classes)


def train(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, epochs: int = 2, batch: int = 128,
          seed: int = 0) -> None:
    """Plain PyTorch: Adam, cross-entropy, shuffled batches."""
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(epochs):
        for index in torch.randperm(len(y)).split(batch):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x[index]), y[index]).backward()
            optimizer.step()
    model.eval()


if __name__ == "__main__":
    from innr_bench.data.datasets import mnist  # the full MNIST innr-bench ships with (no download)

    data = mnist()
    net = build()
    train(net, data.train_x, data.train_y)
    with torch.no_grad():
        accuracy = float((net(data.test_x).argmax(1) == data.test_y).float().mean())
    path = Path(__file__).with_name("your-net.safetensors")
    save_file(net.state_dict(), str(path))
    print(f"{path}: test accuracy {accuracy:.4f}")
