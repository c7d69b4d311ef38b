"""The stages an INNR is fit in (registered in STAGES), each a small typed config that runs on
the shared `FitState` through the one training loop (`loop.train_loop`).

- `weights`: full-batch Adam on the MSE to the standardized weights (the seed's recipe), with an
  optional least-squares solve of the field's linear head;
- `qat` (data-free): more full-batch epochs on that MSE with the field's weights rounded as they
  will be stored (straight-through gradients), so storage at 8 bits or fewer costs little;
- `distill` (`distill.py`): through the decoded net, on data, noise or class impressions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Annotated, Any

import torch
from pydantic import Field
from torch import nn
from torch.func import functional_call

from innr_bench.compress.innr.fields.base import declares_head, has_head
from innr_bench.compress.innr.loop import Schedule, one_cycle_problem, train_loop
from innr_bench.compress.innr.state import FitState
from innr_bench.compress.innr.storage import StorageSpec, fake_quantize
from innr_bench.errors import ConfigError
from innr_bench.numerics import autocast
from innr_bench.params import PositiveFloat, PositiveInt
from innr_bench.registry import STAGES

HISTORY_EVERY = 25  # epochs between stored losses of the full-batch stages


Namer = Callable[[str], str]  # a spec path as a message names it (what the suite wrote)


@dataclass(frozen=True)
class Around:
    """What a stage's check sees of the rest of the spec: the storage, the field, the stages
    before it, the options the suite wrote for it (none: all from a preset), and its path."""

    storage: StorageSpec
    field: Mapping[str, Any]
    before: Sequence[Mapping[str, Any]]
    given: frozenset[str]
    where: str
    name: Namer = str

    def path(self, option: str) -> str:
        """The option's path as the suite's front end names it, e.g. fit[0].warmup."""
        return self.name(f"{self.where}.{option}")


class Stage:
    """What every stage is: a config that can check itself against the other parts, describe
    itself and run."""

    data_free = True  # only distillation on training images reads data

    @classmethod
    def check(cls, stage: dict[str, Any], around: Around) -> None:
        """ConfigError naming the path when `stage` (its resolved options) cannot run beside the
        other parts; a default that depends on them may be set in `stage`. Nothing by default."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    def describe(self) -> str | None:
        """The stage in the storage column (None: not shown)."""
        return None

    def run(self, state: FitState) -> dict[str, Any]:
        raise NotImplementedError


@STAGES.register("weights")
@dataclass(frozen=True, kw_only=True)
class WeightFit(Stage):
    """Full-batch Adam on the MSE to the standardized weights, every query each step, no shuffling."""

    epochs: PositiveInt = 300
    lr: PositiveFloat = 3e-3
    schedule: Schedule = "one-cycle"
    warmup: Annotated[float, Field(ge=0, lt=1)] = 0.1  # one-cycle: share of epochs warming up
    # k: the head set to its least-squares optimum before training, every k epochs and after the
    # last (0: before and after only); None: never
    solve_every: Annotated[int, Field(ge=0)] | None = 5

    @classmethod
    def check(cls, stage: dict[str, Any], around: Around) -> None:
        """A one-cycle warm-up torch can schedule; the head solve only where the field has a head
        (a preset's solve is dropped for a field without one; the suite's own is refused)."""
        one_cycle = stage["schedule"] == "one-cycle"
        problem = one_cycle_problem(stage["epochs"], stage["warmup"]) if one_cycle else None
        if problem:
            raise ConfigError(f"{around.path('warmup')}: {problem}")
        if stage["solve_every"] is not None and not declares_head(str(around.field["name"])):
            if "solve_every" in around.given:
                raise ConfigError(f"{around.path('solve_every')}: field {around.field['name']!r} has no "
                                  "linear head (features/head) to solve; set solve_every: null")
            stage["solve_every"] = None

    def run(self, state: FitState) -> dict[str, Any]:
        """Returns final loss, a loss history and fit seconds (checkpoint callbacks not counted).
        `ctx.amp`: forward passes under bf16 autocast on CUDA (loss and solves stay fp32)."""
        net, ctx = state.field, state.ctx
        net.to(ctx.device).train()
        x = state.queries.coords.to(ctx.device)
        y = state.queries.values.to(ctx.device).reshape(len(x), -1)
        weight = None if state.queries.mask is None else state.queries.mask.to(ctx.device).float()
        solving = self.solve_every is not None
        setup = 0.0
        if solving:
            start = time.perf_counter()
            solve_head(net, x, y)
            setup = time.perf_counter() - start

        def loss(epoch: int) -> torch.Tensor:
            with autocast(x.device, ctx.amp):
                out = net(x)
            return masked_mse(out.float(), y, weight)

        def after(epoch: int) -> None:
            if solving and (epoch == self.epochs or (self.solve_every and epoch % self.solve_every == 0)):
                solve_head(net, x, y)

        def inspect(epoch: int, seconds: float) -> None:
            assert state.checkpoint is not None
            net.eval()
            state.checkpoint(epoch, seconds + setup)
            net.train()

        result = train_loop([{"params": net.parameters()}], loss, steps=self.epochs, lr=self.lr,
                            what="fit INNR", progress=ctx.progress, schedule=self.schedule,
                            warmup=self.warmup, history_every=HISTORY_EVERY, after_step=after,
                            inspect=inspect if state.checkpoint is not None else None,
                            inspect_every=state.checkpoint_every, label="mse")
        net.eval()
        return {"final_mse": result.final_loss, "history": result.history,
                "fit_seconds": result.seconds + setup}


@STAGES.register("qat")
@dataclass(frozen=True, kw_only=True)
class QuantRefit(Stage):
    """Data-free quantization-aware refit: weight MSE through the field rounded as stored."""

    epochs: PositiveInt = 100
    lr: PositiveFloat | None = None  # None: a tenth of the weight fit's
    schedule: Schedule = "cosine"

    @classmethod
    def check(cls, stage: dict[str, Any], around: Around) -> None:
        """Integer storage codes to round to; without an lr, a tenth of the last weight fit's."""
        if around.storage.precision != "int8":
            raise ConfigError(f"{around.path('epochs')}: {stage['epochs']!r} needs integer codes; set "
                              f"{around.name('storage.precision')}: int8 (got {around.storage.precision!r})")
        if stage["lr"] is None:
            fits = [s for s in around.before if s["name"] == "weights"]
            if not fits:
                raise ConfigError(f"{around.path('lr')}: set it; no weights stage comes before to take a "
                                  "tenth of its lr")
            stage["lr"] = fits[-1]["lr"] / 10

    def describe(self) -> str:
        return f"QAT {self.epochs} ep"

    def run(self, state: FitState) -> dict[str, Any]:
        if state.bits is None or self.lr is None:
            raise ValueError("qat needs integer storage codes and a resolved lr")
        start = time.perf_counter()
        net, ctx, bits = state.field, state.ctx, state.bits
        net.to(ctx.device).train()
        x = state.queries.coords.to(ctx.device)
        y = state.queries.values.to(ctx.device).reshape(len(x), -1)
        weight = None if state.queries.mask is None else state.queries.mask.to(ctx.device).float()
        result = train_loop([{"params": net.parameters()}],
                            lambda _: masked_mse(field_outputs(net, x, bits), y, weight),
                            steps=self.epochs, lr=self.lr, what="quantization-aware refit",
                            progress=ctx.progress, schedule=self.schedule, history_every=HISTORY_EVERY,
                            label="mse")
        net.eval()
        return {"qat_epochs": self.epochs, "qat_mse": result.final_loss, "qat_history": result.history,
                "qat_seconds": time.perf_counter() - start}


def masked_mse(out: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    """Mean squared error over the real values: padded ones (weight 0) do not count."""
    if weight is None:
        return nn.functional.mse_loss(out, y)
    return ((out - y).pow(2) * weight).sum() / weight.sum()


def field_outputs(field: nn.Module, coords: torch.Tensor, bits: int | None) -> torch.Tensor:
    """The field at `coords`, its weights rounded to `bits` (None: as they are)."""
    if bits is None:
        return field(coords)
    params = {name: fake_quantize(p, bits) for name, p in field.named_parameters()}
    return functional_call(field, params, (coords,))


@torch.no_grad()
def solve_head(field: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    """Least-squares linear head for the field's current features (padded values count as 0).

    The head is linear in its weights, so its optimum for fixed features is one `lstsq` away;
    solving it gives gradient descent a far better start than a random head.
    """
    own = getattr(field, "solve_head", None)
    if callable(own):  # a field of parts: each part's head for its own queries
        own(x, y, solve_head)
        return
    if not has_head(field):
        raise ValueError(f"{type(field).__name__} has no features/head split to solve")
    features = field.features(x)
    features = torch.cat([features, torch.ones(len(features), 1, device=features.device)], dim=1)
    # solved on the host on every device: the published GPU cells (mnist-budgets) were made so, and
    # a solve on the card (driver gels) would compute other digits under the same keys
    solution = torch.linalg.lstsq(features.cpu(), y.cpu()).solution.to(features.device)
    field.head.weight.copy_(solution[:-1].T)
    field.head.bias.copy_(solution[-1])
