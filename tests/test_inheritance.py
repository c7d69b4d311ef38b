"""Every compressed copy of a suite is attacked: under the original's adversarials and its own."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from innr_bench.config import parse_suite
from innr_bench.engine.runner import Runner
from innr_bench.reporting.board import write_leaderboards
from innr_bench.reporting.inheritance import correlations, spearman
from innr_bench.reporting.plots import family_styles


@pytest.fixture(scope="module")
def smoke_run(repo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    doc = yaml.safe_load((repo_root / "suites" / "smoke.yaml").read_text())
    doc["attacks"].append({"name": "fgsm", "label": "fgsm-own", "whitebox_only": True, "limit": 64,
                           "params": {"eps": [0.0, 0.1]}})
    out = tmp_path_factory.mktemp("inheritance")
    summary = Runner(parse_suite(doc), out_dir=out, device="cpu").run()
    assert summary.failed == []
    return out / "smoke"


def _attacks(results: Path) -> list[dict[str, Any]]:
    records = [json.loads(p.read_text()) for p in (results / "records").glob("*.json")]
    return [r for r in records if r["kind"] == "attack"]


def test_every_setting_is_on_the_board_whether_or_not_it_is_in_the_transfer_matrix(smoke_run: Path) -> None:
    fgsm = [r for r in _attacks(smoke_run) if r["attack"]["label"] == "fgsm"]
    assert len(fgsm) == 2
    for record in fgsm:
        assert record["nets"] == ["original", "innr-siren-small", "ptq-int4", "control"]  # matrix as before
        board = {row["net"] for row in record["inheritance"]}
        assert board == {"original", "innr-siren-small", "ptq-int4", "prune[sparsity=0.5]",
                         "prune[sparsity=0.9]", "prune-ft", "control"}
        assert record["copies"] == 5 and record["attack_seconds"] > 0
        matrix = {(r["eps"], r["source"], r["evaluated"]): r for r in record["transfer"]}
        for row in record["inheritance"]:  # the same counts as the matrix where both exist
            if row["net"] in record["nets"]:
                assert row["correct"] == matrix[(row["eps"], "original", row["net"])]["correct"]
                assert row["whitebox_correct"] == matrix[(row["eps"], row["net"], row["net"])]["correct"]


def test_a_whitebox_only_attack_measures_each_net_on_its_own(smoke_run: Path) -> None:
    own = [r for r in _attacks(smoke_run) if r["attack"]["label"] == "fgsm-own"]
    assert len(own) == 2
    for record in own:
        assert record["transfer"] == [] and record["whitebox_only"] and record["n_attacked"] == 64
        assert all(row["transfer_rate"] is None and row["whitebox_accuracy"] is not None
                   for row in record["inheritance"])


def test_the_inheritance_board_and_plots_are_written(smoke_run: Path) -> None:
    written = write_leaderboards(smoke_run)
    board = written["inheritance.md"].read_text()
    assert "inheritance under fgsm (crafted on the original) at eps 0.1" in board
    assert "control's transfer rate" in board and "| prune-ft" in board
    assert "inheritance under fgsm-own (white-box only)" in board
    follows = written["inheritance-correlations.md"].read_text()
    assert "rho vs agreement" in follows and "| fgsm " in follows and "fgsm-own" not in follows
    plots = [p for p in written.values() if p.name.startswith("inheritance-") and p.suffix == ".png"]
    assert len(plots) == 1 and plots[0].stat().st_size > 1000  # none for the white-box-only attack


@pytest.mark.slow
def test_autoattack_standard_reads_each_copy_s_own_robustness(repo_root: Path, tmp_path: Path) -> None:
    """torchattacks' AutoAttack (standard, L-inf) as a white-box-only attack on a small subset."""
    pytest.importorskip("torchattacks", reason="the optional extra: pip install 'innr-bench[attacks]'")
    doc = yaml.safe_load((repo_root / "suites" / "smoke.yaml").read_text())
    doc["seeds"], doc["compressors"] = [0], doc["compressors"][:3]
    doc["attacks"] = [{"name": "torchattacks", "label": "autoattack", "whitebox_only": True, "limit": 8,
                       "params": {"attack": "AutoAttack", "eps": [0.1],
                                  "params": {"version": "standard", "norm": "Linf", "n_classes": 10}}}]
    summary = Runner(parse_suite(doc), out_dir=tmp_path, device="cpu").run()
    assert summary.failed == []
    (record,) = _attacks(tmp_path / "smoke")
    assert record["attack"]["params"]["attack"] == "AutoAttack" and record["n_attacked"] == 8
    board = {row["net"]: row for row in record["inheritance"]}
    assert set(board) == {"original", "innr-siren-small", "ptq-int4", "control"}
    assert all(0 <= row["whitebox_accuracy"] <= 1 and row["transfer_rate"] is None for row in board.values())


def _board(rates: list[float | None], agreements: list[float], whitebox_only: bool = False) -> pd.DataFrame:
    """A long inheritance frame of one target: copies c0, c1, ... plus the original and the control."""
    common = {"data": "d", "target": "t", "attack": "a", "whitebox_only": whitebox_only,
              "seed": 0, "eps": 0.1}
    rows = [{**common, "net": f"c{i}", "transfer_rate": rate, "agreement": agree, "weight_rel_l2": 1 - agree,
             "size_bytes": 100 + i, "clean": agree}
            for i, (rate, agree) in enumerate(zip(rates, agreements))]
    rows += [{**common, "net": net, "transfer_rate": 0.0, "agreement": 0.0, "weight_rel_l2": 9.0,
              "size_bytes": 1, "clean": 0.0} for net in ("original", "control")]
    return pd.DataFrame(rows)


def test_spearman_is_the_rank_correlation_and_ties_share_a_rank() -> None:
    assert spearman(pd.Series([1, 2, 3, 4]), pd.Series([10, 20, 30, 400])) == pytest.approx(1.0)
    assert spearman(pd.Series([1, 2, 3, 4]), pd.Series([4, 3, 2, 1])) == pytest.approx(-1.0)
    assert spearman(pd.Series([1, 2, 2, 3]), pd.Series([1, 2, 3, 4])) == pytest.approx(0.9486833, abs=1e-6)
    assert math.isnan(spearman(pd.Series([1, 2]), pd.Series([1, 2])))  # too few to rank


def test_correlations_rank_the_copies_alone_and_skip_whitebox_only_attacks() -> None:
    # transfer rises with agreement, so it falls with weight error; the original and control
    # (0 transfer, extreme values) would break the monotone order if they were counted
    ((title, table),) = correlations(_board([0.2, 0.5, 0.9, 0.95], [0.8, 0.9, 0.97, 0.99]))
    assert "rank correlation" in title
    row = table.iloc[0]
    assert row["copies"] == 4 and row["rho vs agreement"] == "+1.00"
    assert row["rho vs weight rel. L2"] == "-1.00"
    assert row["rho vs bytes"] == "+1.00" and row["rho vs clean accuracy"] == "+1.00"
    assert correlations(_board([0.2, 0.5, 0.9], [0.8, 0.9, 0.97], whitebox_only=True)) == []
    assert correlations(_board([0.2, 0.5], [0.8, 0.9])) == []  # too few copies to rank
    # no transfer rate anywhere (None: nothing both nets got right) is nothing to rank, not an error
    assert correlations(_board([None, None, None], [0.8, 0.9, 0.97])) == []
    partial = _board([None, 0.5, 0.9, 0.95], [0.8, 0.9, 0.97, 0.99]).drop(columns="size_bytes")
    ((_, table),) = correlations(partial)
    assert table.iloc[0]["copies"] == 3 and table.iloc[0]["rho vs bytes"] == "n/a"


def test_every_family_of_a_full_board_gets_its_own_colour_and_marker() -> None:
    families = [f"family-{i}" for i in range(16)]  # a Fashion-MNIST board has 16
    styles = family_styles(reversed(families))
    assert len({tuple(s["color"]) for s in styles.values()}) == 16
    assert styles == family_styles(families)  # the same families, the same styles, in any order
