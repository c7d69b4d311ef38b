from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from innr_bench.cli import main


def test_list_shows_every_kind_with_descriptions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("datasets:", "mnist", "seed-cnn", "innr-siren", "identity", "fgsm"):
        assert name in out
    assert "Untargeted FGSM" in out


def test_list_one_kind(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "models"]) == 0
    out = capsys.readouterr().out
    assert "seed-cnn" in out and "fgsm" not in out


@pytest.mark.parametrize("text", [
    "name: t\nseeds: [0\n",
    "name: t\nseeds: [0]\ndatasets: [{name: synthetic}]\ntargets: [{name: seed-cnn}]\n"
    "compressors: [{name: innr-sirne}]\n",
    "just a string",
])
def test_malformed_suite_exits_2_with_one_line_and_no_traceback(tmp_path: Path, text: str) -> None:
    suite = tmp_path / "bad.yaml"
    suite.write_text(text)
    result = subprocess.run([sys.executable, "-m", "innr_bench.cli", "run", str(suite),
                             "--out", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("innr-bench: error: ") and str(suite) in result.stderr
    assert not (tmp_path / "t").exists()  # nothing was written for a suite that did not validate


def test_report_on_a_non_results_dir_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path)]) == 2
    assert "not a results directory" in capsys.readouterr().err


def test_run_smoke_then_report(repo_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = repo_root / "suites" / "smoke.yaml"
    assert main(["run", str(suite), "--out", str(tmp_path), "--no-progress", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "accuracy vs size" in out and "computed 14 cells, reused 0, failed 0" in out
    boards = tmp_path / "smoke" / "leaderboards"
    for path in boards.iterdir():
        path.unlink()
    assert main(["report", str(tmp_path / "smoke"), "--format", "md", "latex"]) == 0
    assert (boards / "transfer.md").exists() and not (boards / "transfer.html").exists()
    latex = (boards / "accuracy-vs-size.tex").read_text()
    assert "\\toprule" in latex and "\\midrule" in latex and "\\bottomrule" in latex  # booktabs
    assert (boards / "accuracy-vs-bytes-seed-cnn-c-4-synthetic-n-train-512-n-test-256.png").exists()


@pytest.mark.parametrize("argv", [
    ["run", "suites/smoke.yaml", "--device", "tpu"],
    ["report", "results/mnist", "--format", "docx"],
    ["check", "results/mnist", "--baseline", "baselines/ci.json", "--tolerance", "lots"],
    ["check", "results/mnist"],
    ["frobnicate"],
])
def test_bad_command_line_flags_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err


def test_missing_suite_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(tmp_path / "nope.yaml"), "--out", str(tmp_path)]) == 2
    assert "suite file not found" in capsys.readouterr().err
