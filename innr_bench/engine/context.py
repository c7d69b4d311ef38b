"""What the parts of a worker share while computing tasks: the plan, where they compute, the
cache, and the stage timers."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from innr_bench.engine.cache import TensorCache
from innr_bench.engine.evaluate import predict
from innr_bench.engine.plan import Plan
from innr_bench.engine.results import timed
from innr_bench.progress import Progress


@dataclass
class WorkContext:
    """One worker's plan, device, numerics, cache and progress; `stage(name)` times a block
    into `stage_seconds` (train, compress, evaluate, attack)."""

    plan: Plan
    device: torch.device
    numerics: dict[str, Any]
    cache: TensorCache
    progress: Progress
    force: bool = False  # recompute what the cache holds
    stage_seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def stage(self, name: str) -> contextlib.AbstractContextManager[None]:
        return timed(self.stage_seconds, name)

    def predict(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Predicted classes for every input, in the suite's evaluation batches."""
        return predict(model, x, batch_size=self.plan.suite.eval.batch_size, device=self.device)
