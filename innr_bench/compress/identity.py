"""The uncompressed reference: every weight stored as fp32."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from innr_bench.compress.base import BUFFER_PREFIX, BaseCompressor, CompressContext, Encoding, named_weights
from innr_bench.registry import COMPRESSORS


@COMPRESSORS.register("identity")
class Identity(BaseCompressor):
    """No compression: all weights as fp32 (the original network, size ratio 1.0)."""

    data_free = True

    def __init__(self) -> None:
        pass

    def encode(self, model: nn.Module, ctx: CompressContext, **options: Any) -> Encoding:
        return Encoding(named_weights(model), {}, {"storage": "fp32 values"})

    @staticmethod
    def decode(tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        return {k: v for k, v in tensors.items() if not k.startswith(BUFFER_PREFIX)}
