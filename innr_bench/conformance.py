"""What every registered compressor and field must do, as checks a test can call: innr-bench's
own tests run them over every registry entry, and a plugin's tests can run them on its own.

    from innr_bench.conformance import check_compressor, check_field
    check_field("my-field")                          # a field inside an INNR, end to end
    check_compressor("my-compressor", {"bits": 4})   # any compressor

Each compresses a tiny target (convolution with biases, batch norm, a linear layer), decodes it
from the serialized blob as a user loading the file would, and checks the stored bytes against
an independent count, finite weights and outputs, and, where the compressor takes a byte budget,
that the budget holds and that an impossible one is one clear error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from innr_bench.compress.base import BUFFER_PREFIX, CompressContext, Compressed, fp32_bytes, payload_bytes
from innr_bench.compress.innr.budget import stored_bytes
from innr_bench.compress.innr.compressor import build
from innr_bench.compress.innr.fields.base import size_knob
from innr_bench.compress.innr.storage import StorageSpec
from innr_bench.compress.serialize import from_bytes, payload_bytes_of, to_bytes
from innr_bench.config import resolved_spec
from innr_bench.data.datasets import synthetic
from innr_bench.engine.copies import builds_from_spec
from innr_bench.errors import ConfigError
from innr_bench.models.train import TrainConfig
from innr_bench.progress import Progress
from innr_bench.registry import COMPRESSORS

BUDGET_RATIO = 0.3
# a short weight fit, a query per 25 weights (a 5x5 kernel): conformance, not quality
QUICK_FIT = [{"name": "weights", "epochs": 20}]
LAYOUT = {"name": "rows", "block": 25}
PART_WEIGHTS = 4_000  # the tiny target in 2 parts, each share room for the smallest hash grid


def tiny_target(seed: int = 0) -> nn.Module:
    """A few thousand weights of every kind a target has: conv with bias, batch norm, linear."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(1, 4, 5, stride=2), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4 * 12 * 12, 10))
    model.train()
    with torch.no_grad():  # batch-norm statistics that are not their initial values
        model(torch.rand(32, 1, 28, 28))
    return model.eval()


def context(seed: int = 0) -> CompressContext:
    data = synthetic(n_train=128, n_test=64)
    return CompressContext(seed=seed, device=torch.device("cpu"), progress=Progress(enabled=False),
                           data=data, train=TrainConfig(lr=1e-3, batch_size=32, epochs=1),
                           input_shape=tuple(data.test_x.shape[1:]))


def check_compressor(name: str, params: Mapping[str, Any] | None = None) -> Compressed:
    """Compress the tiny target with `name`; every check a compressor must pass (AssertionError)."""
    model, factory = tiny_target(), COMPRESSORS.get(name)
    compressor = factory(**dict(params or {}))
    spec = resolved_spec(compressor, dict(params or {}))
    if builds_from_spec(factory):  # what a worker builds from a cell's key is what the suite said
        rebuilt_spec = resolved_spec(factory.from_spec(spec), spec)
        assert rebuilt_spec == spec, "from_spec does not rebuild the resolved spec"
    compressed = compressor.compress(model, context())
    blob = to_bytes(compressed)
    assert payload_bytes_of(blob) == compressed.size_bytes, "size_bytes is not what the blob stores"
    method, tensors, meta = from_bytes(blob)
    assert method == name
    stored = Compressed(method, tensors, meta, compressed.size_bytes)
    decoded = factory.decode(tensors, meta)
    assert {k: v.shape for k, v in decoded.items()} == {k: p.shape for k, p in model.named_parameters()}
    assert all(torch.isfinite(v).all() for v in decoded.values()), "decoded weights are not finite"
    rebuilt = stored.reconstruct(model)
    with torch.no_grad():
        assert torch.isfinite(rebuilt(torch.rand(8, 1, 28, 28))).all(), "the copy's outputs are not finite"
        for buffer_name, buffer in rebuilt.named_buffers():  # as stored (a retraining compressor's own)
            stored_buffer = tensors[BUFFER_PREFIX + buffer_name]
            assert torch.equal(buffer, stored_buffer), f"buffer {buffer_name} not restored"
    budget = compressed.info.get("budget")
    if budget is not None:
        assert compressed.size_bytes <= budget["bytes"], "the byte budget is exceeded"
    return compressed


def check_budget_errors(name: str, params: Mapping[str, Any] | None = None) -> None:
    """A compressor that takes `bytes`: an impossible budget is one clear ConfigError."""
    model = tiny_target()
    try:
        COMPRESSORS.get(name)(**{**dict(params or {}), "bytes": 1}).compress(model, context())
    except ConfigError as error:
        assert "impossible" in str(error) and "\n" not in str(error), str(error)
        return
    raise AssertionError(f"{name}: a 1-byte budget did not fail")


def check_field(name: str, options: Mapping[str, Any] | None = None, *,
                precisions: tuple[str, ...] = ("fp16", "int8")) -> list[Compressed]:
    """The field `name` inside an INNR (25 weights a query, a short weight fit, a byte budget of
    0.3 of the target) at each storage precision and cut into parts: the compressor checks, bytes
    counted from first principles, a size knob whose bytes grow, and an impossible budget as one
    clear error."""
    knob = size_knob(name)
    assert knob is not None, f"field {name!r} declares no size knob (register it with size=...)"
    field = {"name": name, **dict(options or {})}
    done = []
    for precision in precisions:
        params = {"layout": LAYOUT, "field": field, "fit": QUICK_FIT, "storage": {"precision": precision},
                  "ratio": BUDGET_RATIO}
        compressed = check_compressor("innr", params)
        assert compressed.size_bytes == first_principles_bytes(compressed), "the byte count is off"
        assert compressed.size_bytes <= int(BUDGET_RATIO * fp32_bytes(tiny_target()))
        done.append(compressed)
    chosen = done[0].meta["spec"]["field"]
    dims = tuple(done[0].meta["dims"])
    sizes = [stored_bytes({**chosen, knob: v}, dims, StorageSpec(precision="fp16"), 0) for v in (1, 2, 4, 8)]
    assert sizes == sorted(sizes), f"{name}: stored bytes do not grow with {knob}: {sizes}"
    check_budget_errors("innr", {"layout": LAYOUT, "field": field, "fit": QUICK_FIT})
    # cut into parts, one field each sized by its share of the budget: the same checks
    parted = check_compressor("innr", {"layout": LAYOUT, "field": field, "fit": QUICK_FIT,
                                       "ratio": BUDGET_RATIO, "storage": {"precision": "fp16"},
                                       "partition": {"weights": PART_WEIGHTS}})
    assert len(parted.meta["parts"]["sizes"]) > 1, "the tiny target was not cut into parts"
    assert parted.size_bytes == first_principles_bytes(parted), "the byte count of the parts is off"
    done.append(parted)
    return done


def first_principles_bytes(compressed: Compressed) -> int:
    """An INNR's stored bytes counted from what its format holds, not from its tensors: the
    field's parameters at the storage width (int codes: bit-packed, plus one fp32 scale per
    tensor), the stats, the target's buffers."""
    meta = compressed.meta
    spec, dims = meta["spec"], meta["dims"]
    store = StorageSpec(**spec["storage"])
    with torch.random.fork_rng(devices=[]):
        field = build(spec["field"], dims, meta.get("parts"))
    numels = [t.numel() for t in field.state_dict().values()]
    if store.precision == "int8":
        assert store.entropy == "none", "first-principles counts are for fixed-width codes"
        field_bytes = sum(math.ceil(n * store.bits / 8) + 4 for n in numels)
    else:
        field_bytes = sum(n * (4 if store.precision == "fp32" else 2) for n in numels)
    rest = {k: v for k, v in compressed.tensors.items() if not k.startswith("field.")}
    return field_bytes + payload_bytes(rest)
