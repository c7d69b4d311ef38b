"""innr-bench from Python, for notebooks: the same engine, cache, keys and records as
`innr-bench run`, never a second code path.

    from innr_bench import api
    small = api.compress(model, "innr-siren", ratio=0.13, precision="int8", entropy="huffman")
    small.size_bytes, small.ratio, small.model          # bytes stored, of the fp32 size, the copy
    board = api.evaluate(model, api.tensors(x_train, y_train, x_test, y_test),
                         compressors=["identity", {"name": "quantize", "params": {"bits": 4}}],
                         attacks=[{"name": "fgsm", "params": {"eps": [0.0, 0.1]}}], seeds=[0, 1, 2])
    board.accuracy_vs_size, board.transfer, board.inheritance   # pandas DataFrames
    board.plots(); board.write()                                 # the suite's figures and files

`evaluate` writes the network's state_dict (and in-memory data) as content-addressed files in
the innr-bench cache, builds a suite around them (a target loaded from `weights`, a `tensors`
dataset) and hands it to the runner, so its results directory can be reported, compared and
gated like any suite's (`innr-bench report|compare|check DIR`).
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save
from torch import nn

from innr_bench.compress.base import CompressContext, Compressed, fp32_bytes
from innr_bench.compress.serialize import to_bytes
from innr_bench.config import parse_suite
from innr_bench.data.datasets import Dataset
from innr_bench.engine import memory
from innr_bench.engine.env import resolve_device
from innr_bench.engine.runner import Runner
from innr_bench.engine.store import atomic_write_bytes
from innr_bench.errors import ConfigError
from innr_bench.models.train import TrainConfig
from innr_bench.params import validate_params
from innr_bench.paths import cache_dir
from innr_bench.progress import Progress
from innr_bench.registry import COMPRESSORS, MODELS
from innr_bench.reporting.board import Board

API_PREFIX = "api:"  # targets registered from Python objects


@dataclass
class Compression:
    """A compressed copy: the bytes stored, their share of the fp32 size, the decoded model, the
    fit's information, and the stored representation itself (`save` writes it)."""

    size_bytes: int
    fp32_bytes: int
    model: nn.Module
    info: dict[str, Any]
    stored: Compressed = field(repr=False)

    @property
    def ratio(self) -> float:
        return self.size_bytes / self.fp32_bytes

    def save(self, path: str | Path) -> Path:
        """The representation as one safetensors file (its payload is `size_bytes`)."""
        path = Path(path)
        atomic_write_bytes(path, to_bytes(self.stored))
        return path


def compress(model: nn.Module, method: str = "innr-siren", *, data: Dataset | None = None, seed: int = 0,
             device: str = "cpu", train: Mapping[str, Any] | None = None,
             input_shape: tuple[int, ...] | None = None, **params: Any) -> Compression:
    """`model` compressed by a registered compressor, with its params as a suite writes them;
    `data` (training images) only for compressors that use it, `train` their fine-tuning recipe,
    `input_shape` (C, H, W) for distillation on synthetic inputs without data. On the CPU this
    sets glibc's allocator to reuse freed blocks for the rest of the process, as a run does
    (engine/memory.py; `INNR_BENCH_KEEP_FREED_MEMORY=0` leaves it alone)."""
    factory = COMPRESSORS.get(method)
    checked = validate_params(factory, params, where=f"{method} params")
    compressor = factory(**checked)
    if not compressor.data_free and data is None:
        raise ConfigError(f"{method}: this setting uses training data; pass data=...")
    torch_device = resolve_device(device)
    memory.keep_freed_memory(torch_device.type)  # as in a run's worker
    shape = tuple(data.test_x.shape[1:]) if data is not None else input_shape
    ctx = CompressContext(seed=seed, device=torch_device, progress=Progress(enabled=False),
                          data=None if compressor.data_free else data, train=TrainConfig(**(train or {})),
                          input_shape=shape)
    original = copy.deepcopy(model).to(torch_device).eval()
    try:
        stored = compressor.compress(original, ctx)
    finally:
        memory.release_freed_memory()  # the fit's kept memory back to the OS
    return Compression(stored.size_bytes, fp32_bytes(original), stored.reconstruct(original).cpu(),
                       stored.info, stored)


def tensors(x_train: Any, y_train: Any, x_test: Any, y_test: Any) -> dict[str, Any]:
    """In-memory data for `evaluate`: images (N x C x H x W, or N x H x W) with pixels in [0, 1]
    and integer labels, as tensors or arrays."""
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def evaluate(
    model: nn.Module,
    data: str | Mapping[str, Any] | Dataset,
    *,
    compressors: Sequence[str | Mapping[str, Any]],
    attacks: Sequence[str | Mapping[str, Any]] = (),
    seeds: Sequence[int] = (0,),
    name: str = "my-net",
    out: str | Path = "runs",
    device: str = "auto",
    eval: Mapping[str, Any] | None = None,
    force: bool = False,
    progress: bool = False,
) -> Board:
    """Compress and attack `model` as a suite would (`out/<name>/` is its results directory) and
    return the Board of its leaderboards. `data`: a dataset name (`"mnist"`), a suite dataset
    entry (`{"name": "image-folder", "params": {...}}`), `tensors(...)`, or a Dataset. On the
    CPU, as in every run, glibc's allocator is set to reuse freed blocks (engine/memory.py)."""
    weights = _checkpoint(model)
    builder = f"{API_PREFIX}{name}"
    _register(builder, model)
    doc = {
        "name": name, "seeds": list(seeds), "device": device,
        "datasets": [_dataset(data)],
        "targets": [{"name": builder, "weights": str(weights)}],
        "compressors": [_component(c) for c in compressors],
        "attacks": [_component(a) for a in attacks],
        **({"eval": dict(eval)} if eval else {}),
    }
    suite = parse_suite(doc, source=f"innr_bench.api.evaluate({name!r})")
    with Progress(enabled=progress) as shown:
        summary = Runner(suite, out_dir=Path(out), force=force, progress=shown).run()
    board = Board(summary.out_dir)
    board.write()
    return board


def _component(entry: str | Mapping[str, Any]) -> dict[str, Any]:
    return {"name": entry} if isinstance(entry, str) else dict(entry)


def _register(builder: str, model: nn.Module) -> None:
    """A builder for the target: a fresh copy of `model`'s architecture (its weights come from
    the checkpoint); a later call under the same name replaces it."""
    template = copy.deepcopy(model).cpu()

    def build() -> nn.Module:
        return copy.deepcopy(template)

    build.__doc__ = f"{type(model).__name__} handed to innr_bench.api.evaluate"
    MODELS.unregister(builder)
    MODELS.register(builder)(build)


def _checkpoint(model: nn.Module) -> Path:
    """`model`'s state_dict as a content-addressed safetensors file in the cache."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    blob = save(state)
    path = cache_dir() / "api" / f"weights-{hashlib.sha256(blob).hexdigest()[:16]}.safetensors"
    if not path.is_file():
        atomic_write_bytes(path, blob)
    return path


def _dataset(data: str | Mapping[str, Any] | Dataset) -> dict[str, Any]:
    if isinstance(data, str):
        return {"name": data}
    if isinstance(data, Dataset):
        data = tensors(data.train_x, data.train_y, data.test_x, data.test_y)
    if "name" in data:
        return dict(data)
    arrays = {k: torch.as_tensor(data[k]) for k in ("x_train", "y_train", "x_test", "y_test")}
    arrays = {k: (v.float() if k.startswith("x") else v.long()).contiguous() for k, v in arrays.items()}
    blob = save(arrays)
    path = cache_dir() / "api" / f"data-{hashlib.sha256(blob).hexdigest()[:16]}.safetensors"
    if not path.is_file():
        atomic_write_bytes(path, blob)
    return {"name": "tensors", "params": {"path": str(path)}}
