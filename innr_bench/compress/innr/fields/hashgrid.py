"""A multiresolution hash encoding (Müller et al., SIGGRAPH 2022, instant-ngp) in plain PyTorch,
with a small ReLU MLP head; it runs on the CPU as on a GPU.

`levels` grids, resolutions growing geometrically from `min_resolution` to `max_resolution`;
each keeps `level_features` trainable features per vertex in a table of at most `table_size`
entries: dense (one entry per vertex) where the grid has that few vertices, hashed beyond (the
spatial hash XOR of coordinate x prime, tiny-cuda-nn's primes). A query's features are the
d-linear interpolation of its cell's 2^d corners, per level, concatenated. Conventions follow
tiny-cuda-nn: inputs mapped to [0, 1], scale N_min b^l - 1, offset + 0.5; dense levels get one
vertex more per axis so they never wrap. The tables are parameters like any other: stored,
quantized and entropy-coded with the head, and `table_size` is the size knob of a byte budget.
"""

from __future__ import annotations

import itertools
import math
from typing import Annotated

import torch
from pydantic import Field
from torch import nn

from innr_bench.compress.innr.fields.base import HeadField, mlp
from innr_bench.params import PositiveInt
from innr_bench.registry import FIELDS

# tiny-cuda-nn's coherent prime hash: the first factor is 1 (coherent memory for the first axis)
PRIMES = (1, 2_654_435_761, 805_459_861, 3_674_653_429, 2_097_192_037, 1_434_869_437, 2_165_219_737)
HASH_MASK = 0xFFFFFFFF  # the hash is uint32 arithmetic; int64 products keep its low 32 bits exact


@FIELDS.register("hash-grid", size="table_size")
class HashGrid(HeadField):
    """A multiresolution hash encoding (Müller et al. 2022) and a small ReLU MLP head, in PyTorch."""

    def __init__(
        self,
        *,
        dim_in: int,
        dim_out: int,
        table_size: PositiveInt = 4096,  # entries per level, at most
        levels: PositiveInt = 8,
        level_features: PositiveInt = 2,
        min_resolution: Annotated[float, Field(ge=1)] = 4.0,
        max_resolution: Annotated[float, Field(ge=1)] = 64.0,
        width: PositiveInt = 32,  # the head's hidden width
        depth: Annotated[int, Field(ge=0)] = 1,  # the head's hidden layers
        init_scale: Annotated[float, Field(gt=0)] = 1e-4,  # tables start U(-s, s), as in the paper
    ) -> None:
        super().__init__()
        if dim_in > len(PRIMES):
            raise ValueError(f"hash-grid hashes at most {len(PRIMES)} coordinates, got {dim_in}")
        self.table_size, self.levels, self.level_features = table_size, levels, level_features
        growth = math.exp((math.log(max_resolution) - math.log(min_resolution)) / max(levels - 1, 1))
        scales = [min_resolution * growth**level - 1 for level in range(levels)]
        sizes, strides = [], []
        for scale in scales:
            vertices = math.ceil(scale) + 2  # per axis, so that a dense level never wraps
            dense = vertices**dim_in <= table_size
            sizes.append(vertices**dim_in if dense else table_size)
            # dense levels index row-major (stride vertices^k); hashed ones have stride 0
            strides.append([vertices**k if dense else 0 for k in range(dim_in)])
        offsets = [0, *itertools.accumulate(sizes)][:-1]
        corners = torch.tensor(list(itertools.product((0, 1), repeat=dim_in)))
        self.register_buffer("scales", torch.tensor(scales, dtype=torch.float32), persistent=False)
        self.register_buffer("sizes", torch.tensor(sizes), persistent=False)
        self.register_buffer("offsets", torch.tensor(offsets), persistent=False)
        self.register_buffer("strides", torch.tensor(strides), persistent=False)
        self.register_buffer("dense", torch.tensor([s[0] > 0 for s in strides]), persistent=False)
        self.register_buffer("corners", corners, persistent=False)
        self.register_buffer("primes", torch.tensor(PRIMES[:dim_in]), persistent=False)
        self.table = nn.Parameter(torch.empty(sum(sizes), level_features).uniform_(-init_scale, init_scale))
        self.hidden = mlp(levels * level_features, width, depth, nn.ReLU)
        self.head = nn.Linear(width if depth else levels * level_features, dim_out)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(N, levels * level_features) interpolated grid features of queries in [-1, 1]."""
        unit = ((x + 1) / 2).clamp(0, 1)
        position = unit[:, None, :] * self.scales[None, :, None] + 0.5  # (N, L, d)
        cell = position.floor()
        fraction = position - cell
        vertex = cell.long()[:, :, None, :] + self.corners  # (N, L, 2^d, d)
        weight = torch.where(self.corners.bool(), fraction[:, :, None, :],
                             1 - fraction[:, :, None, :]).prod(-1)  # (N, L, 2^d)
        dense_index = (vertex * self.strides[None, :, None, :]).sum(-1)
        hashed = vertex[..., 0] * self.primes[0]
        for k in range(1, vertex.shape[-1]):
            hashed = hashed ^ (vertex[..., k] * self.primes[k])
        hashed = hashed & HASH_MASK
        index = torch.where(self.dense[None, :, None], dense_index, hashed)
        index = index % self.sizes[None, :, None] + self.offsets[None, :, None]
        values = self.table[index]  # (N, L, 2^d, F)
        return (weight[..., None] * values).sum(2).flatten(1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.hidden(self.encode(x))

    def describe(self) -> str:
        return (f"hash grid {self.levels} levels x {self.table_size} x {self.level_features} + MLP "
                f"{self.head.in_features}x{len(self.hidden) // 2}")
