"""Partitioned fields (one field per part of the target's queries) and the defaults that use
them: `fast-scalable`, and `innr` with no size named."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from innr_bench.compress.base import CompressContext, fp32_bytes
from innr_bench.compress.innr.compressor import Innr, InnrSiren
from innr_bench.compress.innr.partition import PartitionedField, PartitionSpec, shares
from innr_bench.compress.serialize import from_bytes, payload_bytes_of, to_bytes
from innr_bench.errors import ConfigError
from innr_bench.models.seed_cnn import seed_cnn
from innr_bench.progress import Progress
from innr_bench.registry import COMPRESSORS, MODELS

CPU = CompressContext(seed=0, device=torch.device("cpu"), progress=Progress(enabled=False),
                      input_shape=(1, 28, 28))
SHORT = [{"name": "weights", "epochs": 20}]


@pytest.mark.parametrize(("queries", "per_query", "weights"), [(1, 100, 131_072), (2_697, 100, 131_072),
                                                               (1_000, 25, 2_500), (7, 300, 300)])
def test_parts_are_contiguous_near_equal_and_within_the_limit(queries: int, per_query: int,
                                                               weights: int) -> None:
    sizes = PartitionSpec(weights=weights).sizes(queries, per_query)
    assert sum(sizes) == queries and max(sizes) - min(sizes) <= 1
    assert max(sizes) <= weights // per_query
    assert shares(1_000, sizes) == [1_000 * s // queries for s in sizes]


def test_a_target_within_one_part_is_the_unpartitioned_fit() -> None:
    torch.manual_seed(0)
    model = seed_cnn(c=8)
    one = Innr(preset="fast-scalable", ratio=0.3, fit=SHORT).compress(model, CPU)
    plain = Innr(preset="fast-scalable", ratio=0.3, fit=SHORT, partition={"weights": 10**9})
    assert len(one.meta["parts"]["sizes"]) == 1
    unpartitioned = Innr(preset="fast", ratio=0.3, fit=SHORT,
                         storage={"precision": "int8", "entropy": "huffman"}).compress(model, CPU)
    decoded = Innr.decode(one.tensors, one.meta)
    reference = Innr.decode(unpartitioned.tensors, unpartitioned.meta)
    assert all(torch.equal(decoded[k], reference[k]) for k in reference)
    assert one.size_bytes == unpartitioned.size_bytes
    assert plain.compress(model, CPU).size_bytes == one.size_bytes


def test_each_part_gets_its_own_field_sized_by_its_share_and_decodes_from_the_blob() -> None:
    torch.manual_seed(0)
    model = MODELS.get("lenet5")()  # 61,706 weights with biases: 5 parts of at most 12,500
    budget = int(0.2 * fp32_bytes(model))
    innr = Innr(preset="fast-scalable", ratio=0.2, fit=SHORT, partition={"weights": 12_500})
    compressed = innr.compress(model, CPU)
    parts = compressed.meta["parts"]
    assert len(parts["sizes"]) == compressed.info["parts"] >= 5
    assert compressed.size_bytes <= budget
    assert len(set(parts["knobs"])) <= 2  # near-equal parts, near-equal shares
    blob = to_bytes(compressed)
    assert payload_bytes_of(blob) == compressed.size_bytes
    _, tensors, meta = from_bytes(blob)
    restored, direct = Innr.decode(tensors, meta), Innr.decode(compressed.tensors, compressed.meta)
    assert all(torch.equal(restored[k], direct[k]) for k in direct)
    with torch.no_grad():
        rebuilt = compressed.reconstruct(model)
        error = sum((a - b).pow(2).sum() for a, b in zip(rebuilt.parameters(), model.parameters()))
        assert float(error / sum(p.pow(2).sum() for p in model.parameters())) < 1.0  # it fits something
    assert compressed.info["storage"].startswith(f"{len(parts['sizes'])} fields over parts: SIREN ")


def test_quantization_aware_refit_and_distillation_run_through_the_parts() -> None:
    torch.manual_seed(0)
    model = seed_cnn(c=4)
    fit = [{"name": "weights", "epochs": 5}, {"name": "qat", "epochs": 3},
           {"name": "distill", "steps": 2, "inputs": "noise", "batch": 4, "weight_loss": 1.0}]
    compressed = Innr(preset="fast-scalable", ratio=0.5, fit=fit, partition={"weights": 400}).compress(
        model, CPU)
    assert compressed.info["parts"] > 1 and compressed.info["distill_steps"] == 2
    assert all(torch.isfinite(p).all() for p in compressed.reconstruct(model).parameters())


def test_a_partitioned_field_takes_every_query_in_order() -> None:
    field = PartitionedField([torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)], [4, 5], {"name": "siren"},
                             [None, None])
    x = torch.randn(9, 3)
    assert torch.equal(field(x), field.evaluate(x, chunk=2))
    with pytest.raises(ValueError, match="takes all 9 queries in order, got 8"):
        field(x[:8])


class TestDefaults:
    def test_innr_with_no_size_follows_the_target(self) -> None:
        """No preset, budget or field size: fast-scalable at 0.13 (a copy that follows the target)."""
        spec = Innr().spec
        assert spec.preset["name"] == "fast-scalable" and spec.budget == {"ratio": 0.13}
        assert spec.partition == {"weights": 131_072}
        assert Innr(fit=SHORT).spec.budget == {"ratio": 0.13}

    @pytest.mark.parametrize("sized", [{"ratio": 0.2}, {"bytes": 10_000}, {"field": {"width": 16}},
                                       {"field": {"name": "hash-grid", "table_size": 64}},
                                       {"preset": "fast"}])
    def test_a_size_named_keeps_the_fast_preset(self, sized: dict[str, Any]) -> None:
        spec = Innr(**sized).spec
        assert spec.preset["name"] == "fast" and spec.partition is None

    def test_a_default_copy_of_targets_of_any_size_meets_the_ratio(self) -> None:
        for model in (seed_cnn(c=8), MODELS.get("resnet20")(width=4, in_channels=1)):
            compressed = COMPRESSORS.get("innr")(fit=SHORT).compress(model, CPU)
            assert compressed.size_bytes <= 0.13 * fp32_bytes(model)

    def test_innr_siren_names_the_scalable_preset_too(self) -> None:
        named = Innr(preset="fast-scalable", ratio=0.13).spec
        assert InnrSiren(recipe="fast-scalable", ratio=0.13).spec == named

    def test_published_specs_keep_their_keys(self) -> None:
        """A spec without a partition hashes as before partitions existed: no `partition` key."""
        assert "partition" not in Innr(preset="fast", ratio=0.13).resolved_spec()
        assert "partition" not in InnrSiren().resolved_spec()


def test_a_part_smaller_than_one_query_is_refused_naming_the_block() -> None:
    with pytest.raises(ConfigError, match=r"partition\.weights: 50 is smaller than one query's 100 values"):
        Innr(preset="fast-scalable", ratio=0.3, fit=SHORT, partition={"weights": 50}).compress(
            seed_cnn(c=8), CPU)


def test_a_budget_the_stats_and_buffers_alone_exceed_is_one_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"bytes 100 is impossible .* its stats and buffers alone take"):
        Innr(preset="fast-scalable", bytes=100, fit=SHORT).compress(MODELS.get("resnet20")(width=4), CPU)


def test_the_implicit_default_says_so_when_a_part_does_not_fit_it() -> None:
    with pytest.raises(ConfigError, match=r"needs integer codes.*\(innr with no size named takes preset "
                                          r"fast-scalable at ratio 0\.13; name a preset"):
        Innr(storage={"precision": "fp16"})


@pytest.mark.parametrize(("partition", "match"), [
    ({"weights": 0}, r"partition\.weights: 0 is invalid"),
    ({"weight": 10}, r"partition\.weight: 10 is invalid \(unknown key\)"),
    (5, r"partition: 5 is invalid \(a mapping"),
])
def test_a_bad_partition_names_its_path(partition: Any, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Innr(ratio=0.1, partition=partition)


def test_a_share_too_small_for_any_field_is_one_clear_error() -> None:
    with pytest.raises(ConfigError,
                       match=r"ratio 0\.01 .* part 1 of \d+ .* is impossible.*raise partition\.weights"):
        Innr(preset="fast-scalable", ratio=0.01, fit=SHORT, partition={"weights": 500}).compress(
            seed_cnn(c=8), CPU)
