"""What the fitting stages of one INNR share while it is built: the field, the weights it is
fit to (in the layout's query form), where it runs and how it will be stored."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from innr_bench.compress.base import CompressContext
from innr_bench.compress.innr.layouts import Layout, Queries

# Called every `checkpoint_every` weight-fit epochs with (epoch, fit seconds so far), the field
# in eval mode; its own time is not counted.
Checkpoint = Callable[[int, float], None]


@dataclass
class FitState:
    """One INNR under construction. Stages train `field` in place; distillation may replace
    `stats` (the standardization statistics stored beside the field)."""

    field: nn.Module
    layout: Layout
    queries: Queries  # the standardized weights as (queries, values), and their first stats
    stats: torch.Tensor  # the stats as they will be stored
    names: list[str]  # the target's parameters, in order
    shapes: list[list[int]]
    model: nn.Module  # the original network
    ctx: CompressContext
    bits: int | None  # code width the field is stored at (int8 precision); None: fp16/fp32
    checkpoint: Checkpoint | None = None
    checkpoint_every: int = 25

    def decode(self, outputs: torch.Tensor, stats: torch.Tensor) -> dict[str, torch.Tensor]:
        """The network's weights from field outputs at every query (differentiable in both)."""
        return self.layout.decode(outputs, stats, self.names, self.shapes)
