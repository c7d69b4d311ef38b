"""Reduced precision and deterministic kernels apply on CUDA only; on the CPU they are recorded
as off, with the request."""

from __future__ import annotations

import contextlib

import torch

from innr_bench.numerics import (
    NumericsConfig,
    autocast,
    deterministic_digits,
    deterministic_scope,
    effective,
    tf32_scope,
)


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


def test_deterministic_kernels_apply_on_cuda_and_enter_the_numerics_only_when_asked() -> None:
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    assert "deterministic" not in effective(NumericsConfig(), cuda)  # older records' numerics unchanged
    assert effective(NumericsConfig(deterministic=True), cuda)["deterministic"] is True
    on_cpu = effective(NumericsConfig(deterministic=True), cpu)
    assert "deterministic" not in on_cpu and on_cpu["requested"]["deterministic"] is True
    assert deterministic_digits(on_cpu, cpu)  # the CPU's kernels are
    assert not deterministic_digits(effective(NumericsConfig(), cuda), cuda)
    assert deterministic_digits(effective(NumericsConfig(deterministic=True), cuda), cuda)


def test_deterministic_scope_restores_the_global_settings() -> None:
    before = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic,
              torch.backends.cudnn.benchmark)
    with deterministic_scope(True):
        assert torch.are_deterministic_algorithms_enabled() and torch.backends.cudnn.deterministic
        assert torch.is_deterministic_algorithms_warn_only_enabled()
    assert (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic,
            torch.backends.cudnn.benchmark) == before
    with deterministic_scope(False):
        assert torch.are_deterministic_algorithms_enabled() == before[0]
