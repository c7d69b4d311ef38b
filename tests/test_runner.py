from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from innr_bench.config import load_suite, parse_suite
from innr_bench.engine.env import resolve_device
from innr_bench.engine.records import SCHEMA_VERSION, unpack_correct
from innr_bench.engine.runner import Runner
from innr_bench.errors import ConfigError
from innr_bench.reporting.board import write_leaderboards


@pytest.fixture
def smoke(repo_root: Path):
    return load_suite(repo_root / "suites" / "smoke.yaml")


def test_smoke_suite_end_to_end_then_resume_recomputes_nothing(smoke, tmp_path: Path,
                                                               freed_memory_expected: bool) -> None:
    first = Runner(smoke, out_dir=tmp_path, device="cpu").run()
    n_cells = len(smoke.seeds) * (len(smoke.compressors) + len(smoke.attacks))
    assert (first.computed, first.skipped, first.failed) == (n_cells, 0, [])

    root = tmp_path / "smoke"
    records = [json.loads(p.read_text()) for p in (root / "records").glob("*.json")]
    assert len(records) == n_cells and all(r["status"] == "ok" for r in records)
    innr = [r for r in records if r.get("compressor", {}).get("name") == "innr-siren"]
    # fp32 INNR weights + one fp32 mean/std pair per target tensor (3 in the seed CNN)
    assert innr and all(r["size_bytes"] == 2 * r["info"]["innr_parameters"] + 3 * 8 for r in innr)  # fp16
    for record in (r for r in records if r["kind"] == "compressor"):  # which inputs it got right
        correct = unpack_correct(record["correct"]["bits"], record["correct"]["n"])
        assert record["correct"]["n"] == 256 and correct.mean() == pytest.approx(record["accuracy"])
        assert record["schema_version"] == SCHEMA_VERSION
    attacks = [r for r in records if r["kind"] == "attack"]
    assert len(attacks) == len(smoke.seeds)
    for attack in attacks:  # prune*: transfer false; control: the other seed's target
        assert attack["nets"] == ["original", "innr-siren-small", "ptq-int4", "control"]
        assert attack["control"]["seed"] == 1 - attack["seed"]
        assert {row["eps"] for row in attack["transfer"]} == {0.0, 0.05, 0.1}
        for row in attack["transfer"]:
            if row["source"] == row["evaluated"] and row["relative_transfer"] is not None:
                assert row["relative_transfer"] == pytest.approx(1.0)

    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["datasets"]["synthetic[n_train=512,n_test=256]"]["source"] == "synthetic"
    assert manifest["environment"]["packages"]["torch"]
    assert manifest["runs"][-1]["computed"] == n_cells
    # each record says whether its process kept freed memory (its fit seconds depend on it)
    assert {r["worker"]["freed_memory_kept"] for r in records} == {freed_memory_expected}

    written = write_leaderboards(root)
    for name in ("accuracy-vs-size", "transfer"):
        for fmt in ("md", "csv", "tex", "html"):
            assert written[f"{name}.{fmt}"].stat().st_size > 0
    size_md = written["accuracy-vs-size.md"].read_text()
    assert "synthetic" in size_md and "innr-siren-small" in size_md and "± " in size_md
    for seed in smoke.seeds:  # each seed on its own: a dict over all records keeps one seed only
        by_label = {r["compressor"]["label"]: r for r in records
                    if r["kind"] == "compressor" and r["seed"] == seed}
        assert by_label["prune-ft"]["data_free"] is False and by_label["prune[sparsity=0.5]"]["data_free"]
        assert by_label["prune-ft"]["accuracy"] > by_label["prune[sparsity=0.9]"]["accuracy"]
    plots = [p for p in written.values() if p.suffix in (".png", ".svg")]
    names = sorted(p.stem.split("-seed-cnn")[0] for p in plots if p.suffix == ".png")
    assert names == ["accuracy-vs-bytes", "accuracy-vs-eps-fgsm", "inheritance-fgsm",
                     "transfer-accuracy-fgsm", "transfer-transfer-rate-fgsm"]
    assert len(plots) == 10 and all(p.stat().st_size > 1000 for p in plots)

    second = Runner(smoke, out_dir=tmp_path, device="cpu").run()
    assert (second.computed, second.skipped) == (0, n_cells)
    assert dict(second.stage_seconds).keys() <= {"data"}  # nothing trained, compressed or attacked


def test_force_recomputes_and_gives_identical_numbers(repo_root: Path, tmp_path: Path) -> None:
    doc = yaml.safe_load((repo_root / "suites" / "smoke.yaml").read_text()) | {"seeds": [0]}
    suite = parse_suite(doc)
    Runner(suite, out_dir=tmp_path, device="cpu").run()
    before = {p.name: json.loads(p.read_text()) for p in (tmp_path / "smoke/records").glob("*.json")}
    again = Runner(suite, out_dir=tmp_path, device="cpu", force=True).run()
    assert again.computed == len(before)
    after = {p.name: json.loads(p.read_text()) for p in (tmp_path / "smoke/records").glob("*.json")}
    for key, record in before.items():
        for field in ("accuracy", "size_bytes", "transfer"):
            assert record.get(field) == after[key].get(field)


def test_a_failing_cell_is_recorded_and_the_others_go_on(smoke, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from innr_bench.compress.innr import stages

    def diverge(*args, **kwargs):
        raise FloatingPointError("fit INNR diverged at step 1 (mse nan)")

    monkeypatch.setattr(stages.WeightFit, "run", diverge)
    summary = Runner(smoke, out_dir=tmp_path, device="cpu").run()
    failed = summary.failed
    assert failed and all("diverged" in r["error"] for r in failed)
    statuses = [json.loads(p.read_text())["status"] for p in (tmp_path / "smoke/records").glob("*.json")]
    assert statuses.count("ok") >= len(smoke.seeds)  # identity cells still finished


def test_cuda_without_cuda_is_a_config_error() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(ConfigError, match="CUDA is not available"):
        resolve_device("cuda")


def test_reports_show_only_the_current_suite_configuration(repo_root: Path, tmp_path: Path) -> None:
    doc = yaml.safe_load((repo_root / "suites" / "smoke.yaml").read_text()) | {"seeds": [0]}
    Runner(parse_suite(doc), out_dir=tmp_path, device="cpu").run()
    doc["attacks"][0]["label"] = "fgsm-renamed"
    Runner(parse_suite(doc), out_dir=tmp_path, device="cpu").run()
    root = tmp_path / "smoke"
    n_compressors = len(doc["compressors"]) + 1  # the prune grid has two settings
    assert len(list((root / "records").glob("*.json"))) == n_compressors + 2  # + old attack record
    transfer_md = write_leaderboards(root)["transfer.md"].read_text()
    assert "under fgsm-renamed (256 test inputs) vs eps" in transfer_md and "under fgsm (" not in transfer_md


def test_numerics_options_are_recorded_and_ignored_on_the_cpu(repo_root: Path, tmp_path: Path) -> None:
    doc = yaml.safe_load((repo_root / "suites" / "smoke.yaml").read_text()) | {"seeds": [0]}
    doc["compressors"] = doc["compressors"][:2]
    plain = Runner(parse_suite(doc), out_dir=tmp_path / "a", device="cpu").run()
    reduced = Runner(parse_suite(doc | {"numerics": {"tf32": True, "amp": True, "deterministic": True}}),
                     out_dir=tmp_path / "b", device="cpu").run()
    assert reduced.failed == [] and plain.failed == []
    records = {p.name: json.loads(p.read_text()) for p in (tmp_path / "b" / "smoke" / "records").glob("*")}
    assert records.keys() == {p.name for p in (tmp_path / "a" / "smoke" / "records").glob("*")}
    for record in records.values():
        assert record["numerics"] == {"tf32": False, "amp": False,
                                      "requested": {"tf32": True, "amp": True, "deterministic": True}}
        assert record["worker"]["deterministic"] is True  # the CPU's kernels: a rerun gives these digits
    with pytest.raises(ConfigError, match=r"numerics\.amp: 'sometimes' is invalid"):
        parse_suite(doc | {"numerics": {"amp": "sometimes"}})


def test_an_attack_limit_attacks_only_the_first_inputs(repo_root: Path, tmp_path: Path) -> None:
    doc = yaml.safe_load((repo_root / "suites" / "smoke.yaml").read_text()) | {"seeds": [0]}
    doc["compressors"] = doc["compressors"][:2]
    doc["attacks"] = [doc["attacks"][0],
                      {"name": "pgd", "label": "pgd", "limit": 40, "params": {"eps": [0.0, 0.1], "steps": 3}}]
    Runner(parse_suite(doc), out_dir=tmp_path, device="cpu").run()
    records = [json.loads(p.read_text()) for p in (tmp_path / "smoke" / "records").glob("*.json")]
    attacked = {r["attack"]["label"]: r["n_attacked"] for r in records if r["kind"] == "attack"}
    assert attacked == {"fgsm": 256, "pgd": 40}
    with pytest.raises(ConfigError, match=r"attacks\[1\]\.limit: 0 is invalid"):
        parse_suite(doc | {"attacks": [doc["attacks"][0], {**doc["attacks"][1], "limit": 0}]})


def test_compressors_restricted_to_targets_and_published_references(tmp_path: Path) -> None:
    """`targets` limits a compressor to some targets (its label may serve each with its own
    params); `references` appear as their own table and plot marks, never as measured rows."""
    doc = {
        "name": "refs", "seeds": [0],
        "datasets": [{"name": "synthetic", "params": {"n_train": 128, "n_test": 64}}],
        "targets": [{"name": "seed-cnn", "params": {"c": c}, "train": {"epochs": 1}} for c in (2, 4)],
        "compressors": [
            {"name": "identity"},
            {"name": "kmeans", "label": "km", "params": {"bits": 2}, "targets": ["seed-cnn[c=2]"]},
            {"name": "kmeans", "label": "km", "params": {"bits": 3}, "targets": ["seed-cnn[c=4]"]},
            {"name": "quantize", "label": "ptq", "params": {"bits": 4}, "targets": ["seed-cnn[c=4]"]},
        ],
        "attacks": [{"name": "fgsm", "params": {"eps": [0.0, 0.1]}}],
        "references": [{"label": "Someone 2020", "target": "seed-cnn[c=4]", "method": "their-method",
                        "accuracy": 42.5, "bytes": 1234, "note": "their Table 9"}],
    }
    summary = Runner(parse_suite(doc), out_dir=tmp_path, device="cpu").run()
    assert summary.computed == 1 + 2 + 2 + 2 and not summary.failed  # identity x2, km x2, ptq x1, fgsm x2
    records = [json.loads(p.read_text()) for p in (tmp_path / "refs" / "records").glob("*.json")]
    cells = {(r["target"]["label"], r["compressor"]["label"], r["compressor"]["params"]["bits"])
             for r in records if r["kind"] == "compressor" and r["compressor"]["name"] != "identity"}
    assert cells == {("seed-cnn[c=2]", "km", 2), ("seed-cnn[c=4]", "km", 3), ("seed-cnn[c=4]", "ptq", 4)}
    nets = {r["target"]["label"]: r["nets"] for r in records if r["kind"] == "attack"}
    assert nets == {"seed-cnn[c=2]": ["original", "km", "control"],
                    "seed-cnn[c=4]": ["original", "km", "ptq", "control"]}
    written = write_leaderboards(tmp_path / "refs")
    board = written["accuracy-vs-size.md"].read_text()
    published = board.split("### published references for seed-cnn[c=4] (not measured here)")[1]
    assert "| Someone 2020 " in published and "| their-method " in published and "42.50" in published
    assert "published references for seed-cnn[c=2]" not in board
    measured = board.split("### published references")[0]
    assert "their-method" not in measured  # never mixed with measured rows
    assert "their-method" not in written["accuracy-vs-size.csv"].read_text()
    assert "accuracy-vs-bytes-seed-cnn-c-4-synthetic-n-train-128-n-test-64.png" in written
