"""The CI gate catches a planted 1-point regression in one compressor, and passes an unchanged
rerun: paired per seed, since the same seed in the same environment computes the same thing."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from innr_bench.config import Suite, parse_suite
from innr_bench.engine.cache import TensorCache
from innr_bench.engine.runner import Runner
from innr_bench.registry import COMPRESSORS
from innr_bench.reporting.gate import check, load_baseline, write_baseline

PTQ = "ptq[bits=4]"


@pytest.fixture(scope="module")
def ci_suite(repo_root: Path) -> Suite:
    """The CI suite's target and data (real digits, seed CNN c=8), two settings, no attacks."""
    doc = yaml.safe_load((repo_root / "suites" / "ci.yaml").read_text())
    doc["compressors"] = [c for c in doc["compressors"] if c["name"] in ("identity", "quantize")]
    doc["attacks"] = []
    return parse_suite(doc)


@pytest.fixture
def planted_bias() -> Iterator[list[float]]:
    """A bug planted in the quantizer's decoder: `delta` added to every weight of the last layer's
    first row, so class 0 wins more often than it should (0 = no bug)."""
    quantize = COMPRESSORS.get("quantize")
    decode = quantize.decode
    delta = [0.0]

    def planted(tensors: Any, meta: Any) -> dict[str, torch.Tensor]:
        weights = decode(tensors, meta)
        last = list(weights)[-1]
        changed = weights[last].clone()
        changed[0] += delta[0]
        return {**weights, last: changed}

    quantize.decode = staticmethod(planted)
    yield delta
    quantize.decode = staticmethod(decode)


def _run(suite: Suite, out: Path, cache: Path) -> Path:
    summary = Runner(suite, out_dir=out, device="cpu", cache=TensorCache(cache)).run()
    assert summary.failed == []
    return out / suite.name


def test_the_gate_fails_a_planted_one_point_regression_and_passes_an_unchanged_rerun(
    ci_suite: Suite, tmp_path: Path, planted_bias: list[float], repo_root: Path
) -> None:
    baseline = write_baseline(_run(ci_suite, tmp_path / "base", tmp_path / "cache"), tmp_path / "b.json")
    assert all(e.environment and len(e.per_seed) == 2 for e in baseline.entries)

    # unchanged, from scratch (a fresh cache: every target retrained): identical, so it passes
    rerun_dir = _run(ci_suite, tmp_path / "rerun", tmp_path / "fresh-cache")
    rerun = check(rerun_dir, baseline, 0.5)
    assert set(rerun["mode"]) == {"paired"} and set(rerun["status"]) == {"ok"}
    assert set(rerun["Δ pt"]) == {0.0}

    # the committed baseline, on whatever machine this runs (paired here or across environments):
    # it passes as it is, and fails with one compressor's per-seed values raised by 1 point
    real = load_baseline(repo_root / "baselines" / "ci.json")
    ours = [e for e in real.entries if e.method in ("identity", PTQ)]
    assert len(ours) == 2
    as_is = check(rerun_dir, dataclasses.replace(real, entries=ours), 0.5).set_index("method")
    assert set(as_is["status"]) == {"ok"}, as_is
    planted = [dataclasses.replace(e, accuracy_mean=e.accuracy_mean + 0.01,
                                   per_seed={s: v + 0.01 for s, v in e.per_seed.items()})
               if e.method == PTQ else e for e in ours]
    caught = check(rerun_dir, dataclasses.replace(real, entries=planted), 0.5).set_index("method")
    assert caught.loc[PTQ, "status"] == "REGRESSION" and caught.loc["identity", "status"] == "ok", caught

    # the smallest planted bias that costs the 4-bit copy at least 1 point (mean over seeds)
    only_ptq = dataclasses.replace(ci_suite, compressors=[c for c in ci_suite.compressors
                                                          if c.name == "quantize"])
    drop = 0.0
    for step in range(30):
        planted_bias[0] = 0.01 * 1.15**step
        table = check(_run(only_ptq, tmp_path / f"bug-{step}", tmp_path / "cache"), baseline, 0.5)
        drop = -float(table.set_index("method").loc[PTQ, "Δ pt"])
        print(f"planted bias {planted_bias[0]:.4f}: {drop:.2f} points lost")
        if drop >= 1.0:
            break
    assert 1.0 <= drop <= 2.0, f"could not plant a ~1-point regression (got {drop:.2f})"
    table = check(_run(ci_suite, tmp_path / "bug", tmp_path / "cache"), baseline, 0.5).set_index("method")
    assert table.loc[PTQ, "status"] == "REGRESSION" and table.loc[PTQ, "mode"] == "paired"
    assert table.loc["identity", "status"] == "ok"
    # Across environments the bug's per-seed effects (they differ by seed) read as measured noise:
    # with 2 seeds the t interval is wide, so the recorded values alone cannot catch it; that is
    # what `check --rerun-baseline auto` is for (the baseline's commit rerun on this machine, paired)
    elsewhere = dataclasses.replace(baseline, entries=[dataclasses.replace(
        e, environment={**e.environment, "device_name": "another CPU"}) for e in baseline.entries])
    across = check(tmp_path / "bug" / ci_suite.name, elsewhere, 0.5).set_index("method")
    assert across.loc[PTQ, "mode"] == "cross-env" and across.loc[PTQ, "allowed pt"] > 0.5
    summary_only = dataclasses.replace(baseline, entries=[dataclasses.replace(e, per_seed={})
                                                          for e in baseline.entries])
    spread = check(tmp_path / "bug" / ci_suite.name, summary_only, 0.5)
    assert spread.set_index("method").loc[PTQ, "allowed pt"] > drop
