"""Reduced-precision options for CUDA runs (TF32 matmuls, bf16 autocast), off by default.

Both only take effect on a CUDA device; on the CPU they are recorded as off, with the request.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pydantic
import torch
from pydantic.dataclasses import dataclass


@dataclass(frozen=True, config=pydantic.ConfigDict(extra="forbid"))
class NumericsConfig:
    """`tf32`: TF32 tensor-core matmuls and convolutions; `amp`: bf16 autocast for training and
    INNR fits. Both change results slightly, so they enter the cache keys of what they produce."""

    tf32: bool = False
    amp: bool = False


def effective(config: NumericsConfig, device: torch.device) -> dict[str, Any]:
    """What actually applies on `device`, and what was asked for."""
    on_cuda = device.type == "cuda"
    return {"tf32": config.tf32 and on_cuda, "amp": config.amp and on_cuda,
            "requested": {"tf32": config.tf32, "amp": config.amp}}


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager[Any]:
    """bf16 autocast on CUDA when enabled; a no-op otherwise."""
    if enabled and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@contextlib.contextmanager
def tf32_scope(enabled: bool) -> Iterator[None]:
    """TF32 on (or off) inside the block; the previous global setting is restored afterwards."""
    previous = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = previous
