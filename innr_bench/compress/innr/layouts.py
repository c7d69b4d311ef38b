"""How a network's weights become an INNR's training set, and back (registered in LAYOUTS).

- `scalar` (the seed's scheme): one query per weight, 5 coordinates in, 1 standardized value
  out, one global mean/std (fp32).
- `rows`: one query per (tensor, row, chunk of `block` weights), 3 coordinates in, `block` values
  out; one mean/std per tensor (fp32) or, with `normalize: row`, per row (output channel or
  neuron; fp16).
- `kernel` (NeRN's): one query per convolution kernel (filter, channel, layer) predicting the
  whole kernel, and per `block` chunk of a fully connected row; `block` defaults to the largest
  kernel (25 for 5x5 convolutions), smaller kernels are padded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import torch

from innr_bench.compress.innr.coords import coordinates, standardize, unstandardize
from innr_bench.compress.innr.rows import (
    BlockLayout,
    standardize_per_row,
    standardize_per_tensor,
    unstandardize_per_row,
    unstandardize_per_tensor,
)
from innr_bench.errors import ConfigError
from innr_bench.params import PositiveInt
from innr_bench.registry import LAYOUTS

Normalize = Literal["tensor", "row"]  # one mean/std per tensor (fp32), or per row (fp16)


@dataclass(frozen=True)
class Queries:
    """INNR inputs (queries, dim_in), the standardized weight values each query must output
    (queries, dim_out), padding mask, and stats."""

    coords: torch.Tensor
    values: torch.Tensor
    mask: torch.Tensor | None  # False where a value is padding; None when there is none
    stats: torch.Tensor  # standardization statistics, stored with the INNR


class Layout(Protocol):
    """A way to lay weights out as (query, values) pairs; options are keyword-only."""

    def options(self, shapes: Sequence[Sequence[int]]) -> dict[str, Any]:
        """The options as used for a target of these shapes (what decoding needs)."""

    def dims(self, shapes: Sequence[Sequence[int]]) -> tuple[int, int]:
        """(dim_in, dim_out) of the field."""

    def encode(self, weights: Mapping[str, torch.Tensor]) -> Queries: ...

    def queries(self, shapes: Sequence[Sequence[int]]) -> torch.Tensor: ...

    def decode(self, outputs: torch.Tensor, stats: torch.Tensor, names: Sequence[str],
               shapes: Sequence[Sequence[int]]) -> dict[str, torch.Tensor]: ...

    def describe_stats(self) -> str: ...


@LAYOUTS.register("scalar")
class Scalar:
    """One query per weight (the seed's scheme): 5 coordinates, one value, one global mean/std."""

    def __init__(self) -> None:
        pass

    def options(self, shapes: Sequence[Sequence[int]]) -> dict[str, Any]:
        return {}

    def dims(self, shapes: Sequence[Sequence[int]]) -> tuple[int, int]:
        return 5, 1

    def encode(self, weights: Mapping[str, torch.Tensor]) -> Queries:
        values, mean, std = standardize(list(weights.values()))
        stats = torch.tensor([mean, std], dtype=torch.float32)
        shapes = [list(w.shape) for w in weights.values()]
        return Queries(coordinates(shapes), values.reshape(-1, 1), None, stats)

    def queries(self, shapes: Sequence[Sequence[int]]) -> torch.Tensor:
        return coordinates(shapes)

    def decode(self, outputs: torch.Tensor, stats: torch.Tensor, names: Sequence[str],
               shapes: Sequence[Sequence[int]]) -> dict[str, torch.Tensor]:
        mean, std = (float(v) for v in stats)
        values = unstandardize(outputs.reshape(-1), mean, std)
        sizes = [math.prod(shape) for shape in shapes]
        return dict(zip(names, [b.reshape(s) for b, s in zip(values.split(sizes), shapes)]))

    def describe_stats(self) -> str:
        return "global mean/std"


@LAYOUTS.register("rows")
class Rows:
    """One query per row chunk of `block` weights (row, chunk, tensor), per-tensor or per-row stats."""

    kernels = False  # the kernel layout cuts convolution rows at kernel boundaries

    def __init__(self, *, block: PositiveInt = 100, normalize: Normalize = "tensor") -> None:
        self.block: int | None = block
        self.normalize = normalize

    def _blocks(self, shapes: Sequence[Sequence[int]], names: Sequence[str] = ()) -> BlockLayout:
        block = self._block(shapes)
        return BlockLayout(tuple(names) or tuple(str(i) for i in range(len(shapes))),
                           tuple(tuple(s) for s in shapes), block, kernels=self.kernels)

    def _block(self, shapes: Sequence[Sequence[int]]) -> int:
        assert self.block is not None
        return self.block

    def options(self, shapes: Sequence[Sequence[int]]) -> dict[str, Any]:
        return {"block": self._block(shapes), "normalize": self.normalize}

    def dims(self, shapes: Sequence[Sequence[int]]) -> tuple[int, int]:
        return 3, self._block(shapes)

    def encode(self, weights: Mapping[str, torch.Tensor]) -> Queries:
        tensors = list(weights.values())
        blocks = self._blocks([list(t.shape) for t in tensors], list(weights))
        if self.normalize == "row":
            scaled, stats = standardize_per_row(tensors, _rows(blocks))
        else:
            scaled, stats = standardize_per_tensor(tensors)
        values, mask = blocks.to_blocks(scaled)
        return Queries(blocks.coordinates(), values, None if bool(mask.all()) else mask, stats)

    def queries(self, shapes: Sequence[Sequence[int]]) -> torch.Tensor:
        return self._blocks(shapes).coordinates()

    def decode(self, outputs: torch.Tensor, stats: torch.Tensor, names: Sequence[str],
               shapes: Sequence[Sequence[int]]) -> dict[str, torch.Tensor]:
        blocks = self._blocks(shapes, names)
        tensors = blocks.from_blocks(outputs)
        if self.normalize == "row":
            tensors = unstandardize_per_row(tensors, stats, _rows(blocks))
        else:
            tensors = unstandardize_per_tensor(tensors, stats)
        return dict(zip(names, tensors))

    def describe_stats(self) -> str:
        return "per-row mean/std fp16" if self.normalize == "row" else "per-tensor mean/std"


@LAYOUTS.register("kernel")
class Kernel(Rows):
    """One query per conv kernel (filter, channel, layer), FC rows in chunks of `block` (NeRN's)."""

    kernels = True

    # block: values per query; None: the largest kernel of the target's convolutions (a target
    # without any takes 25, a 5x5 kernel's worth)
    def __init__(self, *, block: PositiveInt | None = None, normalize: Normalize = "tensor") -> None:
        self.block = block
        self.normalize = normalize

    def _block(self, shapes: Sequence[Sequence[int]]) -> int:
        kernels = [math.prod(shape[2:]) for shape in shapes if len(shape) == 4]
        if self.block is None:
            return max(kernels, default=25)
        if kernels and self.block < max(kernels):
            raise ConfigError(f"layout.block: {self.block} is smaller than the target's largest kernel "
                              f"({max(kernels)} weights); leave block out or raise it")
        return self.block


def _rows(blocks: BlockLayout) -> list[int]:
    return [blocks.rows(i) for i in range(len(blocks.shapes))]


def build_layout(spec: Mapping[str, Any]) -> Layout:
    """The layout a (resolved) spec describes: {"name": ..., **options}."""
    return LAYOUTS.get(spec["name"])(**{k: v for k, v in spec.items() if k != "name"})
