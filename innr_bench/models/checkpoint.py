"""A target's weights from a file trained elsewhere: safetensors, or a PyTorch state_dict read
with `torch.load(..., weights_only=True)`. Every way a file can be unusable is one clear error
naming the file and what to do."""

from __future__ import annotations

import hashlib
import io
import pickle
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from torch import nn

from innr_bench.errors import ConfigError, CorruptArtifactError

SAFETENSORS_SUFFIXES = (".safetensors",)
SHOWN = 5  # names listed in a missing/unexpected-keys error
# wrappers a training script commonly saves the state_dict under
WRAPPERS = ("state_dict", "model_state_dict", "model")


@dataclass(frozen=True)
class WeightsFile:
    """A checkpoint as a suite names it: where it is and the sha256 of its bytes."""

    path: Path
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "sha256": self.sha256}


def weights_file(path: Path, where: str) -> WeightsFile:
    """The file at `path` and its sha256; one error when it is missing or unreadable."""
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{where}: weights file {path} not found; give the path of a .safetensors file "
                          "or a torch.save(model.state_dict()) file (relative to the suite file)") from None
    except OSError as error:
        raise ConfigError(f"{where}: cannot read weights file {path} ({error})") from None
    return WeightsFile(path, hashlib.sha256(blob).hexdigest())


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The tensors a checkpoint file holds (on the CPU)."""
    blob = path.read_bytes()
    if path.suffix in SAFETENSORS_SUFFIXES:
        try:
            return load_safetensors(blob)
        except (SafetensorError, ValueError, OSError) as error:
            raise CorruptArtifactError(f"{path}: not a readable safetensors file ({error}); is it truncated? "
                                       "save it again with safetensors.torch.save_file") from None
    try:
        state = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(error))
        if found:  # a real object in the pickle, which weights_only=True will not run
            raise ConfigError(f"{path}: torch.load(weights_only=True) refuses it: it holds a Python object "
                              f"({found.group(1).rstrip('.')}), not only tensors; save model.state_dict() "
                              "instead of the model, or save it as .safetensors") from None
        raise CorruptArtifactError(f"{path}: not a readable PyTorch checkpoint (neither a torch.save zip "
                                   "nor a pickle of tensors); is it truncated or another format?") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CorruptArtifactError(f"{path}: not a readable PyTorch checkpoint, truncated or corrupt "
                                   f"({first}); save it again with torch.save(model.state_dict(), "
                                   "path)") from None
    for wrapper in WRAPPERS:
        if isinstance(state, dict) and set(state) == {wrapper} and isinstance(state[wrapper], dict):
            state = state[wrapper]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        kind = type(state).__name__
        raise ConfigError(f"{path}: holds a {kind}, not a state_dict of tensors; save model.state_dict()")
    return state


def load_weights(model: nn.Module, weights: WeightsFile) -> dict[str, tuple[str, int]]:
    """Load `weights` into `model` (parameters and buffers, batch-norm statistics included),
    after checking the file is the one the suite was read with and fits the builder exactly.

    Returns the casts loading made, by the file's dtype: (the builder's dtype, tensor count),
    e.g. {"torch.float16": ("torch.float32", 8)}; empty when every tensor kept its dtype."""
    path = weights.path
    try:
        blob = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read weights file ({error})") from None
    if hashlib.sha256(blob).hexdigest() != weights.sha256:
        raise ConfigError(f"{path}: the weights file changed while the suite ran (sha256 differs); "
                          "rerun to key the results to the new file")
    state = read_state_dict(path)
    expected = model.state_dict()
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or unexpected:
        hint = ""
        if unexpected and all(k.startswith("module.") for k in unexpected):
            hint = "; the keys start with 'module.' (saved from DataParallel): strip that prefix"
        parts = [f"missing {_shown(missing)}" if missing else "",
                 f"unexpected {_shown(unexpected)}" if unexpected else ""]
        problems = "; ".join(p for p in parts if p)
        raise ConfigError(f"{path}: does not fit the target's builder: {problems}{hint}; "
                          "check the target's name and params")
    for name, tensor in expected.items():
        given = state[name]
        if tuple(given.shape) != tuple(tensor.shape):
            raise ConfigError(f"{path}: tensor {name!r} has shape {tuple(given.shape)}, the builder's has "
                              f"{tuple(tensor.shape)}; check the target's params (e.g. widths, classes)")
        if not _castable(given.dtype, tensor.dtype):
            raise ConfigError(f"{path}: tensor {name!r} is {given.dtype}, which cannot stand for the "
                              f"builder's {tensor.dtype}; save floating-point weights (fp32, fp16 or bf16)")
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()})
    casts: dict[str, tuple[str, int]] = {}
    for name, tensor in state.items():
        wanted = expected[name].dtype
        if tensor.dtype != wanted:
            _, count = casts.get(str(tensor.dtype), (str(wanted), 0))
            casts[str(tensor.dtype)] = (str(wanted), count + 1)
    return casts


def _castable(given: torch.dtype, wanted: torch.dtype) -> bool:
    """Floating weights may come in any floating precision; integer buffers must stay integers."""
    if wanted.is_floating_point:
        return given.is_floating_point
    return not given.is_floating_point and not given.is_complex


def _shown(names: list[str]) -> str:
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return ", ".join(repr(n) for n in names[:SHOWN]) + more
