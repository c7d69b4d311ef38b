"""Compressors (registered in COMPRESSORS): compress(model) -> Compressed, which rebuilds weights."""

from __future__ import annotations

from innr_bench.compress import deep_compression, identity, innr, kmeans, nnc, prune, quantize
from innr_bench.compress.base import CompressContext, Compressed, fp32_bytes

__all__ = ["CompressContext", "Compressed", "deep_compression", "fp32_bytes", "identity", "innr", "kmeans",
           "nnc", "prune", "quantize"]
