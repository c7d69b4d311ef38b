"""Block layout: one INNR query per (tensor, row, chunk) predicts a block of K weights.

Every parameter tensor is viewed as rows (its first axis) of `numel / rows` values; each row is cut
into chunks of K values (the last one zero-padded), so a 5x5 conv kernel row with K = 25 is one
query. With `kernels`, a convolution's row is cut at its kernels instead (chunk = input channel,
each kernel zero-padded to K), so every query is one kernel whatever its size. Query coordinates
are (row, chunk, tensor), each in [-1, 1] like the seed's scheme. Each tensor is standardized
with its own mean and std, stored as fp32 (8 bytes per tensor), or per row.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from innr_bench.compress.innr.coords import axis


@dataclass(frozen=True)
class BlockLayout:
    """Where each weight of an ordered tuple of tensors sits in the (queries, K) block matrix."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    block: int
    kernels: bool = False  # a convolution's query is one kernel (padded to `block`)

    def rows(self, index: int) -> int:
        shape = self.shapes[index]
        return shape[0] if len(shape) > 1 else 1

    def _per_kernel(self, index: int) -> bool:
        return self.kernels and len(self.shapes[index]) == 4

    def chunks(self, index: int) -> int:
        if self._per_kernel(index):
            return self.shapes[index][1]
        return math.ceil(math.prod(self.shapes[index]) / self.rows(index) / self.block)

    def coordinates(self) -> torch.Tensor:
        """(queries, 3) coordinates: (row, chunk, tensor)."""
        tensor_axis = axis(len(self.shapes))
        blocks = []
        for i in range(len(self.shapes)):
            r, c = torch.meshgrid(axis(self.rows(i)), axis(self.chunks(i)), indexing="ij")
            t = tensor_axis[i].expand(r.numel())
            blocks.append(torch.stack([r.reshape(-1), c.reshape(-1), t], dim=1))
        return torch.cat(blocks)

    def to_blocks(self, tensors: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(queries, K) values and a same-shaped mask that is False on padding."""
        values, masks = [], []
        for i, tensor in enumerate(tensors):
            if self._per_kernel(i):  # (rows x channels) kernels, each padded to the block
                rows = tensor.reshape(self.rows(i) * self.chunks(i), -1)
                pad = self.block - rows.shape[1]
            else:
                rows = tensor.reshape(self.rows(i), -1)
                pad = self.chunks(i) * self.block - rows.shape[1]
            values.append(torch.nn.functional.pad(rows, (0, pad)).reshape(-1, self.block))
            mask = torch.ones_like(rows, dtype=torch.bool)
            masks.append(torch.nn.functional.pad(mask, (0, pad)).reshape(-1, self.block))
        return torch.cat(values), torch.cat(masks)

    def from_blocks(self, blocks: torch.Tensor) -> list[torch.Tensor]:
        """Inverse of `to_blocks`: the tensors, padding dropped."""
        out, start = [], 0
        for i, shape in enumerate(self.shapes):
            n = self.rows(i) * self.chunks(i)
            if self._per_kernel(i):
                out.append(blocks[start : start + n, : math.prod(shape[2:])].reshape(shape))
            else:
                rows = blocks[start : start + n].reshape(self.rows(i), -1)
                out.append(rows[:, : math.prod(shape) // self.rows(i)].reshape(shape))
            start += n
        return out


def standardize_per_tensor(tensors: Sequence[torch.Tensor]) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Each tensor standardized by its own mean and unbiased std; stats as a (T, 2) fp32 tensor."""
    stats = []
    for t in tensors:
        flat = t.detach().float().reshape(-1)
        std = flat.std() if flat.numel() > 1 else torch.tensor(0.0)
        stats.append([flat.mean(), std if std > 0 else torch.tensor(1.0)])
    stats_tensor = torch.tensor([[float(m), float(s)] for m, s in stats], dtype=torch.float32)
    scaled = [(t.detach().float() - m) / s for t, (m, s) in zip(tensors, stats_tensor)]
    return scaled, stats_tensor


def unstandardize_per_tensor(tensors: Sequence[torch.Tensor], stats: torch.Tensor) -> list[torch.Tensor]:
    return [t * s + m for t, (m, s) in zip(tensors, stats)]


def standardize_per_row(
    tensors: Sequence[torch.Tensor], rows: Sequence[int]
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Each row (output channel or neuron; a 1-D tensor is one row) standardized by its own mean
    and std, rounded to fp16 first so encoding and decoding use the stored values; stats as a
    (total rows, 2) fp16 tensor. Rows differ in scale far more than neighbouring weights do, so
    the field is left the within-row pattern only."""
    stats, scaled = [], []
    for tensor, n in zip(tensors, rows, strict=True):
        flat = tensor.detach().float().reshape(n, -1)
        mean = flat.mean(1)
        std = flat.std(1) if flat.shape[1] > 1 else torch.ones(n)
        std = torch.where(std > 0, std, torch.ones_like(std))
        row_stats = torch.stack([mean, std], dim=1).half()
        m, s = row_stats.float().unbind(1)
        scaled.append(((flat - m[:, None]) / s[:, None]).reshape(tensor.shape))
        stats.append(row_stats)
    return scaled, torch.cat(stats)


def unstandardize_per_row(
    tensors: Sequence[torch.Tensor], stats: torch.Tensor, rows: Sequence[int]
) -> list[torch.Tensor]:
    """Inverse of `standardize_per_row` (differentiable in both the tensors and the stats)."""
    out = []
    for tensor, row_stats in zip(tensors, stats.float().split(list(rows)), strict=True):
        flat = tensor.reshape(row_stats.shape[0], -1)
        out.append((flat * row_stats[:, 1:] + row_stats[:, :1]).reshape(tensor.shape))
    return out

