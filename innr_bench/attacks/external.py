"""torchattacks' attack zoo by class name (optional extra `attacks`), imported only when used."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Iterator
from types import ModuleType
from typing import Annotated, Any

import torch
from pydantic import Field
from torch import nn

from innr_bench.attacks.fgsm import Epsilon
from innr_bench.attacks.pgd import TargetMode
from innr_bench.errors import ConfigError, MissingExtraError
from innr_bench.models.stacked import Stacked
from innr_bench.registry import ATTACKS


def import_torchattacks() -> ModuleType:
    try:
        import torchattacks
    except ImportError:
        raise MissingExtraError(
            "attack 'torchattacks' needs the optional extra: pip install 'innr-bench[attacks]'"
        ) from None
    return torchattacks


def attack_class(module: ModuleType, name: str) -> type:
    """The torchattacks class called `name`, or a ConfigError listing close names."""
    base = module.attack.Attack
    classes = {n: c for n, c in vars(module).items()
               if inspect.isclass(c) and issubclass(c, base) and c is not base}
    if name not in classes:
        close = difflib.get_close_matches(name, classes, n=3)
        hint = f"did you mean {', '.join(map(repr, close))}?" if close else f"one of {sorted(classes)}"
        raise ConfigError(f"attack: {name!r} is not a torchattacks attack; {hint}")
    return classes[name]


@ATTACKS.register("torchattacks", version=2)  # 2: copies stacked (eval.stack_copies) attacked as one model
class TorchAttacks:
    """A torchattacks attack by class name (e.g. MIFGSM, BIM, PGD, APGD) over a list of eps."""

    def __init__(
        self,
        *,
        attack: str,
        eps: Annotated[list[Epsilon], Field(min_length=1)] = [0.0, 0.0924],  # noqa: B006 (pydantic copies)
        params: dict[str, Any] = {},  # noqa: B006 (pydantic copies); the class's other arguments
        target: TargetMode = "none",
    ) -> None:
        self.cls = attack_class(import_torchattacks(), attack)
        signature = inspect.signature(self.cls.__init__)
        if "eps" not in signature.parameters:
            raise ConfigError(f"attack: {attack!r} takes no eps (a minimum-norm attack); only attacks "
                              "bounded by an L-inf eps can be swept here")
        unknown = sorted(set(params) - set(signature.parameters) - {"self", "model"})
        if unknown or "eps" in params:
            allowed = sorted(set(signature.parameters) - {"self", "model", "eps"})
            raise ConfigError(f"params: {sorted(set(unknown) | ({'eps'} & set(params)))} not accepted by "
                              f"torchattacks.{attack} here (eps goes in `eps`); allowed: {allowed}")
        self.name, self.eps, self.params, self.target = attack, list(eps), dict(params), target

    def perturb_stacked(self, stacked: Stacked, x: torch.Tensor, y: torch.Tensor
                        ) -> Iterator[tuple[float, torch.Tensor]]:
        """(K, B, ...) adversarials, each stacked net's own, crafted in one attack: the K nets
        as one model over K x B inputs (`OneModel`). torchattacks' attacks keep their state per
        input (APGD's step sizes and checkpoints, AutoAttack's per-input success), so that is K
        white-box attacks at once; random starts are drawn for all K x B inputs together, so
        their draws differ from one net at a time."""
        one = OneModel(stacked, x.device)
        xs, ys = x.repeat(stacked.size, *([1] * (x.dim() - 1))), y.repeat(stacked.size)
        for eps, adv in self.perturb(one, xs, ys):
            yield eps, adv.reshape(stacked.size, *x.shape)

    def perturb(
        self, model: nn.Module, x: torch.Tensor, y: torch.Tensor
    ) -> Iterator[tuple[float, torch.Tensor]]:
        for eps in self.eps:
            if eps == 0:
                yield eps, x.detach().clone()
                continue
            attack = self.cls(model, eps=eps, **self.params)
            if self.target == "random":
                attack.set_mode_targeted_random()
            elif self.target == "least-likely":
                attack.set_mode_targeted_least_likely()
            yield eps, attack(x, y).detach()


class OneModel(nn.Module):
    """K stacked nets as one model over K x B inputs: row k x B + i is input i of net k. It holds
    an empty parameter on the nets' device, which torchattacks reads its device from."""

    def __init__(self, stacked: Stacked, device: torch.device) -> None:
        super().__init__()
        self.stacked = stacked
        self.anchor = nn.Parameter(torch.empty(0, device=device), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.stacked.size
        logits = self.stacked(x.reshape(k, len(x) // k, *x.shape[1:]))
        return logits.reshape(len(x), -1)
