"""Partitioned fields: the target's queries cut into contiguous parts of at most `weights`
weights each, one field per part, each sized by its share of the byte budget.

Why: under a byte ratio the field grows with the target, and every epoch runs every query
through it, so one field's fit costs ~N^2 (a ResNet-18 at 0.13: hours and 17 GB on 2 cores).
With parts of a bounded size each part's field stays the same size whatever the target, so a
fit costs ~N x `weights` and its memory ~N x the part's width. The parts are fit together (one
loss, one optimizer: Adam's steps are per parameter, so that is K independent fits in one loop)
and decoded part by part. A target smaller than one part is one part: the unpartitioned fit.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Annotated, Any

import torch
from pydantic import Field
from torch import nn

PositiveInt = Annotated[int, Field(gt=0)]


@dataclass(frozen=True, kw_only=True)
class PartitionSpec:
    """How queries are cut into parts: at most `weights` weight values (queries x values per query)."""

    weights: PositiveInt = 131_072

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def sizes(self, queries: int, values_per_query: int) -> list[int]:
        """Queries per part: as equal as can be, contiguous, in query order."""
        per_part = max(1, self.weights // values_per_query)
        parts = max(1, math.ceil(queries / per_part))
        base, extra = divmod(queries, parts)
        return [base + (1 if i < extra else 0) for i in range(parts)]


def shares(total: int, sizes: Sequence[int]) -> list[int]:
    """`total` bytes split in proportion to `sizes` (rounded down: the shares never exceed it)."""
    whole = sum(sizes)
    return [total * size // whole for size in sizes]


class PartitionedField(nn.Module):
    """K fields, the k-th predicting the k-th contiguous run of `sizes[k]` queries.

    `forward` takes every query in order (what the fitting stages pass); `evaluate` any number
    of them in chunks, part by part (what decoding does)."""

    def __init__(self, parts: Sequence[nn.Module], sizes: Sequence[int]) -> None:
        super().__init__()
        if len(parts) != len(sizes):
            raise ValueError(f"{len(parts)} fields for {len(sizes)} parts")
        self.parts = nn.ModuleList(parts)
        self.sizes = [int(size) for size in sizes]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        return torch.cat([part(chunk) for part, chunk in zip(self.parts, x.split(self.sizes))])

    def evaluate(self, x: torch.Tensor, chunk: int) -> torch.Tensor:
        """Every query's values, at most `chunk` queries per forward pass."""
        self._check(x)
        outputs = []
        for part, queries in zip(self.parts, x.split(self.sizes)):
            outputs += [part(piece) for piece in queries.split(chunk)]
        return torch.cat(outputs)

    def _check(self, x: torch.Tensor) -> None:
        if len(x) != sum(self.sizes):
            raise ValueError(f"a partitioned field takes all {sum(self.sizes):,} queries in order, "
                             f"got {len(x):,}")

    def each(self, action: Callable[[nn.Module, slice], None]) -> None:
        """`action(part, rows)` for every part and the rows of the query matrix it predicts."""
        start = 0
        for part, size in zip(self.parts, self.sizes):
            action(part, slice(start, start + size))
            start += size

    def describe(self) -> str:
        """E.g. "43 fields over parts: SIREN 140x4 (42), SIREN 97x4 (1)"."""
        if len(self.parts) == 1:  # the unpartitioned field, as its own storage column says
            return _describe(self.parts[0])
        kinds = Counter(_describe(part) for part in self.parts)
        listed = ", ".join(f"{kind} ({count})" for kind, count in kinds.items())
        return f"{len(self.parts)} fields over parts: {listed}"


def _describe(field: nn.Module) -> str:
    own = getattr(field, "describe", None)
    return str(own()) if callable(own) else type(field).__name__
