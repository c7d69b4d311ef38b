"""Partitioned fields: the target's queries cut into contiguous parts of at most `weights`
weights each, one field per part, each sized by its share of the byte budget.

Why: under a byte ratio the field grows with the target, and every epoch runs every query
through it, so one field's fit costs ~N^1.8 (a ResNet-18 at 0.13: 932 s and 15.9 GB for 20 of
the 300 epochs on 2 cores, ~3.9 hours for all; benchmarks/measured/scale-2026-12-04.json). With
parts of a bounded size each part's field stays the same size whatever the target, so a fit
costs ~N x `weights` and its memory ~N x the part's width. The parts are fit together, one
loss (the mean over every query) and one optimizer: Adam scales each parameter's step by its
own gradient history, so up to its eps that is K independent fits in one loop. Decoding runs
part by part. A target no larger than one part is one part, which decodes to exactly the
unpartitioned fit's weights.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from innr_bench.compress.innr.fields.base import describe as describe_field
from innr_bench.compress.innr.fields.base import size_knob
from innr_bench.errors import ConfigError
from innr_bench.params import PositiveInt


@dataclass(frozen=True, kw_only=True)
class PartitionSpec:
    """How queries are cut into parts: at most `weights` weight values (queries x values per query)."""

    # 2^17: ResNet-20 in 3 parts, ResNet-18 in 89; benchmarks/partition_quality.py measures what
    # smaller parts cost in accuracy, benchmarks/scale.py what larger ones cost in time
    weights: PositiveInt = 131_072

    def to_dict(self) -> dict[str, Any]:
        """The part as a spec holds it (JSON)."""
        return asdict(self)

    def sizes(self, queries: int, values_per_query: int) -> list[int]:
        """Queries per part: as equal as can be, contiguous, in query order."""
        if self.weights < values_per_query:
            raise ConfigError(f"partition.weights: {self.weights} is smaller than one query's "
                              f"{values_per_query} values (the layout's block); raise it to at least "
                              f"{values_per_query}, or use a smaller block")
        per_part = self.weights // values_per_query
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
    of them in chunks, part by part (what decoding does); `solve_head` sets each part's linear
    head for its own queries."""

    def __init__(self, parts: Sequence[nn.Module], sizes: Sequence[int], spec: Mapping[str, Any],
                 knobs: Sequence[Any]) -> None:
        super().__init__()
        if not len(parts) == len(sizes) == len(knobs):
            raise ValueError(f"{len(parts)} fields for {len(sizes)} parts and {len(knobs)} sizes")
        self.parts = nn.ModuleList(parts)
        self.sizes = [int(size) for size in sizes]
        self.spec, self.knobs = dict(spec), list(knobs)

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

    def solve_head(self, x: torch.Tensor, y: torch.Tensor,
                   solve: Callable[[nn.Module, torch.Tensor, torch.Tensor], None]) -> None:
        """`solve(part, x, y)` on each part's own rows of the queries and values."""
        for part, queries, values in zip(self.parts, x.split(self.sizes), y.split(self.sizes)):
            solve(part, queries, values)

    def describe(self) -> str:
        """E.g. "86 fields over parts: SIREN 139x4 (85), SIREN 140x4 (1)"; one part: that field."""
        knob = size_knob(str(self.spec["name"]))
        kinds = Counter(describe_field(part, {**self.spec, knob: value} if knob else self.spec)
                        for part, value in zip(self.parts, self.knobs))
        if len(self.parts) == 1:
            return next(iter(kinds))
        return f"{len(self.parts)} fields over parts: " + ", ".join(f"{k} ({n})" for k, n in kinds.items())

    def _check(self, x: torch.Tensor) -> None:
        if len(x) != sum(self.sizes):
            raise ValueError(f"a partitioned field takes all {sum(self.sizes):,} queries in order, "
                             f"got {len(x):,}")
