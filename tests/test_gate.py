from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from innr_bench.cli import main
from innr_bench.config import parse_suite
from innr_bench.engine.runner import Runner


@pytest.fixture(scope="module")
def smoke_results(repo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    doc = yaml.safe_load((repo_root / "suites" / "smoke.yaml").read_text())
    doc["compressors"] = doc["compressors"][:3]
    out = tmp_path_factory.mktemp("gate")
    Runner(parse_suite(doc), out_dir=out, device="cpu").run()
    return out / "smoke"


def test_a_fresh_baseline_passes_and_a_raised_one_fails_with_a_table(
    smoke_results: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = tmp_path / "baseline.json"
    assert main(["baseline", str(smoke_results), "-o", str(baseline)]) == 0
    stored = json.loads(baseline.read_text())
    assert stored["suite"] == "smoke" and stored["provenance"]["git_commit"] is not None
    assert main(["check", str(smoke_results), "--baseline", str(baseline), "--tolerance", "0.5pt"]) == 0
    assert "0 regressed or missing" in capsys.readouterr().out

    entry = next(e for e in stored["entries"] if e["method"] == "ptq-int4")
    entry["accuracy_mean"] += 0.10  # the baseline was 10 points better: a real regression
    entry["per_seed"] = {seed: value + 0.10 for seed, value in entry["per_seed"].items()}
    stored["entries"].append({**entry, "method": "gone"})
    baseline.write_text(json.dumps(stored))
    assert main(["check", str(smoke_results), "--baseline", str(baseline)]) == 1
    out = capsys.readouterr().out
    rows = {line.split("|")[3].strip(): line for line in out.splitlines() if line.startswith("| synthetic")}
    assert "REGRESSION" in rows["ptq-int4"] and "MISSING" in rows["gone"] and "ok" in rows["identity"]
    assert "2 regressed or missing" in out


def test_same_environment_is_paired_and_another_pairs_seeds_across_environments(
    smoke_results: Path, tmp_path: Path
) -> None:
    import dataclasses

    from innr_bench.reporting.gate import check, load_baseline, write_baseline

    baseline = write_baseline(smoke_results, tmp_path / "b.json")
    paired = check(smoke_results, baseline, 0.5).set_index("method")
    assert set(paired["mode"]) == {"paired"} and set(paired["allowed pt"]) == {0.5}
    elsewhere = dataclasses.replace(baseline, entries=[  # as if recorded on another machine
        dataclasses.replace(e, environment={**e.environment, "device_name": "another CPU"})
        for e in baseline.entries])
    table = check(smoke_results, elsewhere, 0.5).set_index("method")
    # the same values on both sides: no noise measured, so the tolerance alone
    assert set(table["mode"]) == {"cross-env"} and set(table["allowed pt"]) == {0.5}
    assert set(table["status"]) == {"ok"}
    assert load_baseline(tmp_path / "b.json") == baseline


def test_a_planted_one_point_regression_fails_a_baseline_from_another_machine(
    smoke_results: Path, tmp_path: Path
) -> None:
    """A baseline recorded elsewhere (device name and platform changed), values otherwise equal
    to the run's: raising one compressor's per-seed values by 1 point fails the gate; the same
    baseline without the plant passes."""
    import dataclasses

    from innr_bench.reporting.gate import check, write_baseline

    baseline = write_baseline(smoke_results, tmp_path / "b.json")
    elsewhere = dataclasses.replace(baseline, provenance={**baseline.provenance, "platform": "another OS"},
                                    entries=[dataclasses.replace(
                                        e, environment={**e.environment, "device_name": "another CPU"})
                                        for e in baseline.entries])
    assert set(check(smoke_results, elsewhere, 0.5)["status"]) == {"ok"}
    planted = dataclasses.replace(elsewhere, entries=[
        dataclasses.replace(e, accuracy_mean=e.accuracy_mean + 0.01,
                            per_seed={s: v + 0.01 for s, v in e.per_seed.items()})
        if e.method == "ptq-int4" else e for e in elsewhere.entries])
    table = check(smoke_results, planted, 0.5).set_index("method")
    assert table.loc["ptq-int4", "status"] == "REGRESSION" and table.loc["ptq-int4", "mode"] == "cross-env"
    assert table.loc["ptq-int4", "Δ pt"] == pytest.approx(-1.0)
    assert set(table.drop(index="ptq-int4")["status"]) == {"ok"}


@pytest.mark.parametrize(("content", "message"), [
    (None, "baseline file not found"),
    ("{not json", "not a readable JSON baseline"),
    ('{"suite": "s", "provenance": {}, "entries": [{"data": "d"}]}', r"entries\[0\]\.target: required"),
    ('{"suite": "s", "provenance": {}, "entries": [], "extra": 1}', r"extra: 1 is invalid \(unknown key\)"),
])
def test_bad_baselines_and_results_dirs_exit_2_with_one_line(
    smoke_results: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None,
    message: str,
) -> None:
    path = tmp_path / "baseline.json"
    if content is not None:
        path.write_text(content)
    assert main(["check", str(smoke_results), "--baseline", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("innr-bench: error: ") and re.search(message, err)


def test_bad_tolerance_and_results_dir_exit_2(smoke_results: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["check", str(smoke_results), "--baseline", "b.json", "--tolerance", "-1pt"])
    assert exit_info.value.code == 2
    assert main(["compare", str(tmp_path), str(smoke_results)]) == 2
    assert "not a results directory" in capsys.readouterr().err


def test_compare_reports_every_cell_of_two_identical_result_sets_as_within_tolerance(
    smoke_results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compare", str(smoke_results), str(smoke_results)]) == 0
    out = capsys.readouterr().out
    assert "8 of 8 cells within tolerance" in out and "paired" in out and "ptq-int4" in out


def test_a_grown_size_is_a_regression_even_at_equal_accuracy(smoke_results: Path, tmp_path: Path) -> None:
    import dataclasses

    from innr_bench.reporting.gate import check, write_baseline

    baseline = write_baseline(smoke_results, tmp_path / "b.json")
    assert set(check(smoke_results, baseline, 0.5)["status"]) == {"ok"}
    smaller = dataclasses.replace(baseline, entries=[
        dataclasses.replace(e, size_bytes=e.size_bytes - 1) if e.method == "ptq-int4" else e
        for e in baseline.entries])
    table = check(smoke_results, smaller, 0.5).set_index("method")
    assert table.loc["ptq-int4", "status"] == "REGRESSION"  # one byte more than the baseline
    assert table.loc["ptq-int4", "Δ pt"] == 0.0
    assert table.loc["identity", "status"] == "ok"
