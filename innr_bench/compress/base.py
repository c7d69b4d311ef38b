"""The protocol every compressor follows and the representation it returns."""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import torch
from torch import nn

from innr_bench.data.datasets import Dataset
from innr_bench.models.train import TrainConfig
from innr_bench.progress import Progress


@dataclass(frozen=True)
class CompressContext:
    """What a compressor may use besides the model: its seed, device and progress display, and,
    only for compressors that declare `data_free = False`, the training data and target recipe."""

    seed: int
    device: torch.device
    progress: Progress
    data: Dataset | None = None
    train: TrainConfig | None = None
    amp: bool = False  # bf16 autocast for fits (CUDA only)
    # The shape of one input (C, H, W): not data, so every compressor sees it (a data-free
    # distillation draws synthetic inputs of this shape).
    input_shape: tuple[int, ...] | None = None


@dataclass
class Compressed:
    """A stored representation of a model's weights.

    `tensors` and `meta` are exactly what is saved (safetensors + JSON) and all that `decode`
    needs; `size_bytes` counts the bytes one must store to rebuild the weights.
    """

    method: str
    tensors: dict[str, torch.Tensor]
    meta: dict[str, Any]
    size_bytes: int
    info: dict[str, Any] = field(default_factory=dict)  # fit statistics, timings: not needed to decode

    def reconstruct(self, template: nn.Module) -> nn.Module:
        """A copy of `template` whose parameters are decoded from this representation."""
        from innr_bench.registry import COMPRESSORS

        decoded = COMPRESSORS.get(self.method).decode(self.tensors, self.meta)
        model = load_parameters(template, decoded)
        with torch.no_grad():
            for name, buffer in model.named_buffers():
                stored = self.tensors.get(BUFFER_PREFIX + name)
                if stored is None:
                    raise ValueError(f"the representation lacks buffer {name!r}")
                buffer.copy_(stored)
        return model


class Compressor(Protocol):
    """A registered compressor class: keyword-only options in __init__, then compress/decode."""

    data_free: bool

    def compress(self, model: nn.Module, ctx: CompressContext) -> Compressed: ...

    @staticmethod
    def decode(tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> dict[str, torch.Tensor]: ...


@dataclass
class Encoding:
    """What a compressor's `encode` produces; `BaseCompressor.compress` adds the rest."""

    tensors: dict[str, torch.Tensor]  # everything stored for the weights (buffers are added)
    meta: dict[str, Any]  # what `decode` needs besides the tensors
    info: dict[str, Any] = field(default_factory=dict)  # fit statistics, the storage column
    buffers_from: nn.Module | None = None  # whose buffers are stored (default: the model given)


class BaseCompressor:
    """The steps every compressor shares: timing, storing the model's buffers, counting the
    stored bytes, and naming the representation by the name it is registered under (so
    `Compressed.reconstruct` finds its decoder). Subclasses implement `encode` and `decode`."""

    name: ClassVar[str] = ""  # set by the registry
    data_free: bool = True

    @classmethod
    def registered_as(cls, name: str) -> None:
        """Called by the registry: the name this class's representations carry."""
        cls.name = name

    def encode(self, model: nn.Module, ctx: CompressContext, **options: Any) -> Encoding:
        raise NotImplementedError

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> BaseCompressor:
        """The compressor its resolved spec (what a cell's key hashes) names. Most compressors'
        spec is their options with the unset ones left out; one that resolves more (presets, a
        codec's version) builds from what it resolved, so nothing on this machine but the key
        decides what it computes."""
        return cls(**spec)

    @classmethod
    def fits_together(cls, spec: Mapping[str, Any]) -> bool:
        """Whether copies with this resolved spec have a batched `encode_together` (see innr)."""
        return False

    def encode_together(self, models: Sequence[nn.Module],
                        ctxs: Sequence[CompressContext]) -> list[Encoding | Exception]:
        """One encoding per model (or the exception its member failed with), computed together
        where the compressor can; here one at a time."""
        return [self.encode(model, ctx) for model, ctx in zip(models, ctxs, strict=True)]

    def compress(self, model: nn.Module, ctx: CompressContext, **options: Any) -> Compressed:
        """`encode`, timed, with the buffers added and every stored byte counted."""
        self._check_registered()
        start = time.perf_counter()
        encoding = self.encode(model, ctx, **options)
        return self._compressed(model, encoding, time.perf_counter() - start)

    def compress_together(self, models: Sequence[nn.Module],
                          ctxs: Sequence[CompressContext]) -> list[Compressed | Exception]:
        """`encode_together`, each copy counted as `compress` counts it (a failed member: its
        exception); each copy's `seconds` is its share of the group's time."""
        self._check_registered()
        start = time.perf_counter()
        encodings = self.encode_together(models, ctxs)
        share = (time.perf_counter() - start) / len(encodings)
        return [encoding if isinstance(encoding, Exception) else self._compressed(model, encoding, share)
                for model, encoding in zip(models, encodings, strict=True)]

    def _check_registered(self) -> None:
        if not self.name:
            raise TypeError(f"{type(self).__name__} is not registered: decorate it with "
                            "@COMPRESSORS.register(name)")

    def _compressed(self, model: nn.Module, encoding: Encoding, seconds: float) -> Compressed:
        tensors = with_buffers(encoding.buffers_from or model, encoding.tensors)
        info = {**encoding.info, "seconds": seconds}
        return Compressed(self.name, tensors, encoding.meta, payload_bytes(tensors), info)


def named_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's parameters in registration order, detached, on the CPU, fp32."""
    return {name: p.detach().cpu().float() for name, p in model.named_parameters()}


BUFFER_PREFIX = "buffer."


def with_buffers(model: nn.Module, tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`tensors` plus the model's buffers (batch-norm running statistics, counters), stored
    exactly at their own dtype and counted in `size_bytes` like everything else."""
    buffers = {BUFFER_PREFIX + n: b.detach().cpu().clone() for n, b in model.named_buffers()}
    return {**tensors, **buffers}


def payload_bytes(tensors: Mapping[str, torch.Tensor]) -> int:
    """Exact bytes of a set of tensors at their stored dtypes: what a container holds besides
    its header. Every compressor stores exactly its tensors, so this is its `size_bytes`."""
    return sum(t.numel() * t.element_size() for t in tensors.values())


def fp32_bytes(model: nn.Module) -> int:
    """Bytes of the model's parameters stored as fp32, plus its buffers (batch-norm statistics)
    at their own dtype: the uncompressed size, the reference of every ratio."""
    return 4 * sum(p.numel() for p in model.parameters()) + payload_bytes(dict(model.named_buffers()))


def load_parameters(template: nn.Module, weights: Mapping[str, torch.Tensor]) -> nn.Module:
    """Deep-copy `template` and overwrite its parameters; every parameter must be provided."""
    model = copy.deepcopy(template)
    params = dict(model.named_parameters())
    missing = set(params) - set(weights)
    if missing:
        raise ValueError(f"decoded weights lack parameters {sorted(missing)}")
    with torch.no_grad():
        for name, param in params.items():
            param.copy_(weights[name].reshape(param.shape).to(param.device, param.dtype))
    return model.eval()
