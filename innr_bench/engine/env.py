"""The environment written next to every result."""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

import innr_bench
from innr_bench.errors import ConfigError

_PACKAGES = ("torch", "torchvision", "numpy", "pandas", "safetensors", "pydantic", "torchattacks",
             "mlxtend", "ray")


def git_commit(directory: Path) -> str | None:
    """HEAD commit of the repository holding `directory`, '+dirty' when code (not results) changed."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        # results/ holds run outputs, not code: writing them must not mark the code dirty
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                ":(top)", ":(top,exclude)results"],
                               cwd=directory, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty.strip() else "")


def uncommitted(commit: str | None) -> bool:
    """Whether a recorded commit says its code had uncommitted changes (cannot be checked out)."""
    return str(commit).endswith("+dirty")


def published_results_dir(directory: Path) -> Path | None:
    """The `results/` folder of the git checkout innr-bench runs from (where published result
    sets live), or None outside a checkout."""
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=directory, capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(top) / "results" if top else None


def check_publishable(out_dir: Path, commit: str | None, *, allow_dirty: bool) -> bool:
    """Whether `out_dir` publishes (lies in the checkout's results/); one clear error when it
    would publish from uncommitted code, unless `allow_dirty` (which the manifest then shows)."""
    results = published_results_dir(Path(innr_bench.__file__).resolve().parent)
    publishing = results is not None and Path(out_dir).resolve().is_relative_to(results.resolve())
    if publishing and uncommitted(commit) and not allow_dirty:
        raise ConfigError(f"--out {out_dir}: publishing into {results} from uncommitted code ({commit}); "
                          "commit first (a +dirty result cannot be checked out), or pass --allow-dirty, "
                          "which the manifest and every leaderboard title then show")
    return publishing


def resolve_device(name: str) -> torch.device:
    """`auto` picks CUDA when present; asking for CUDA without it is a user error."""
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device: 'cuda' was requested but CUDA is not available; use auto or cpu")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def device_name(device: torch.device) -> str:
    """The card's name on CUDA; the CPU's model name (from /proc/cpuinfo where there is one)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.cache  # one read of /proc/cpuinfo a process, not one a cell record
def cpu_model() -> str | None:
    """The CPU's vendor, family, model and widest vector ISA, e.g. `AuthenticAMD family 23 model 49
    avx2`: two machines whose model names read alike ("AMD EPYC") can differ in microarchitecture,
    and oneDNN picks other kernels (other rounding) on each; None where /proc/cpuinfo is absent."""
    try:
        return describe_cpu(Path("/proc/cpuinfo").read_text())
    except OSError:
        return None


def describe_cpu(cpuinfo: str) -> str | None:
    """`cpu_model` from the text of /proc/cpuinfo (x86: vendor, family, model, widest vector ISA;
    Arm: implementer, part, SVE/NEON)."""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        if not line.strip():
            break  # the first processor is enough
        name, _, value = line.partition(":")
        fields[name.strip()] = value.strip()
    if "vendor_id" not in fields:  # Arm: implementer and part name the core; its features the ISA
        features = set(fields.get("Features", "").split())
        isa = next((i for i in ("sve2", "sve", "asimd") if i in features), "")
        if "CPU implementer" not in fields:
            return None
        return f"arm implementer {fields['CPU implementer']} part {fields.get('CPU part', '?')} {isa}".strip()
    flags = set(fields.get("flags", "").split())
    isa = next((i for i in ("amx_tile", "avx512f", "avx2", "avx") if i in flags), "sse")
    return (f"{fields['vendor_id']} family {fields.get('cpu family', '?')} "
            f"model {fields.get('model', '?')} {isa}")


def fingerprint(device: torch.device) -> dict[str, Any]:
    """What a number depends on besides the suite, in this process: torch version, device kind
    and name, and on the CPU the torch thread count (reductions split differently across threads,
    so fits of thousands of steps round differently). Part of every key: a cell made in another
    environment is never reused unless the user asks for it."""
    found: dict[str, Any] = {"torch": torch.__version__, "device": device.type,
                             "device_name": device_name(device)}
    if device.type == "cpu":
        found["threads"] = torch.get_num_threads()
    return found


def environment(device: torch.device) -> dict[str, Any]:
    """Versions, platform, device and git commit of the code that produced a result."""
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "innr_bench": innr_bench.__version__,
        "git_commit": git_commit(Path(innr_bench.__file__).resolve().parent),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
        "device_name": device_name(device),
        "cpu": cpu_model(),
        "cuda_available": torch.cuda.is_available(),
        "packages": versions,
    }
