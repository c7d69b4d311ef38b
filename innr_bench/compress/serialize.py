"""A compressed representation as one safetensors blob, the proof of its `size_bytes`.

The blob's header holds tensor names, dtypes, shapes and the JSON `meta` (architecture shapes and
settings such as bit widths); everything after the header is the payload, which must equal the
reported `size_bytes`.
"""

from __future__ import annotations

import json
from typing import Any

import torch
from safetensors.torch import load, save

from innr_bench.compress.base import Compressed

HEADER_LENGTH_BYTES = 8  # safetensors: little-endian u64 header length, then the JSON header


def to_bytes(compressed: Compressed) -> bytes:
    tensors = {k: v.contiguous() for k, v in compressed.tensors.items()}
    return save(tensors, metadata={"method": compressed.method, "meta": json.dumps(compressed.meta)})


def header_bytes(blob: bytes) -> int:
    return HEADER_LENGTH_BYTES + int.from_bytes(blob[:HEADER_LENGTH_BYTES], "little")


def payload_bytes_of(blob: bytes) -> int:
    """Bytes of the blob that are not the container's header."""
    return len(blob) - header_bytes(blob)


def from_bytes(blob: bytes) -> tuple[str, dict[str, torch.Tensor], dict[str, Any]]:
    """Method name, tensors and meta back from `to_bytes`' output."""
    header = json.loads(blob[HEADER_LENGTH_BYTES : header_bytes(blob)])["__metadata__"]
    return header["method"], load(blob), json.loads(header["meta"])
