"""An INNR part from outside the package is one decorated class: a new fitting stage, and a
field without a linear head, each registered by a user's module a suite names and run in a
tiny suite, with no edit to innr-bench (the preset's head solve is dropped for the head-less
field; a suite that asks for it is told why not)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from innr_bench import plugins
from innr_bench.cli import main
from innr_bench.config import load_suite
from innr_bench.errors import ConfigError
from innr_bench.registry import FIELDS, STAGES

PARTS = '''
"""A user's INNR parts: a stage that nudges the field towards the weights by plain SGD, and a
field that is an MLP with no features/head split."""
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from innr_bench.compress.innr.stages import Around, Stage
from innr_bench.errors import ConfigError
from innr_bench.registry import FIELDS, STAGES


@STAGES.register("sgd-nudge")
@dataclass(frozen=True, kw_only=True)
class SgdNudge(Stage):
    steps: int = 5
    lr: float = 0.01

    @classmethod
    def check(cls, stage: dict[str, Any], around: Around) -> None:
        if not around.before:
            raise ConfigError(f"{around.path('steps')}: sgd-nudge refines a fit; put a stage before it")

    def describe(self) -> str:
        return f"SGD {self.steps} steps"

    def run(self, state: Any) -> dict[str, Any]:
        field = state.field
        x = state.queries.coords
        y = state.queries.values.reshape(len(x), -1)
        optimizer = torch.optim.SGD(field.parameters(), lr=self.lr)
        for _ in range(self.steps):
            loss = nn.functional.mse_loss(field(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return {"nudge_mse": float(loss.detach())}


@FIELDS.register("plain-mlp", size="width")
class PlainMlp(nn.Module):
    def __init__(self, *, dim_in: int, dim_out: int, width: int = 16, depth: int = 2) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(depth):
            layers += [nn.Linear(dim_in if i == 0 else width, width), nn.Tanh()]
        self.net = nn.Sequential(*layers, nn.Linear(width, dim_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
'''


@pytest.fixture
def user_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The user's module beside the suite; the registries restored afterwards."""
    for registry in (FIELDS, STAGES):
        monkeypatch.setattr(registry, "_entries", dict(registry._entries))
    monkeypatch.setattr(plugins, "_loaded_installed", False)
    (tmp_path / "user_plugin_parts.py").write_text(PARTS)
    yield tmp_path
    sys.modules.pop("user_plugin_parts", None)


def suite_file(repo_root: Path, directory: Path, params: dict[str, Any]) -> Path:
    doc = yaml.safe_load((repo_root / "suites" / "smoke.yaml").read_text())
    doc |= {"seeds": [0], "attacks": [], "plugins": ["user_plugin_parts"],
            "compressors": [{"name": "innr", "label": "mine", "params": params}]}
    path = directory / "suite.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def run(path: Path, out: Path) -> list[dict[str, Any]]:
    assert main(["run", str(path), "--out", str(out), "--no-progress", "--device", "cpu",
                 "--reference", "none"]) == 0
    return [json.loads(p.read_text()) for p in (out / "smoke" / "records").glob("*.json")]


def test_a_users_stage_runs_after_the_weight_fit(repo_root: Path, user_parts: Path) -> None:
    path = suite_file(repo_root, user_parts, {
        "preset": "fast", "field": {"name": "siren", "width": 16},
        "fit": [{"name": "weights", "epochs": 20}, {"name": "sgd-nudge", "steps": 3}]})
    [record] = run(path, user_parts / "out")
    assert record["status"] == "ok" and "nudge_mse" in record["info"]
    assert "SGD 3 steps" in record["info"]["storage"]
    with pytest.raises(ConfigError, match=r"fit\[0\]\.steps: sgd-nudge refines a fit"):
        load_suite(suite_file(repo_root, user_parts, {"fit": [{"name": "sgd-nudge"}], "ratio": 0.3}))


def test_a_users_field_without_a_head_fits_under_a_preset_that_solves_one(repo_root: Path,
                                                                          user_parts: Path) -> None:
    path = suite_file(repo_root, user_parts, {"preset": "fast", "field": {"name": "plain-mlp"}, "ratio": 0.3})
    suite = load_suite(path)
    assert suite.compressors[0].spec["fit"][0]["solve_every"] is None  # the preset's solve dropped
    [record] = run(path, user_parts / "out")
    assert record["status"] == "ok" and record["info"]["budget"]["width"] >= 1
    asked = {"preset": "fast", "field": {"name": "plain-mlp"}, "ratio": 0.3,
             "fit": [{"name": "weights", "epochs": 20, "solve_every": 5}]}
    with pytest.raises(ConfigError, match=r"fit\[0\]\.solve_every: field 'plain-mlp' has no linear head"):
        load_suite(suite_file(repo_root, user_parts, asked))


def test_a_field_built_by_a_function_is_asked_for_its_head(monkeypatch: pytest.MonkeyPatch) -> None:
    """A field registered as a factory function: its class is not known, so one is built to ask."""
    from innr_bench.compress.innr.fields.base import declares_head
    from innr_bench.compress.innr.fields.siren import Siren

    monkeypatch.setattr(FIELDS, "_entries", dict(FIELDS._entries))
    FIELDS.register("siren-by-function", size="width")(lambda *, dim_in, dim_out, width=8: Siren(
        dim_in=dim_in, dim_out=dim_out, width=width, depth=2))
    FIELDS.register("mlp-by-function", size="width")(lambda *, dim_in, dim_out, width=8: torch.nn.Linear(
        dim_in, dim_out))
    assert declares_head("siren-by-function") and not declares_head("mlp-by-function")
