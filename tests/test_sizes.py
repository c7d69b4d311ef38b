"""Every compressor's reported size is the payload of its serialized representation."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from innr_bench.compress.base import CompressContext, fp32_bytes
from innr_bench.compress.serialize import from_bytes, payload_bytes_of, to_bytes
from innr_bench.models.seed_cnn import seed_cnn
from innr_bench.progress import Progress
from innr_bench.registry import COMPRESSORS, MODELS

CPU = CompressContext(seed=0, device=torch.device("cpu"), progress=Progress(enabled=False))

SETTINGS: list[tuple[str, dict[str, Any]]] = [
    ("identity", {}),
    *[("innr-siren", {"width": 16, "depth": 2, "epochs": 3, "precision": p})
      for p in ("fp32", "fp16", "int8")],
    ("innr-siren", {"recipe": "seed", "width": 8, "depth": 2, "epochs": 3}),
    ("innr-siren", {"width": 16, "depth": 2, "epochs": 3, "precision": "int8", "entropy": "huffman"}),
    ("innr-siren", {"ratio": 0.3, "depth": 2, "epochs": 3, "precision": "int8", "entropy": "huffman"}),
    *[("quantize", {"bits": b, "scheme": s, "granularity": g})
      for b in (2, 3, 5, 8, 16) for s in ("symmetric", "asymmetric") for g in ("per-channel", "per-tensor")],
    ("quantize", {"bits": 1, "scheme": "asymmetric"}),
    *[("kmeans", {"bits": b}) for b in (1, 3, 8)],
    *[(m, {"sparsity": s, "bits": b}) for m in ("prune-global", "prune-layer", "prune-filters")
      for s in (0.0, 0.5, 0.97) for b in (None, 4)],
]


TARGETS = {"seed-cnn": lambda: seed_cnn(c=8), "lenet5": MODELS.get("lenet5"),  # lenet5: biases
           "resnet20": lambda: MODELS.get("resnet20")(width=4)}  # batch-norm parameters and buffers


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(("name", "params"), SETTINGS, ids=[f"{n}{p}" for n, p in SETTINGS])
def test_reported_size_is_the_serialized_payload(name: str, params: dict[str, Any], target: str) -> None:
    torch.manual_seed(0)
    model = TARGETS[target]()
    compressor = COMPRESSORS.get(name)
    compressed = compressor(**params).compress(model, CPU)
    blob = to_bytes(compressed)
    assert payload_bytes_of(blob) == compressed.size_bytes
    assert compressed.size_bytes <= fp32_bytes(model) or name == "identity" or params.get("bits") == 16
    method, tensors, meta = from_bytes(blob)
    assert method == compressed.method
    restored = compressor.decode(tensors, meta)
    direct = compressor.decode(compressed.tensors, compressed.meta)
    assert all(torch.equal(restored[k], direct[k]) for k in direct)
    shapes = {n: p.shape for n, p in model.named_parameters()}
    assert {k: v.shape for k, v in direct.items()} == shapes


@pytest.mark.parametrize(("name", "params", "expected"), [
    # fp32: 4 bytes a weight
    ("identity", {}, lambda numels: sum(4 * n for n in numels)),
    # 8-bit codes, one fp32 scale per tensor
    ("quantize", {"bits": 8, "granularity": "per-tensor"}, lambda numels: sum(n + 4 for n in numels)),
    # 3-bit indices packed into bytes, an 8-entry fp32 codebook per tensor
    ("kmeans", {"bits": 3}, lambda numels: sum(-(-3 * n // 8) + 4 * 8 for n in numels)),
])
def test_sizes_match_a_count_from_first_principles(name: str, params: dict[str, Any], expected: Any) -> None:
    """An independent count: what the format stores, worked out by hand from the weight counts."""
    model = seed_cnn(c=8)  # three weight tensors, no biases, no buffers
    numels = [p.numel() for p in model.parameters()]
    assert COMPRESSORS.get(name)(**params).compress(model, CPU).size_bytes == expected(numels)
