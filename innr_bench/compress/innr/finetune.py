"""After the weight fit: quantization-aware refitting and distillation through the decoded net.

Both keep the INNR an INNR: only the field's own weights (and, optionally, the stored
standardization statistics) change; the network's weights are still decoded by evaluating the
field at their coordinates.

- `refit_quantized` (data-free): more full-batch epochs on the weight MSE with the field's weights
  rounded as they will be stored (straight-through gradients), so storage at 8 bits or fewer costs
  little.
- `distill` (NeRN-style, Ashkenazi et al. 2023): the decoded net is run on inputs and the field
  is trained so its logits match the original's (KL at a temperature). Inputs are training
  images (`data`: the setting then uses data), synthetic images drawn from noise (`noise`:
  data-free; only the input shape is known), or half noise and half class impressions made from
  the original net (`impressions`: data-free; see `synthetic`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn
from torch.func import functional_call

from innr_bench.compress.innr import encoding
from innr_bench.compress.innr.fit import masked_mse
from innr_bench.compress.innr.storage import fake_quantize
from innr_bench.compress.innr.synthetic import class_impressions, impression_batch, noise_images
from innr_bench.data import Dataset
from innr_bench.progress import Progress

Inputs = Literal["data", "noise", "impressions"]
HISTORY_EVERY = 100  # steps between stored loss values
STATS_LR_FACTOR = 1.0  # learning-rate multiplier of the trained per-row/per-tensor mean and std


def field_outputs(siren: nn.Module, coords: torch.Tensor, bits: int | None) -> torch.Tensor:
    """The field at `coords`, its weights rounded to `bits` (None: as they are)."""
    if bits is None:
        return siren(coords)
    params = {name: fake_quantize(p, bits) for name, p in siren.named_parameters()}
    return functional_call(siren, params, (coords,))


def refit_quantized(
    siren: nn.Module, coords: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None, *,
    epochs: int, lr: float, bits: int, device: torch.device, progress: Progress,
) -> dict[str, Any]:
    """Full-batch Adam on the weight MSE through the rounded field, cosine-decayed learning rate."""
    start = time.perf_counter()
    siren.to(device).train()
    x, y = coords.to(device), targets.to(device).reshape(len(coords), -1)
    weight = None if mask is None else mask.to(device).float()
    optimizer = torch.optim.Adam(siren.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    loss = torch.tensor(math.nan)
    with progress.task("quantization-aware refit", total=epochs) as advance:
        for _ in range(epochs):
            loss = masked_mse(field_outputs(siren, x, bits), y, weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            advance(1)
    siren.eval()
    if not math.isfinite(float(loss)):
        raise FloatingPointError(f"quantization-aware refit diverged (loss {float(loss)})")
    return {"qat_epochs": epochs, "qat_mse": float(loss), "qat_seconds": time.perf_counter() - start}


@dataclass(frozen=True)
class DistillSettings:
    """One distillation's settings; their defaults live once, in compressor.PLAIN."""

    steps: int
    inputs: Inputs
    lr: float
    temperature: float
    batch_size: int
    bits: int | None  # the field's weights rounded as stored (None: fp16/fp32 storage)
    learn_stats: bool  # train the stored per-row/per-tensor mean and std too
    weight_loss: float  # weight of the (standardized) weight MSE added to the KL
    label_loss: float  # weight of the cross-entropy with the training labels (data only)
    pool_size: int  # class impressions made once (inputs `impressions` only)
    pool_steps: int  # Adam steps that make them


def teacher_probabilities(teacher: nn.Module, images: torch.Tensor, temperature: float,
                          device: torch.device, chunk: int = 2048) -> torch.Tensor:
    """The teacher's softened class probabilities for every training image, computed once:
    the teacher is fixed, so a step then costs one forward pass fewer."""
    with torch.no_grad():
        return torch.cat([nn.functional.softmax(teacher(part.to(device)) / temperature, dim=1)
                          for part in images.split(chunk)])


def distill(
    siren: nn.Module, stats: torch.Tensor, meta: Mapping[str, Any], model: nn.Module, *,
    settings: DistillSettings, weights: encoding.Encoded, data: Dataset | None,
    input_shape: tuple[int, ...] | None, seed: int, device: torch.device, progress: Progress,
) -> tuple[torch.Tensor, dict[str, Any]]:
    """Train `siren` (and the stats, if asked) so the decoded net's logits match `model`'s,
    plus `settings.label_loss` x the cross-entropy with the training labels and
    `settings.weight_loss` x the MSE to the standardized `weights` the field was fit to;
    the final stats (stored dtype) and the distillation info."""
    start = time.perf_counter()
    if settings.inputs == "data" and data is None:
        raise ValueError("distillation on data needs the training set")
    shape = tuple(data.train_x.shape[1:]) if data is not None else input_shape
    if shape is None or len(shape) != 3:
        raise ValueError(f"noise distillation needs a (C, H, W) input shape, got {shape}")
    generator = torch.Generator().manual_seed(seed)
    teacher = model.to(device).eval()
    coords = encoding.query_coordinates(meta).to(device)
    fit_targets = weights.targets.to(device).reshape(len(coords), -1)
    fit_mask = None if weights.mask is None else weights.mask.to(device).float()
    stored_dtype = stats.dtype
    stats_value = stats.float().to(device)
    learned_stats = nn.Parameter(stats_value.clone()) if settings.learn_stats else None
    used_stats = learned_stats if learned_stats is not None else stats_value
    groups = [{"params": list(siren.parameters())}]
    if learned_stats is not None:
        groups.append({"params": [learned_stats], "lr": settings.lr * STATS_LR_FACTOR})
    optimizer = torch.optim.Adam(groups, lr=settings.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=settings.steps)
    siren.to(device).train()
    t = settings.temperature
    history: list[list[float]] = []
    loss = torch.tensor(math.nan)
    cached = teacher_probabilities(teacher, data.train_x, t, device) if settings.inputs == "data" else None
    pool = None
    if settings.inputs == "impressions":
        made = time.perf_counter()
        with progress.task("class impressions", total=settings.pool_steps) as advance:
            pool = class_impressions(teacher, shape, settings.pool_size, settings.pool_steps, generator,
                                     device, on_step=advance)
        impressions_seconds = time.perf_counter() - made
    with progress.task(f"distill INNR ({settings.inputs})", total=settings.steps) as advance:
        for step in range(1, settings.steps + 1):
            if settings.inputs == "data":
                index = torch.randint(len(data.train_y), (settings.batch_size,), generator=generator)
                x = data.train_x[index].to(device)
                labels = data.train_y[index].to(device)
            elif pool is not None:
                x = impression_batch(pool, settings.batch_size, generator).to(device)
            else:
                x = noise_images(shape, settings.batch_size, generator).to(device)
            if cached is not None:
                target = cached[index.to(cached.device)]
            else:
                with torch.no_grad():
                    target = nn.functional.softmax(teacher(x) / t, dim=1)
            outputs = field_outputs(siren, coords, settings.bits)
            decoded = encoding.decode(outputs, used_stats, meta)
            logits = functional_call(teacher, decoded, (x,))
            loss = nn.functional.kl_div(nn.functional.log_softmax(logits / t, dim=1), target,
                                        reduction="batchmean") * t * t
            if settings.label_loss:
                loss = loss + settings.label_loss * nn.functional.cross_entropy(logits, labels)
            if settings.weight_loss:
                loss = loss + settings.weight_loss * masked_mse(outputs, fit_targets, fit_mask)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            if step % HISTORY_EVERY == 0 or step == settings.steps:
                value = loss.item()
                if not math.isfinite(value):
                    raise FloatingPointError(f"INNR distillation diverged at step {step} (loss {value})")
                history.append([step, value])
                advance(step - (history[-2][0] if len(history) > 1 else 0), f"loss {value:.4f}")
    siren.eval()
    final_stats = used_stats.detach().cpu().to(stored_dtype)
    info = {"distill_steps": settings.steps, "distill_inputs": settings.inputs,
            "distill_kl": history[-1][1] if history else math.nan, "distill_history": history,
            "distill_seconds": time.perf_counter() - start}
    if pool is not None:
        info |= {"impressions": settings.pool_size, "impressions_seconds": impressions_seconds}
    return final_stats, info
