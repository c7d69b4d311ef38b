"""Inputs for distillation that read no data: noise images and class impressions.

Only the original net and its input shape are used, so a field distilled on these stays data-free.

- `noise_images`: half pixel noise, half smooth noise, each with a random contrast.
- `class_impressions` (after Nayak et al., "Zero-Shot Knowledge Distillation in Deep Networks",
  ICML 2019): noise images optimized through the original net until it assigns them a soft target
  that is mostly one class. They put the decoded net's inputs where the original's decisions are,
  which noise alone rarely reaches.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call

IMPRESSION_LR = 0.1  # Adam on the pixels' logits
IMPRESSION_CHUNK = 500  # images per forward pass while optimizing the pool
IMPRESSION_MIX_MAX = 0.5  # up to this share of a target is a random (Dirichlet) class mixture
IMPRESSION_SHIFT = 2  # pixels a drawn batch of impressions is rolled by, at most, each way


def noise_images(shape: tuple[int, ...], batch: int, generator: torch.Generator) -> torch.Tensor:
    """Images in [0, 1]: half pixel noise, half smooth noise (a random coarse grid of 4x4 to 8x8
    upsampled), each with a random contrast, so activations cover more than white noise reaches."""
    channels, height, width = shape
    half = batch // 2
    pixel = torch.rand(half, channels, height, width, generator=generator)
    cells = int(torch.randint(4, 9, (1,), generator=generator))
    coarse = torch.rand(batch - half, channels, cells, cells, generator=generator)
    smooth = nn.functional.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=False)
    images = torch.cat([pixel, smooth])
    contrast = torch.rand(batch, 1, 1, 1, generator=generator) * 2
    return (images * contrast).clamp(0, 1)


def impression_targets(count: int, classes: int, generator: torch.Generator) -> torch.Tensor:
    """(count, classes) soft targets: class i % classes with weight 1 - e, plus e x a Dirichlet(1)
    mixture, e uniform in [0, IMPRESSION_MIX_MAX]. Measured (lenet5, Fashion-MNIST, seed 0): a
    mixture share up to 0.9 instead made the distilled copy 41 points worse."""
    one_hot = nn.functional.one_hot(torch.arange(count) % classes, classes).float()
    share = torch.rand(count, 1, generator=generator) * IMPRESSION_MIX_MAX
    # Dirichlet(1, ..., 1) as normalized Exp(1) draws, so that `generator` alone decides them
    exponential = -torch.rand(count, classes, generator=generator).clamp_min(1e-12).log()
    mixture = exponential / exponential.sum(1, keepdim=True)
    return (1 - share) * one_hot + share * mixture


def class_impressions(
    teacher: nn.Module, shape: tuple[int, ...], count: int, steps: int, generator: torch.Generator,
    device: torch.device, on_step: Callable[[], None] | None = None,
) -> torch.Tensor:
    """`count` images in [0, 1] on the CPU, optimized for `steps` Adam steps so the teacher's
    predicted distribution matches `impression_targets` (cross-entropy); pixels are the sigmoid of
    the optimized logits, so they stay in range. `on_step` is called after each step (progress)."""
    start = noise_images(shape, count, generator).clamp(1e-3, 1 - 1e-3)
    with torch.no_grad():
        classes = teacher(start[:1].to(device)).shape[1]
    targets = impression_targets(count, classes, generator).to(device)
    logits = start.logit().to(device).requires_grad_(True)
    # The teacher's weights, detached: only the pixels are optimized, and the caller's model is
    # left without gradients.
    frozen = {name: p.detach() for name, p in teacher.named_parameters()}
    optimizer = torch.optim.Adam([logits], lr=IMPRESSION_LR)
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        for part, target in zip(logits.split(IMPRESSION_CHUNK), targets.split(IMPRESSION_CHUNK)):
            outputs = functional_call(teacher, frozen, (torch.sigmoid(part),))
            log_p = nn.functional.log_softmax(outputs, dim=1)
            loss = -(target * log_p).sum() / count  # the pool's mean, accumulated chunk by chunk
            loss.backward()
        optimizer.step()
        if on_step is not None:
            on_step()
    return torch.sigmoid(logits).detach().cpu()


def impression_batch(pool: torch.Tensor, batch: int, generator: torch.Generator) -> torch.Tensor:
    """Half drawn from the impressions (rolled together by up to IMPRESSION_SHIFT pixels, so the
    field sees more than `len(pool)` distinct inputs), half fresh noise images."""
    drawn = batch // 2
    images = pool[torch.randint(len(pool), (drawn,), generator=generator)]
    shift = torch.randint(-IMPRESSION_SHIFT, IMPRESSION_SHIFT + 1, (2,), generator=generator)
    dy, dx = (int(v) for v in shift)
    images = torch.roll(images, (dy, dx), dims=(2, 3))
    return torch.cat([images, noise_images(tuple(pool.shape[1:]), batch - drawn, generator)])
