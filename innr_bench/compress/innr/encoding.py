"""Two ways to turn weights into an INNR's training set, and back.

`scalar` is the seed's scheme: one query per weight, 5 coordinates in, 1 standardized value out,
one global mean/std. `rows` is the block scheme of `rows.py`: one query per row chunk of K weights,
3 coordinates in, K values out, one mean/std per tensor (fp32) or, with `normalize: row`, per row
(output channel or neuron; fp16).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import torch

from innr_bench.compress.innr.coords import coordinates, standardize, unstandardize
from innr_bench.compress.innr.rows import (
    BlockLayout,
    standardize_per_row,
    standardize_per_tensor,
    unstandardize_per_row,
    unstandardize_per_tensor,
)

Layout = Literal["scalar", "rows"]
Normalize = Literal["tensor", "row"]  # rows layout: one mean/std per tensor, or per row (fp16)


@dataclass(frozen=True)
class Encoded:
    """INNR inputs (queries, dim_in), targets (queries, dim_out), padding mask, and stats."""

    coords: torch.Tensor
    targets: torch.Tensor
    mask: torch.Tensor | None  # False where a target is padding; None when there is none
    stats: torch.Tensor  # standardization statistics, stored with the INNR (fp32)


def dims(layout: Layout, block: int) -> tuple[int, int]:
    """(dim_in, dim_out) of the INNR for a layout."""
    return (5, 1) if layout == "scalar" else (3, block)


def _block_layout(meta: Mapping[str, Any]) -> BlockLayout:
    return BlockLayout(tuple(meta["names"]), tuple(tuple(s) for s in meta["shapes"]), meta["block"])


def _rows(layout: BlockLayout) -> list[int]:
    return [layout.rows(i) for i in range(len(layout.shapes))]


def encode(weights: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> Encoded:
    """Training set for the INNR; `meta` holds layout, names, shapes and block."""
    tensors = list(weights.values())
    if meta.get("layout", "scalar") == "scalar":
        values, mean, std = standardize(tensors)
        stats = torch.tensor([mean, std], dtype=torch.float32)
        return Encoded(coordinates(meta["shapes"]), values.reshape(-1, 1), None, stats)
    layout = _block_layout(meta)
    if meta.get("normalize", "tensor") == "row":
        scaled, stats = standardize_per_row(tensors, _rows(layout))
    else:
        scaled, stats = standardize_per_tensor(tensors)
    targets, mask = layout.to_blocks(scaled)
    return Encoded(layout.coordinates(), targets, None if bool(mask.all()) else mask, stats)


def query_coordinates(meta: Mapping[str, Any]) -> torch.Tensor:
    """The INNR inputs at which to sample every weight."""
    if meta.get("layout", "scalar") == "scalar":
        return coordinates(meta["shapes"])
    return _block_layout(meta).coordinates()


def decode(outputs: torch.Tensor, stats: torch.Tensor, meta: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Weights from INNR outputs at `query_coordinates(meta)`."""
    if meta.get("layout", "scalar") == "scalar":
        mean, std = (float(v) for v in stats)
        values = unstandardize(outputs.reshape(-1), mean, std)
        sizes = [math.prod(shape) for shape in meta["shapes"]]
        blocks = [b.reshape(s) for b, s in zip(values.split(sizes), meta["shapes"])]
    else:
        layout = _block_layout(meta)
        blocks = layout.from_blocks(outputs)
        if meta.get("normalize", "tensor") == "row":
            blocks = unstandardize_per_row(blocks, stats, _rows(layout))
        else:
            blocks = unstandardize_per_tensor(blocks, stats)
    return dict(zip(meta["names"], blocks))
