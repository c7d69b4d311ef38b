"""The environment beside every result: the git commit (dirty when code changed, not when results
did), the fingerprint that enters every key, and the device choice."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import torch

from innr_bench.engine.env import environment, fingerprint, git_commit, resolve_device
from innr_bench.errors import ConfigError


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=repo,
                          check=True, capture_output=True, text=True).stdout.strip()


def test_the_commit_is_dirty_when_code_changes_but_not_when_results_do(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "r.json").write_text("{}")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "first")
    head = _git(tmp_path, "rev-parse", "HEAD")
    assert git_commit(tmp_path) == head
    (tmp_path / "results" / "r.json").write_text('{"new": 1}')  # a run's output
    assert git_commit(tmp_path) == head
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_commit(tmp_path) == head + "+dirty"
    assert git_commit(tmp_path.parent / "nowhere") is None


def test_the_cpu_fingerprint_names_torch_the_cpu_and_its_threads() -> None:
    found = fingerprint(torch.device("cpu"))
    assert found == {"torch": torch.__version__, "device": "cpu", "device_name": found["device_name"],
                     "threads": torch.get_num_threads()}
    assert found["device_name"]  # the CPU's model name, never empty
    assert environment(torch.device("cpu"))["packages"]["torch"] is not None


def test_cuda_without_a_card_is_a_user_error() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ConfigError, match="CUDA is not available; use auto or cpu"):
        resolve_device("cuda")


def test_the_cpu_is_named_by_vendor_family_model_and_vector_isa() -> None:
    import re

    from innr_bench.engine.env import cpu_model

    found = cpu_model()
    assert found is None or re.fullmatch(r"\S+ family \S+ model \S+ (amx_tile|avx512f|avx2|avx|sse)", found)


def test_x86_and_arm_cpus_are_told_apart() -> None:
    from innr_bench.engine.env import describe_cpu

    x86 = ("processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n"
           "flags\t\t: fpu avx2 avx512f\n")
    assert describe_cpu(x86) == "AuthenticAMD family 25 model 17 avx512f"
    arm = "processor\t: 0\nFeatures\t: fp asimd sve\nCPU implementer\t: 0x41\nCPU part\t: 0xd40\n"
    assert describe_cpu(arm) == "arm implementer 0x41 part 0xd40 sve"
    assert describe_cpu("processor\t: 0\n") is None
