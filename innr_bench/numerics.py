"""Numerics options for CUDA runs, off by default: reduced precision (TF32 matmuls, bf16
autocast) and deterministic kernels.

They only take effect on a CUDA device; on the CPU they are recorded as off, with the request.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from typing import Any

import pydantic
import torch
from pydantic.dataclasses import dataclass


@dataclass(frozen=True, config=pydantic.ConfigDict(extra="forbid"))
class NumericsConfig:
    """`tf32`: TF32 tensor-core matmuls and convolutions; `amp`: bf16 autocast for training and
    INNR fits; `deterministic`: deterministic CUDA kernels (`torch.use_deterministic_algorithms`,
    cuDNN's deterministic convolutions, a fixed cuBLAS workspace), so a rerun on the same card
    computes the same digits. Each changes results, so each enters the keys of what it produces."""

    tf32: bool = False
    amp: bool = False
    deterministic: bool = False


def effective(config: NumericsConfig, device: torch.device) -> dict[str, Any]:
    """What actually applies on `device`, and what was asked for (`deterministic` only when asked:
    records made before it existed stay as they were)."""
    on_cuda = device.type == "cuda"
    asked = {"deterministic": True} if config.deterministic else {}
    return {"tf32": config.tf32 and on_cuda, "amp": config.amp and on_cuda,
            **({"deterministic": True} if config.deterministic and on_cuda else {}),
            "requested": {"tf32": config.tf32, "amp": config.amp, **asked}}


# cuBLAS reads its workspace setting when the process's first handle is made: deterministic
# kernels asked for after CUDA started without it are not guaranteed (records say so)
_workspace_too_late = False


def deterministic_digits(numerics: dict[str, Any], device: torch.device) -> bool:
    """Whether a rerun on the same machine computes a cell's digits again: on the CPU, whose
    kernels here are deterministic at a fixed thread count (tests/test_runner.py recomputes a
    suite and compares); on CUDA only with `numerics.deterministic`, set before CUDA started
    (cuBLAS and cuDNN may pick kernels whose sums run in another order from run to run)."""
    return device.type == "cpu" or (bool(numerics.get("deterministic")) and not _workspace_too_late)


@contextlib.contextmanager
def deterministic_scope(enabled: bool) -> Iterator[None]:
    """Deterministic CUDA kernels inside the block; the previous settings restored afterwards.
    An op without a deterministic kernel warns (torch's `warn_only`) rather than stopping a run."""
    if not enabled:
        yield
        return
    global _workspace_too_late
    if "CUBLAS_WORKSPACE_CONFIG" not in os.environ:
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            _workspace_too_late = True
            warnings.warn("numerics.deterministic: CUDA started before the cuBLAS workspace was fixed; "
                          "set CUBLAS_WORKSPACE_CONFIG=:4096:8 before the process uses CUDA (its records "
                          "say worker.deterministic: false)", stacklevel=2)
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"
    previous = (torch.are_deterministic_algorithms_enabled(),
                torch.is_deterministic_algorithms_warn_only_enabled(),
                torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = previous[2], previous[3]


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


@contextlib.contextmanager
def applied(numerics: dict[str, Any]) -> Iterator[None]:
    """The process-wide numerics a run's `effective` options ask for (TF32, deterministic
    kernels), inside the block; autocast is per loop (`autocast`)."""
    with tf32_scope(numerics["tf32"]), deterministic_scope(bool(numerics.get("deterministic"))):
        yield
