"""Every registered compressor and field, listed from the registries (timm's test_models
pattern): a component is covered by the size, decode, finiteness and budget checks the day it
registers. `innr_bench.conformance` holds the checks, so a plugin's tests can run them too."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest
import torch

from innr_bench.compress.innr.layouts import build_layout
from innr_bench.compress.nnc_codec import INSTALL
from innr_bench.conformance import QUICK_FIT, check_budget_errors, check_compressor, check_field, tiny_target
from innr_bench.params import params_model
from innr_bench.registry import COMPRESSORS, FIELDS, LAYOUTS

# Options for compressors that need some (a required option) or would be slow at their defaults.
EXAMPLES: dict[str, dict[str, Any]] = {
    "prune-global": {"sparsity": 0.5}, "prune-layer": {"sparsity": 0.5}, "prune-filters": {"sparsity": 0.5},
    "innr": {"fit": QUICK_FIT, "ratio": 0.3}, "innr-siren": {"epochs": 20, "ratio": 0.3},
    "deep-compression": {"rounds": 1, "retrain_epochs": 1},
}
BUDGETED = [name for name in COMPRESSORS.names()
            if "bytes" in params_model(COMPRESSORS.get(name)).model_fields]


@pytest.mark.parametrize("name", COMPRESSORS.names())
def test_every_compressor_decodes_from_its_blob_with_every_byte_counted(name: str) -> None:
    if name == "nnc" and importlib.util.find_spec("nncodec") is None:
        pytest.skip(f"nnc needs its optional codec: {INSTALL}")
    required = [n for n, f in params_model(COMPRESSORS.get(name)).model_fields.items() if f.is_required()]
    assert not required or name in EXAMPLES, f"{name} needs {required}: add an example to EXAMPLES"
    check_compressor(name, EXAMPLES.get(name))


@pytest.mark.parametrize("name", BUDGETED)
def test_every_budgeted_compressor_says_when_a_budget_is_impossible(name: str) -> None:
    check_budget_errors(name, {k: v for k, v in EXAMPLES.get(name, {}).items() if k != "ratio"})


@pytest.mark.parametrize("name", FIELDS.names())
def test_every_field_fits_a_budget_and_counts_its_bytes(name: str) -> None:
    check_field(name)


@pytest.mark.parametrize("name", LAYOUTS.names())
def test_every_layout_round_trips_the_weights(name: str) -> None:
    """A layout's queries and values give back every weight exactly (the field aside)."""
    model = tiny_target()
    weights = {k: p.detach() for k, p in model.named_parameters()}
    shapes = [list(w.shape) for w in weights.values()]
    layout = build_layout({"name": name})
    encoded = layout.encode(weights)
    assert encoded.coords.shape == (len(encoded.values), layout.dims(shapes)[0])
    assert torch.equal(encoded.coords, layout.queries(shapes))
    assert float(encoded.coords.abs().max()) <= 1.0
    decoded = layout.decode(encoded.values, encoded.stats, list(weights), shapes)
    for key, weight in weights.items():
        assert torch.allclose(decoded[key], weight, atol=1e-5 + 2e-3 * float(weight.abs().max())), key


def test_the_kernel_layout_makes_one_query_per_kernel_whatever_its_size() -> None:
    """A 3x3 and a 1x1 convolution: 25 values a query, the smaller kernels padded, masked out."""
    weights = {"a": torch.randn(4, 2, 3, 3), "b": torch.randn(3, 4, 1, 1), "c": torch.randn(5, 7)}
    layout = build_layout({"name": "kernel", "block": 9})
    encoded = layout.encode(weights)
    assert encoded.values.shape == (4 * 2 + 3 * 4 + 5 * 1, 9)
    assert encoded.mask is not None and int(encoded.mask.sum()) == sum(w.numel() for w in weights.values())
    shapes = [list(w.shape) for w in weights.values()]
    decoded = layout.decode(encoded.values, encoded.stats, list(weights), shapes)
    assert all(torch.allclose(decoded[k], w, atol=1e-5) for k, w in weights.items())
    with pytest.raises(ValueError, match="smaller than the target's largest kernel"):
        build_layout({"name": "kernel", "block": 4}).encode(weights)
