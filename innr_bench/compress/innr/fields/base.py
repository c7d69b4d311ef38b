"""What every field shares: building one from its spec, its size knob, its least-squares head.

A field is an `nn.Module` from query coordinates (N, dim_in), each in [-1, 1], to values
(N, dim_out). It is registered in `FIELDS` with keyword-only options (`dim_in` and `dim_out`
come from the layout) and `size="<option>"`: the integer option a byte budget searches over.
A field whose last layer is linear may expose `features(x)` (N, F) and `head` (weight (dim_out,
F), bias (dim_out,)); the weight fit can then solve that layer by least squares.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from innr_bench.registry import FIELDS

# Keys of a field's spec that are not options of its builder.
SPEC_KEYS = ("name", "version")
SUPPLIED = ("dim_in", "dim_out")  # set from the layout, never by a suite


def options(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A field spec's builder options (its name and version left out)."""
    return {k: v for k, v in spec.items() if k not in SPEC_KEYS}


def size_knob(name: str) -> str | None:
    """The option a byte budget searches over for field `name`, if it declares one."""
    return FIELDS.entry(name).traits.get("size")


def build_field(spec: Mapping[str, Any], *, dim_in: int, dim_out: int) -> nn.Module:
    """The field a (resolved) spec describes, for queries of `dim_in` and values of `dim_out`."""
    return FIELDS.get(spec["name"])(dim_in=dim_in, dim_out=dim_out, **options(spec))


def declares_head(name: str) -> bool:
    """Whether registered field `name` has a features/head split. Asked of its class where the
    class says (a `features` method and a `head` annotation, as `HeadField`'s); else a tiny one
    is built to ask (a factory function, or `features` without a declared head)."""
    factory = FIELDS.get(name)
    if isinstance(factory, type):
        if not callable(getattr(factory, "features", None)):
            return False
        if any("head" in getattr(k, "__annotations__", {}) for k in factory.__mro__):
            return True
    with torch.random.fork_rng(devices=[]):
        return has_head(factory(dim_in=3, dim_out=1))


def has_head(field: nn.Module) -> bool:
    """Whether the field exposes a linear head the least-squares solve can set."""
    head = getattr(field, "head", None)
    return callable(getattr(field, "features", None)) and hasattr(head, "weight") and hasattr(head, "bias")


def describe(field: nn.Module, spec: Mapping[str, Any]) -> str:
    """The field in the storage column: its own `describe()`, else its name and size."""
    own = getattr(field, "describe", None)
    if callable(own):
        return str(own())
    knob = size_knob(spec["name"])
    return f"{spec['name']} {knob}={spec.get(knob)}" if knob else str(spec["name"])


def mlp(dim_in: int, width: int, depth: int, activation: Callable[[], nn.Module]) -> nn.Sequential:
    """`depth` hidden layers of `width` (Linear, then `activation`), PyTorch's default init."""
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(dim_in if i == 0 else width, width), activation()]
    return nn.Sequential(*layers)


class HeadField(nn.Module):
    """A field made of features and a linear head: forward is `head(features(x))`."""

    head: nn.Linear

    def features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
