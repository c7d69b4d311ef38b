"""A byte budget for any field: the largest value of its size knob whose stored bytes (the
field at its storage precision, plus the stats and buffers stored beside it) fit.

Stored bytes grow with the knob (a width, a table size), so the largest that fits is found by
doubling, then bisection. A knob past which the bytes stop growing (a hash grid whose levels
are all dense) stops the doubling there. Entropy coding is not counted here: Huffman-coded
tensors are kept only where smaller, so the fixed-width size bounds them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from innr_bench.compress.base import payload_bytes
from innr_bench.compress.innr import storage
from innr_bench.compress.innr.fields.base import build_field, describe
from innr_bench.compress.innr.partition import shares
from innr_bench.errors import ConfigError


def stored_bytes(field: Mapping[str, Any], dims: tuple[int, int], store: storage.StorageSpec,
                 fixed_bytes: int) -> int:
    """Exact bytes stored for the field `field` describes (fixed-width codes), plus `fixed_bytes`."""
    with torch.random.fork_rng(devices=[]):  # sizing must not move the global RNG
        module = build_field(field, dim_in=dims[0], dim_out=dims[1])
    return payload_bytes(storage.pack(module.state_dict(), store.precision, bits=store.bits)) + fixed_bytes


def choose_size(field: Mapping[str, Any], knob: str, dims: tuple[int, int], store: storage.StorageSpec,
                fixed_bytes: int, budget: int, *, asked: str, who: str,
                advice: str = "raise the budget, or make the field smaller (fewer layers, lower precision)",
                ) -> int:
    """The largest `knob` whose stored bytes fit `budget`; one clear error when none does."""
    def size(value: int) -> int:
        return stored_bytes({**field, knob: value}, dims, store, fixed_bytes)

    smallest = size(1)
    if smallest > budget:
        with torch.random.fork_rng(devices=[]):
            module = build_field({**field, knob: 1}, dim_in=dims[0], dim_out=dims[1])
        beside = " with its stats and buffers" if fixed_bytes else ""
        raise ConfigError(
            f"{who}: {asked} is impossible for this target: the smallest {describe(module, field)} "
            f"({knob} 1, {store.describe()}){beside} takes {smallest:,} bytes; {advice}")
    low, high = 1, 2
    low_bytes, high_bytes = smallest, size(2)
    while high_bytes <= budget and high_bytes > low_bytes:
        low, high = high, high * 2
        low_bytes, high_bytes = high_bytes, size(high)
    if high_bytes <= budget:  # the bytes stopped growing: a larger knob stores nothing more
        return low
    while high - low > 1:  # size(low) fits, size(high) does not
        middle = (low + high) // 2
        low, high = (middle, high) if size(middle) <= budget else (low, middle)
    return low


def choose_part_sizes(field: Mapping[str, Any], knob: str, dims: tuple[int, int],
                      store: storage.StorageSpec, fixed_bytes: int, budget: int, sizes: Sequence[int], *,
                      asked: str, who: str) -> list[int]:
    """Each part's `knob`: the largest whose field fits the part's share of what the stats and
    buffers (`fixed_bytes`) leave of `budget`, shared in proportion to the parts' queries."""
    if fixed_bytes >= budget:
        raise ConfigError(f"{who}: {asked} is impossible for this target: its stats and buffers alone take "
                          f"{fixed_bytes:,} bytes; raise the budget")
    chosen: dict[int, int] = {}  # parts of equal size have equal shares: size each once
    knobs = []
    for index, share in enumerate(shares(budget - fixed_bytes, sizes)):
        if share not in chosen:
            chosen[share] = choose_size(
                field, knob, dims, store, 0, share, who=who,
                asked=f"{asked}, part {index + 1} of {len(sizes)} ({share:,} bytes)",
                advice="raise the budget, or cut fewer, larger parts (raise partition.weights)")
        knobs.append(chosen[share])
    return knobs
