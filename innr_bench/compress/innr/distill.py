"""Distillation through the decoded net (NeRN-style, Ashkenazi et al. 2023): the field's
weights (and, optionally, the stored standardization statistics) are trained so the decoded
net's logits match the original's (KL at a temperature). The INNR stays an INNR: the net's
weights are still decoded by evaluating the field at their coordinates.

Inputs are training images (`data`: the setting then uses data), synthetic images drawn from
noise (`noise`: data-free; only the input shape is known), or half noise and half class
impressions made from the original net (`impressions`: data-free; see `synthetic`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import torch
from pydantic import Field
from torch import nn
from torch.func import functional_call

from innr_bench.compress.innr.loop import Schedule, train_loop
from innr_bench.compress.innr.stages import Around, Stage, field_outputs, masked_mse
from innr_bench.compress.innr.state import FitState
from innr_bench.compress.innr.synthetic import class_impressions, impression_batch, noise_images
from innr_bench.errors import ConfigError
from innr_bench.params import PositiveFloat, PositiveInt
from innr_bench.registry import STAGES

Inputs = Literal["data", "noise", "impressions"]
HISTORY_EVERY = 100  # steps between stored loss values
STATS_LR_FACTOR = 1.0  # learning-rate multiplier of the trained per-row/per-tensor mean and std


@STAGES.register("distill")
@dataclass(frozen=True, kw_only=True)
class Distill(Stage):
    """Distillation through the decoded net: KL to the original's logits on data, noise or impressions."""

    steps: PositiveInt = 4000
    # data: training images (the setting uses data); noise: synthetic images; impressions: half
    # noise, half class impressions made from the original (both data-free)
    inputs: Inputs = "data"
    lr: PositiveFloat = 5e-4
    temperature: PositiveFloat = 1.0
    batch: PositiveInt = 256
    weight_loss: Annotated[float, Field(ge=0)] = 0.0  # x the weight MSE, beside the KL
    label_loss: Annotated[float, Field(ge=0)] = 0.0  # x the cross-entropy with the labels (data only)
    pool: PositiveInt = 2000  # class impressions made once (inputs `impressions`)
    pool_steps: PositiveInt = 200  # Adam steps that make them
    learn_stats: bool = True  # train the stored per-row/per-tensor mean and std too
    schedule: Schedule = "cosine"

    @property
    def data_free(self) -> bool:  # type: ignore[override]
        return self.inputs != "data"

    @classmethod
    def check(cls, stage: dict[str, Any], around: Around) -> None:
        """A label loss needs the training labels: inputs `data`."""
        if stage["label_loss"] and stage["inputs"] != "data":
            label_loss = around.path("label_loss")
            raise ConfigError(f"{label_loss}: {stage['label_loss']!r} needs training labels; "
                              f"set {around.path('inputs')}: data or leave {label_loss} out")

    def describe(self) -> str:
        return f"distilled {self.steps} steps on {self.inputs}"

    def run(self, state: FitState) -> dict[str, Any]:
        """Train the field (and the stats, if asked) so the decoded net's logits match the
        original's, plus `label_loss` x the cross-entropy with the training labels and
        `weight_loss` x the MSE to the standardized weights; replaces `state.stats` (stored dtype)."""
        start = time.perf_counter()
        ctx, field, device = state.ctx, state.field, state.ctx.device
        data = ctx.data
        if self.inputs == "data" and data is None:
            raise ValueError("distillation on data needs the training set")
        shape = tuple(data.train_x.shape[1:]) if data is not None else ctx.input_shape
        if shape is None or len(shape) != 3:
            raise ValueError(f"noise distillation needs a (C, H, W) input shape, got {shape}")
        generator = torch.Generator().manual_seed(ctx.seed)
        teacher = state.model.to(device).eval()
        coords = state.queries.coords.to(device)
        fit_values = state.queries.values.to(device).reshape(len(coords), -1)
        fit_mask = None if state.queries.mask is None else state.queries.mask.to(device).float()
        stored_dtype = state.stats.dtype
        stats_value = state.stats.float().to(device)
        learned = nn.Parameter(stats_value.clone()) if self.learn_stats else None
        used_stats = learned if learned is not None else stats_value
        field.to(device).train()
        groups: list[dict[str, Any]] = [{"params": list(field.parameters())}]
        if learned is not None:
            groups.append({"params": [learned], "lr": self.lr * STATS_LR_FACTOR})
        t = self.temperature
        cached = teacher_probabilities(teacher, data.train_x, t, device) if self.inputs == "data" else None
        # the training images and labels live where the steps run: no host copy per step
        images = data.train_x.to(device) if self.inputs == "data" else None
        labels_all = data.train_y.to(device) if self.inputs == "data" else None
        info: dict[str, Any] = {}
        pool = None
        if self.inputs == "impressions":
            made = time.perf_counter()
            with ctx.progress.task("class impressions", total=self.pool_steps) as advance:
                pool = class_impressions(teacher, shape, self.pool, self.pool_steps, generator, device,
                                         on_step=advance)
            info |= {"impressions": self.pool, "impressions_seconds": time.perf_counter() - made}

        def loss(step: int) -> torch.Tensor:
            labels = None
            if self.inputs == "data":
                index = torch.randint(len(data.train_y), (self.batch,), generator=generator).to(device)
                x, labels, target = images[index], labels_all[index], cached[index]
            else:
                x = (impression_batch(pool, self.batch, generator) if pool is not None
                     else noise_images(shape, self.batch, generator)).to(device)
                with torch.no_grad():
                    target = nn.functional.softmax(teacher(x) / t, dim=1)
            outputs = field_outputs(field, coords, state.bits)
            logits = functional_call(teacher, state.decode(outputs, used_stats), (x,))
            value = nn.functional.kl_div(nn.functional.log_softmax(logits / t, dim=1), target,
                                         reduction="batchmean") * t * t
            if self.label_loss:
                value = value + self.label_loss * nn.functional.cross_entropy(logits, labels)
            if self.weight_loss:
                value = value + self.weight_loss * masked_mse(outputs, fit_values, fit_mask)
            return value

        result = train_loop(groups, loss, steps=self.steps, lr=self.lr, what=f"distill INNR ({self.inputs})",
                            progress=ctx.progress, schedule=self.schedule, history_every=HISTORY_EVERY)
        field.eval()
        state.stats = used_stats.detach().cpu().to(stored_dtype)
        return {"distill_steps": self.steps, "distill_inputs": self.inputs, "distill_kl": result.final_loss,
                "distill_history": result.history, **info, "distill_seconds": time.perf_counter() - start}


def teacher_probabilities(teacher: nn.Module, images: torch.Tensor, temperature: float,
                          device: torch.device, chunk: int = 2048) -> torch.Tensor:
    """The teacher's softened class probabilities for every training image, computed once:
    the teacher is fixed, so a step then costs one forward pass fewer."""
    with torch.no_grad():
        return torch.cat([nn.functional.softmax(teacher(part.to(device)) / temperature, dim=1)
                          for part in images.split(chunk)])
