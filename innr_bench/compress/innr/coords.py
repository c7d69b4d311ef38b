"""The seed's coordinate scheme (its `ConvCoordinateDataset`) and global standardization."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def axis(n: int) -> torch.Tensor:
    """n evenly spaced coordinates in [-1, 1]."""
    # linspace(-1, 1, 1) == [-1]: a size-1 axis maps to -1, as in the seed.
    return torch.linspace(-1.0, 1.0, n)


def tensor_coordinates(shape: Sequence[int]) -> torch.Tensor:
    """(numel, 4) coordinates of one parameter tensor; missing axes are 0.

    4-D conv weight -> (cout, cin, kh, kw); 2-D linear -> (out, in, 0, 0); 1-D bias -> (b, 0, 0, 0).
    """
    if not 1 <= len(shape) <= 4:
        raise ValueError(f"coordinates cover 1-D to 4-D parameters, got shape {tuple(shape)}")
    grids = torch.meshgrid(*[axis(n) for n in shape], indexing="ij")
    coords = torch.stack([g.reshape(-1) for g in grids], dim=1)
    padding = torch.zeros(coords.shape[0], 4 - len(shape))
    return torch.cat([coords, padding], dim=1)


def coordinates(shapes: Sequence[Sequence[int]]) -> torch.Tensor:
    """(total numel, 5) coordinates of an ordered tuple of parameters; layer coordinate last."""
    layer_axis = axis(len(shapes))
    blocks = []
    for index, shape in enumerate(shapes):
        per_tensor = tensor_coordinates(shape)
        layer = layer_axis[index].expand(per_tensor.shape[0], 1)
        blocks.append(torch.cat([per_tensor, layer], dim=1))
    return torch.cat(blocks, dim=0)


def standardize(weights: Sequence[torch.Tensor]) -> tuple[torch.Tensor, float, float]:
    """All weights flattened in order, standardized with one global mean and unbiased std."""
    flat = torch.cat([w.detach().reshape(-1).float().cpu() for w in weights])
    mean, std = flat.mean(), flat.std()  # torch's std is unbiased, as in the seed
    return (flat - mean) / std, float(mean), float(std)


def unstandardize(values: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """Inverse of `standardize`: w * std + mean."""
    return values * std + mean
