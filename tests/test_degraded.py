"""Degraded results are named: a diverged fit and a copy at chance accuracy are flagged in the
record, printed, marked in every leaderboard format and kept off the front marks unless asked; a
weight file cast on loading is said too."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from safetensors.torch import save_file
from torch import nn

from innr_bench.cli import main
from innr_bench.engine.degraded import at_chance, cast_on_loading, degradation, fit_problems
from innr_bench.registry import COMPRESSORS, MODELS

DIVERGED = '''
"""A field plugin whose fit diverged: its loss went from 1.0 to 147, and it stores zeros."""
import torch
from innr_bench.compress.base import BaseCompressor, Encoding, named_weights
from innr_bench.registry import COMPRESSORS


@COMPRESSORS.register("diverged", description="a fit that diverged")
class Diverged(BaseCompressor):
    data_free = True

    def encode(self, model, ctx, **options):
        shapes = {name: list(w.shape) for name, w in named_weights(model).items()}
        info = {"history": [[1, 1.0], [150, 12.5], [300, 147.0]], "storage": "one fp32 zero"}
        return Encoding({"zero": torch.zeros(1)}, {"shapes": shapes}, info)

    @staticmethod
    def decode(tensors, meta):
        return {name: torch.zeros(shape) for name, shape in meta["shapes"].items()}
'''


def test_the_rules() -> None:
    assert fit_problems({"history": [[1, 0.9], [300, 0.3]]}) == []
    assert fit_problems({"history": [[1, 1.0], [300, 147.0]]}) == [
        "weight fit diverged: its loss ended at 147, 147.0x its first 1"]
    assert fit_problems({"qat_history": [[1, 0.5], [9, float("nan")]]}) == [
        "QAT refit diverged: its loss ended at nan"]
    assert at_chance(0.105, 0.95, 10, 1000) is not None  # within 3 standard errors of 10 %
    assert at_chance(0.20, 0.95, 10, 1000) is None and at_chance(0.10, 0.10, 10, 1000) is None
    assert at_chance(0.10, 0.95, None, 1000) is None  # classes unknown (records made before)
    # a plugin's own history format, or a record without accuracies, is no reason to fail
    assert fit_problems({"history": [0.5, 0.2], "qat_history": "n/a"}) == []
    assert degradation({"info": {"history": [[1, "x"]]}}) == []
    assert cast_on_loading({"weights_cast": {"torch.float16": ("torch.float32", 4)}}) == (
        "target weights cast on loading: torch.float16 -> torch.float32 (4 tensors)")


@pytest.fixture
def clean_registries(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(COMPRESSORS, "_entries", dict(COMPRESSORS._entries))
    monkeypatch.setattr(MODELS, "_entries", dict(MODELS._entries))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith(("user_diverged", "user_net16")):
            del sys.modules[name]


def _run(tmp_path: Path, *extra: str) -> int:
    return main(["run", str(tmp_path / "suite.yaml"), "--out", str(tmp_path / "out"), "--no-progress",
                 "--device", "cpu", "--reference", "none", *extra])


def test_a_diverged_fit_is_flagged_in_the_record_the_console_and_every_leaderboard_format(
    repo_root: Path, tmp_path: Path, clean_registries: None, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "user_diverged.py").write_text(DIVERGED)
    doc = yaml.safe_load((repo_root / "suites" / "smoke.yaml").read_text())
    doc |= {"seeds": [0], "attacks": [], "plugins": ["user_diverged"],
            "compressors": [{"name": "identity"}, {"name": "quantize", "params": {"bits": 8}},
                            {"name": "diverged"}]}
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(doc))
    assert _run(tmp_path) == 0
    out = capsys.readouterr().out
    results = tmp_path / "out" / "smoke"
    records = [json.loads(p.read_text()) for p in (results / "records").glob("*.json")]
    (bad,) = [r for r in records if r["compressor"]["name"] == "diverged"]
    assert bad["degraded"][0].startswith("weight fit diverged: its loss ended at 147")
    assert bad["degraded"][1].startswith("copy at chance accuracy")
    assert all(r["degraded"] == [] for r in records if r is not bad)
    assert "DEGRADED synthetic" in out and "/ diverged: weight fit diverged" in out
    boards = {p.suffix: p.read_text() for p in (results / "leaderboards").glob("accuracy-vs-size.*")}
    assert set(boards) == {".md", ".csv", ".tex", ".html"}
    assert all("1/1 seeds: weight fit diverged" in text for text in boards.values())
    row = next(line for line in boards[".md"].splitlines() if line.startswith("| diverged"))
    assert "★" not in row  # the fewest bytes, yet off the pareto and front marks

    assert main(["report", str(results), "--front-includes-degraded"]) == 0
    row = next(line for line in (results / "leaderboards" / "accuracy-vs-size.md").read_text().splitlines()
               if line.startswith("| diverged"))
    assert "★" in row  # asked for: its bytes put it on the pareto front


def test_a_weight_file_cast_on_loading_is_said(tmp_path: Path, clean_registries: None,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "user_net16.py").write_text(
        "from torch import nn\n\ndef build():\n    return nn.Sequential(nn.Flatten(), nn.Linear(784, 10))\n")
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    save_file({k: v.half() for k, v in net.state_dict().items()}, str(tmp_path / "net16.safetensors"))
    data = {"name": "synthetic", "params": {"n_train": 64, "n_test": 32}}
    doc = {"name": "half", "seeds": [0], "datasets": [data],
           "targets": [{"name": "user_net16:build", "weights": "net16.safetensors"}],
           "compressors": [{"name": "identity"}]}
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(doc))
    assert _run(tmp_path) == 0
    captured = capsys.readouterr()
    said = "target weights cast on loading: torch.float16 -> torch.float32 (2 tensors)"
    assert f"WARNING: {said}" in captured.out + captured.err
    (record,) = [json.loads(p.read_text()) for p in (tmp_path / "out" / "half" / "records").glob("*.json")]
    assert record["degraded"] == [said]
