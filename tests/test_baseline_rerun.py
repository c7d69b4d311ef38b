"""`check --rerun-baseline`: the baseline's commit checked out in a git worktree and its suite run
here, so the gate pairs every seed in one environment whatever machine recorded the baseline."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

import innr_bench
from innr_bench.cli import main
from innr_bench.config import load_suite
from innr_bench.engine.cache import TensorCache
from innr_bench.engine.runner import Runner
from innr_bench.errors import ConfigError
from innr_bench.reporting.baseline_rerun import environments_differ, rerun
from innr_bench.reporting.gate import Baseline, check, environments, write_baseline

TINY = {
    "name": "tiny", "seeds": [0, 1], "device": "cpu",
    "datasets": [{"name": "synthetic", "params": {"n_train": 256, "n_test": 128}}],
    "targets": [{"name": "seed-cnn", "params": {"c": 4},
                 "train": {"lr": 0.01, "batch_size": 64, "epochs": 2}}],
    "compressors": [{"name": "identity"}, {"name": "quantize", "params": {"bits": 4}, "label": "ptq-int4"}],
}


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A git repository holding this innr_bench and a tiny suite, committed once."""
    root = tmp_path_factory.mktemp("repo")
    shutil.copytree(Path(innr_bench.__file__).parent, root / "innr_bench",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (root / "suites").mkdir()
    (root / "suites" / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "tiny")
    return root, _git(root, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def results(repo: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("results")
    suite = load_suite(repo[0] / "suites" / "tiny.yaml")
    Runner(suite, out_dir=out, device="cpu", cache=TensorCache(out / "cache")).run()
    return out / "tiny"


def _recorded_elsewhere(results: Path, commit: str, path: Path, plant: float = 0.0) -> Baseline:
    """The run's own summary as a baseline from another machine at `commit`, ptq-int4's
    per-seed values raised by `plant` (a fraction)."""
    baseline = write_baseline(results, path)
    entries = [dataclasses.replace(
        e, environment={**e.environment, "device_name": "another CPU"},
        per_seed={s: v + (plant if e.method == "ptq-int4" else 0.0) for s, v in e.per_seed.items()})
        for e in baseline.entries]
    return dataclasses.replace(baseline, entries=entries,
                               provenance={**baseline.provenance, "git_commit": commit,
                                           "suite_file": "suites/tiny.yaml"})


def test_the_baselines_commit_rerun_here_pairs_every_seed_in_one_environment(
    repo: tuple[Path, str], results: Path, tmp_path: Path
) -> None:
    root, commit = repo
    planted = _recorded_elsewhere(results, commit, tmp_path / "b.json", plant=0.01)
    assert environments_differ(planted, environments(results))
    # judged on its recorded values, the plant is a regression across environments
    assert check(results, planted, 0.5).set_index("method").loc["ptq-int4", "status"] == "REGRESSION"
    # rerun at its commit here: the same code in the same environment gives the same values
    here = rerun(planted, tmp_path / "b.json", repo=root, work=tmp_path / "work")
    assert not environments_differ(here, environments(results))
    table = check(results, here, 0.5)
    assert set(table["mode"]) == {"paired"} and set(table["status"]) == {"ok"}
    assert set(table["Δ pt"]) == {0.0}
    assert _git(root, "worktree", "list").count("\n") == 0  # the worktree is gone afterwards


@pytest.mark.parametrize(("commit", "message"), [
    ("", "provenance.git_commit is 'missing'"),
    ("abc123+dirty", "cannot be checked out; re-record the baseline from committed code"),
    ("0" * 40, "is not in this clone"),
])
def test_a_baseline_that_cannot_be_rerun_is_one_clear_error(
    repo: tuple[Path, str], results: Path, tmp_path: Path, commit: str, message: str
) -> None:
    baseline = _recorded_elsewhere(results, commit, tmp_path / "b.json")
    with pytest.raises(ConfigError, match=message):
        rerun(baseline, tmp_path / "b.json", repo=repo[0], work=tmp_path / "work")


def test_the_cli_reruns_only_when_environments_differ_and_exits_2_when_it_cannot(
    results: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    path = tmp_path / "b.json"
    write_baseline(results, path)
    assert main(["check", str(results), "--baseline", str(path), "--rerun-baseline", "auto"]) == 0
    assert "recorded in this environment; checking against its values" in capsys.readouterr().out
    stored = json.loads(path.read_text())
    stored["provenance"]["git_commit"] = "0" * 40  # a commit no clone has
    for entry in stored["entries"]:
        entry["environment"]["device_name"] = "another CPU"
    path.write_text(json.dumps(stored))
    assert main(["check", str(results), "--baseline", str(path), "--rerun-baseline", "auto"]) == 2
    assert "is not in this clone" in capsys.readouterr().err
