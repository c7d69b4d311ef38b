"""A size budget for innr-siren: the widest SIREN whose stored bytes fit, chosen per target."""

from __future__ import annotations

import pytest
import torch

from innr_bench.compress.base import CompressContext, fp32_bytes
from innr_bench.compress.innr.budget import stored_bytes
from innr_bench.compress.innr.compressor import InnrSiren
from innr_bench.compress.serialize import payload_bytes_of, to_bytes
from innr_bench.config import parse_suite
from innr_bench.errors import ConfigError
from innr_bench.models.seed_cnn import seed_cnn
from innr_bench.progress import Progress
from innr_bench.registry import MODELS

CPU = CompressContext(seed=0, device=torch.device("cpu"), progress=Progress(enabled=False))
TARGETS = {"seed-cnn": lambda: seed_cnn(c=8), "lenet5": MODELS.get("lenet5")}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_ratio_picks_the_widest_siren_that_fits(target: str, precision: str) -> None:
    torch.manual_seed(0)
    model = TARGETS[target]()
    innr = InnrSiren(ratio=0.2, epochs=2, precision=precision)
    compressed = innr.compress(model, CPU)
    budget, width = compressed.info["budget"]["bytes"], compressed.info["budget"]["width"]
    assert budget == int(0.2 * fp32_bytes(model))
    assert compressed.size_bytes <= budget and payload_bytes_of(to_bytes(compressed)) == compressed.size_bytes
    assert _bytes_at(innr, compressed, width + 1) > budget  # one unit wider would not fit
    assert compressed.meta["spec"]["field"]["width"] == width
    assert f"SIREN {width}x4 {precision}" in compressed.info["storage"]


def _bytes_at(innr: InnrSiren, compressed, width: int) -> int:
    """What the same INNR would store at another width (the stats and buffers are the same)."""
    field, dims = compressed.meta["spec"]["field"], tuple(compressed.meta["dims"])
    fixed = compressed.size_bytes - stored_bytes(field, dims, innr.spec.storage_spec(), 0)
    return stored_bytes({**field, "width": width}, dims, innr.spec.storage_spec(), fixed)


def test_each_target_gets_its_own_width_at_the_same_ratio() -> None:
    widths = {name: InnrSiren(ratio=0.15, epochs=1).compress(build(), CPU).info["budget"]["width"]
              for name, build in TARGETS.items()}
    assert widths["seed-cnn"] < widths["lenet5"]  # lenet5 has more weights, so more bytes to spend


def test_a_byte_budget_is_met_from_below_by_the_widest_fit() -> None:
    innr = InnrSiren(bytes=6_000, epochs=1)
    compressed = innr.compress(seed_cnn(c=8), CPU)
    width = compressed.info["budget"]["width"]
    assert compressed.size_bytes <= 6_000 < _bytes_at(innr, compressed, width + 1)


def test_an_impossible_budget_is_one_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"innr-siren: bytes 100 is impossible for this target: the "
                                          r"smallest SIREN 1x4 \(width 1, fp16\) .* takes [\d,]+ bytes"):
        InnrSiren(bytes=100, epochs=1).compress(seed_cnn(c=8), CPU)


def test_a_budget_and_a_width_together_are_refused_in_the_suite() -> None:
    doc = {"name": "t", "seeds": [0], "datasets": [{"name": "synthetic"}],
           "targets": [{"name": "seed-cnn", "params": {"c": 2}}],
           "compressors": [{"name": "innr-siren", "params": {"width": 32, "ratio": 0.1}}]}
    with pytest.raises(ConfigError, match=r"compressors\[0\]\.params\.ratio: set only one of width, ratio "
                                          r"and bytes"):
        parse_suite(doc)
