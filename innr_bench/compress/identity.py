"""The uncompressed reference: every weight stored as fp32."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from innr_bench.compress.base import (
    BUFFER_PREFIX,
    CompressContext,
    Compressed,
    named_weights,
    payload_bytes,
    with_buffers,
)
from innr_bench.registry import COMPRESSORS


@COMPRESSORS.register("identity")
class Identity:
    """No compression: all weights as fp32 (the original network, size ratio 1.0)."""

    data_free = True

    def __init__(self) -> None:
        pass

    def compress(self, model: nn.Module, ctx: CompressContext) -> Compressed:
        start = time.perf_counter()
        weights = named_weights(model)
        seconds = time.perf_counter() - start
        weights = with_buffers(model, weights)
        return Compressed("identity", weights, {}, payload_bytes(weights),
                          {"seconds": seconds, "storage": "fp32 values"})

    @staticmethod
    def decode(tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        return {k: v for k, v in tensors.items() if not k.startswith(BUFFER_PREFIX)}
