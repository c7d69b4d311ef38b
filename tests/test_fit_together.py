"""INNR weight fits of one shape fit as one batched fit (`eval.stack_fits`): each member equals
its fit alone within floating-point tolerance, later stages run alone, a divergence falls back
to fits alone, and the runner keys, caches and records every member as its own cell."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from innr_bench.compress.base import CompressContext
from innr_bench.compress.innr import together
from innr_bench.compress.innr.compressor import Innr
from innr_bench.config import parse_suite
from innr_bench.data.datasets import Dataset
from innr_bench.engine.plan import Plan
from innr_bench.engine.runner import Runner
from innr_bench.models.seed_cnn import seed_cnn
from innr_bench.progress import Progress

CPU = torch.device("cpu")
# Batched float32 products may sum in another order than one at a time, and a fit carries such
# differences on (the head's least-squares solve amplifies them). After these 30-epoch fits the
# decoded weights stay within this share of each tensor's std (measured on the CPU: 0 for one
# field, <= 2.7e-4 with parts; after 300 epochs <= 6.6e-3) and the final MSEs within 1e-6 relative.
WEIGHT_TOLERANCE = 1e-3
FP32 = {"precision": "fp32", "entropy": "none"}  # the fields compared as fit, not rounded to codes


def targets(count: int = 3) -> list[torch.nn.Module]:
    nets = []
    for seed in range(count):
        torch.manual_seed(100 + seed)
        nets.append(seed_cnn(c=4))
    return nets


def context(seed: int, data: Dataset | None = None) -> CompressContext:
    return CompressContext(seed=seed, device=CPU, progress=Progress(enabled=False), data=data,
                           input_shape=(1, 28, 28))


def assert_same_copy(member: Any, alone: Any) -> None:
    """`member` (fit together) decodes to `alone`'s weights within the tolerance, at its bytes."""
    ours, theirs = Innr.decode(member.tensors, member.meta), Innr.decode(alone.tensors, alone.meta)
    assert ours.keys() == theirs.keys() and member.size_bytes == alone.size_bytes
    for name, value in theirs.items():
        assert (ours[name] - value).abs().max() <= WEIGHT_TOLERANCE * value.std(), name
    assert member.info["final_mse"] == pytest.approx(alone.info["final_mse"], rel=1e-5)


@pytest.mark.parametrize("params", [
    {"preset": "fast", "field": {"name": "siren", "width": 24}},
    {"preset": "fast-scalable", "ratio": 0.3, "partition": {"weights": 2_000}},  # parts: a field each
    {"preset": "fast", "field": {"name": "fourier-mlp", "width": 24}},
], ids=["siren", "parts", "fourier"])
def test_each_member_equals_its_fit_alone(params: dict[str, Any]) -> None:
    compressor = Innr(**params, fit=[{"name": "weights", "epochs": 30}], storage=FP32)
    nets = targets()
    alone = [compressor.compress(net, context(seed)) for seed, net in enumerate(nets)]
    joint = compressor.compress_together(nets, [context(seed) for seed in range(len(nets))])
    for one, member in zip(alone, joint, strict=True):
        assert_same_copy(member, one)
        assert [step for step, _ in member.info["history"]] == [step for step, _ in one.info["history"]]
        assert member.info["fit_group"]["members"] == len(nets)


def test_later_stages_run_alone_after_the_joint_weight_fit() -> None:
    """A distillation on noise after the joint weight fit: each member's draws are its own seed's."""
    compressor = Innr(preset="fast", field={"name": "siren", "width": 16}, storage=FP32,
                      fit=[{"name": "weights", "epochs": 12},
                           {"name": "distill", "steps": 4, "inputs": "noise", "batch": 8}])
    nets = targets(2)
    alone = [compressor.compress(net, context(seed)) for seed, net in enumerate(nets)]
    joint = compressor.compress_together(nets, [context(seed) for seed in range(2)])
    for one, member in zip(alone, joint, strict=True):
        assert_same_copy(member, one)


def test_a_diverging_group_is_fit_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    def diverge(*args: Any, **kwargs: Any) -> Any:
        raise FloatingPointError("fit 2 INNRs together diverged at step 3 (summed mse nan)")

    monkeypatch.setattr("innr_bench.compress.innr.compressor.fit_weights_together", diverge)
    compressor = Innr(preset="fast", field={"name": "siren", "width": 16},
                      fit=[{"name": "weights", "epochs": 6}])
    joint = compressor.compress_together(targets(2), [context(0), context(1)])
    assert all(c.info["fit_group"]["members"] == 1 for c in joint)
    assert all("diverged" in c.info["fit_group"]["why"] for c in joint)
    assert all("final_mse" in c.info for c in joint)


def test_fields_of_different_shapes_are_fit_alone() -> None:
    compressor = Innr(preset="fast", ratio=0.3, fit=[{"name": "weights", "epochs": 2}])
    small, large = seed_cnn(c=4), seed_cnn(c=8)  # another width at the same ratio
    made = compressor.compress_together([small, large], [context(0), context(1)])
    assert all("one architecture" in c.info["fit_group"]["why"] for c in made)
    assert together  # the module the runner's groups go through


def test_only_compressors_that_start_with_a_weight_fit_fit_together() -> None:
    assert Innr.fits_together(Innr(preset="fast").resolved_spec())
    assert not Innr.fits_together({"fit": [{"name": "distill"}]})


# -- the runner ------------------------------------------------------------------------------


def suite_doc(repo_root: Path, stack_fits: int, seeds: list[int]) -> dict[str, Any]:
    doc = yaml.safe_load((repo_root / "suites" / "smoke.yaml").read_text())
    doc["seeds"] = seeds
    doc["compressors"] = [c for c in doc["compressors"] if c["name"] in ("innr-siren", "quantize")]
    doc["attacks"] = []
    doc["eval"] = {"stack_fits": stack_fits}
    return doc


def test_the_plan_keys_grouped_fits_and_makes_members_wait_for_the_leader(repo_root: Path) -> None:
    environment = {"torch": "x", "device": "cpu"}
    data = {"synthetic[n_train=512,n_test=256]": type("D", (), {"sha256": "0" * 64})()}
    plans = {k: Plan(parse_suite(suite_doc(repo_root, k, [0, 1, 2])), data, environment)  # type: ignore[arg-type]
             for k in (1, 2)}
    cells = {k: {(t.kind, t.group[2], t.index): t.key for t in plan.cells()} for k, plan in plans.items()}
    innr, ptq = 0, 1
    for seed in (0, 1, 2):
        assert cells[1][("compressor", seed, ptq)] == cells[2][("compressor", seed, ptq)]  # not an INNR
    # groups of 2 consecutive seeds: {0, 1} fit together, 2 alone (its key as with stack_fits 1)
    assert cells[1][("compressor", 0, innr)] != cells[2][("compressor", 0, innr)]
    assert cells[1][("compressor", 1, innr)] != cells[2][("compressor", 1, innr)]
    assert cells[1][("compressor", 2, innr)] == cells[2][("compressor", 2, innr)]
    plan = plans[2]
    groups = {g.seed: g for g in plan.groups.values()}
    compressor = plan.suite.compressors[innr]
    assert plan.fit_group(groups[1], compressor) == [0, 1] and plan.fit_group(groups[2], compressor) is None
    assert plan.fit_leader(groups[1], compressor) is groups[0]
    peer = next(t for t in plan.cells() if t.kind == "compressor" and t.group[2] == 1 and t.index == innr)
    leader = next(t for t in plan.cells() if t.kind == "compressor" and t.group[2] == 0 and t.index == innr)
    assert ("compressed", plan.copy_key(groups[0], compressor)) in plan.inputs(peer)
    assert ("targets", groups[1].key) in plan.inputs(leader)


def test_a_suite_fits_its_seeds_together_once_and_records_each(repo_root: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    original = Innr.encode_together

    def counted(self: Innr, models: Any, ctxs: Any) -> Any:
        calls.append(len(models))
        return original(self, models, ctxs)

    monkeypatch.setattr(Innr, "encode_together", counted)
    from innr_bench.compress.innr.compressor import InnrCompressor
    monkeypatch.setattr(InnrCompressor, "encode_together", counted)
    suite = parse_suite(suite_doc(repo_root, 2, [0, 1]))
    summary = Runner(suite, out_dir=tmp_path, device="cpu").run()
    assert summary.failed == [] and calls == [2]  # one batched fit for both seeds' copies
    records = [json.loads(p.read_text()) for p in (tmp_path / "smoke" / "records").glob("*.json")]
    innr = [r for r in records if r["compressor"]["name"] == "innr-siren"]
    assert sorted(r["seed"] for r in innr) == [0, 1]
    for record in innr:
        assert record["info"]["fit_group"]["members"] == 2 and record["info"]["fit_group"]["seeds"] == [0, 1]
        assert record["compress_seconds"] > 0
    alone = parse_suite(suite_doc(repo_root, 1, [0, 1]))
    again = Runner(alone, out_dir=tmp_path / "alone", device="cpu").run()
    single = [json.loads(p.read_text()) for p in (tmp_path / "alone" / "smoke" / "records").glob("*.json")]
    by_seed = {r["seed"]: r for r in single if r["compressor"]["name"] == "innr-siren"}
    assert again.failed == []
    for record in innr:  # the same copies, up to summation order
        assert record["key"] != by_seed[record["seed"]]["key"]
        one = by_seed[record["seed"]]
        assert record["info"]["final_mse"] == pytest.approx(one["info"]["final_mse"], rel=1e-3)
        assert record["size_bytes"] == one["size_bytes"]


def test_a_member_failing_in_a_later_stage_fails_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each member runs its later stages alone: one that fails there is its error in the group's
    list, and the others' copies are made."""
    from innr_bench.compress.innr import distill

    original = distill.Distill.run

    def fail_for_seed_1(self: Any, state: Any) -> Any:
        if state.ctx.seed == 1:
            raise FloatingPointError("distillation diverged at step 2 (kl nan)")
        return original(self, state)

    monkeypatch.setattr(distill.Distill, "run", fail_for_seed_1)
    compressor = Innr(preset="fast", field={"name": "siren", "width": 16}, storage=FP32,
                      fit=[{"name": "weights", "epochs": 12},
                           {"name": "distill", "steps": 2, "inputs": "noise", "batch": 8}])
    made = compressor.compress_together(targets(3), [context(seed) for seed in range(3)])
    assert isinstance(made[1], FloatingPointError)
    assert all(not isinstance(c, Exception) for c in (made[0], made[2]))
    assert made[0].info["fit_group"]["members"] == made[2].info["fit_group"]["members"] == 3
