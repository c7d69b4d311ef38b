"""Nets of one architecture run as one: their parameters stacked and the forward pass mapped
over them (torch.func.vmap of functional_call), so K copies of a target cost one batched pass
per input batch instead of K. Inputs are either shared, (B, ...) for every net, or one batch a
net, (K, B, ...); outputs are (K, B, classes)."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

MAX_STACK = 8  # nets per stack by default: activations grow with it (seed CNN: ~90 MB a net at batch 1000)


class Stacked(nn.Module):
    """K nets with the same architecture, evaluated together."""

    def __init__(self, nets: Sequence[nn.Module]) -> None:
        super().__init__()
        self.size = len(nets)
        params, buffers = stack_module_state([net.eval() for net in nets])
        self.params = {k: v.detach() for k, v in params.items()}
        self.buffers_ = {k: v.detach() for k, v in buffers.items()}
        self.template = copy.deepcopy(nets[0]).to("meta")

    def _one(self, params: dict[str, torch.Tensor], buffers: dict[str, torch.Tensor],
             x: torch.Tensor) -> torch.Tensor:
        return functional_call(self.template, (params, buffers), (x,))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(K, B, classes) for one input batch a net, x of shape (K, B, ...)."""
        return vmap(self._one, in_dims=(0, 0, 0))(self.params, self.buffers_, x)

    def shared(self, x: torch.Tensor) -> torch.Tensor:
        """(K, B, classes) for one input batch every net sees, x of shape (B, ...)."""
        return vmap(self._one, in_dims=(0, 0, None))(self.params, self.buffers_, x)


def same_architecture(a: nn.Module, b: nn.Module) -> bool:
    """Whether two nets can share a stack: same module types and parameter/buffer shapes."""
    if [type(m) for m in a.modules()] != [type(m) for m in b.modules()]:
        return False
    sa, sb = a.state_dict(), b.state_dict()
    return list(sa) == list(sb) and all(sa[k].shape == sb[k].shape and sa[k].dtype == sb[k].dtype for k in sa)


def stacks(nets: Mapping[str, nn.Module], names: Sequence[str],
           size: int = MAX_STACK) -> list[tuple[list[str], Stacked]]:
    """`names` grouped into stacks of at most `size` nets of one architecture, in order."""
    groups: list[list[str]] = []
    for name in names:
        home = next((g for g in groups if len(g) < size and same_architecture(nets[g[0]], nets[name])), None)
        if home is None:
            groups.append([name])
        else:
            home.append(name)
    return [(group, Stacked([nets[n] for n in group])) for group in groups]
