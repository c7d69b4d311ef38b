"""Reduced precision applies on CUDA only; on the CPU it is recorded as off, with the request."""

from __future__ import annotations

import contextlib

import torch

from innr_bench.engine.numerics import NumericsConfig, autocast, effective, tf32_scope


def test_on_the_cpu_requests_are_recorded_but_not_applied() -> None:
    found = effective(NumericsConfig(tf32=True, amp=True), torch.device("cpu"))
    assert found == {"tf32": False, "amp": False, "requested": {"tf32": True, "amp": True}}
    assert isinstance(autocast(torch.device("cpu"), True), contextlib.nullcontext)
    with autocast(torch.device("cpu"), True):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


def test_tf32_scope_restores_the_global_setting() -> None:
    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    with tf32_scope(not before[0]):
        assert torch.backends.cuda.matmul.allow_tf32 is (not before[0])
    assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == before
