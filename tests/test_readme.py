"""The README and the docs pages: their examples work as printed, and the README stays short."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from innr_bench.config import parse_suite
from innr_bench.engine.runner import Runner
from innr_bench.registry import MODELS


def test_readme_custom_model_example_registers_and_runs(
    repo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    extending = (repo_root / "docs" / "extending.md").read_text()
    code = re.search(r"```python\n(.*?)```", extending, re.S).group(1)
    monkeypatch.setattr(MODELS, "_entries", dict(MODELS._entries))  # undone after the test
    exec(compile(code, "docs/extending.md", "exec"), {})
    name = re.search(r'@MODELS\.register\("([^"]+)"\)', code).group(1)
    assert MODELS.get(name)()(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    suite = parse_suite({
        "name": "custom", "seeds": [0], "datasets": [{"name": "synthetic", "params": {"n_train": 128}}],
        "targets": [{"name": name, "train": {"lr": 0.01, "batch_size": 64, "epochs": 2}}],
        "compressors": [{"name": "identity"}, {"name": "quantize", "params": {"bits": 8}}],
    })
    summary = Runner(suite, out_dir=tmp_path, device="cpu").run()
    assert summary.failed == [] and summary.computed == 2


def test_readme_suite_example_is_a_valid_suite(repo_root: Path) -> None:
    import yaml

    page = (repo_root / "docs" / "suites.md").read_text()
    example = re.search(r"```yaml\n(.*?)```", page, re.S).group(1)
    suite = parse_suite(yaml.safe_load(example), source="docs/suites.md")
    assert suite.references and suite.references[0].target == "seed-cnn[c=32]"
    assert next(c for c in suite.compressors if c.name == "deep-compression").targets == ("seed-cnn[c=32]",)


def test_readme_plugin_field_is_short_and_runs_end_to_end(
    repo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's own field, under 40 lines, as a plugin module beside a suite: registered,
    budgeted, fitted, stored, decoded and on the board, with no edit to innr-bench."""
    import json
    import sys

    import yaml

    from innr_bench.cli import main
    from innr_bench.conformance import check_field
    from innr_bench.registry import FIELDS

    page = (repo_root / "docs" / "innr-parts.md").read_text()
    section = page[page.index("### A field of your own"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) < 40
    (tmp_path / "my_fields.py").write_text(code)
    monkeypatch.setattr(FIELDS, "_entries", dict(FIELDS._entries))  # undone after the test
    monkeypatch.delitem(sys.modules, "my_fields", raising=False)
    doc = {"name": "plugin-field", "seeds": [0], "plugins": ["my_fields"],
           "datasets": [{"name": "synthetic", "params": {"n_train": 128, "n_test": 64}}],
           "targets": [{"name": "seed-cnn", "params": {"c": 4}, "train": {"lr": 0.01, "batch_size": 64,
                                                                          "epochs": 1}}],
           "compressors": [{"name": "innr", "label": "relu-mlp",
                            "params": {"field": {"name": "relu-mlp", "depth": 2}, "ratio": 0.3,
                                       "fit": [{"name": "weights", "epochs": 30}]}}]}
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(doc))
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "suite.yaml"), "--out", str(out), "--no-progress", "--device", "cpu",
                 "--reference", "none"]) == 0
    records = [json.loads(p.read_text()) for p in (out / "plugin-field" / "records").glob("*.json")]
    (record,) = records
    assert record["status"] == "ok" and record["compressor"]["spec"]["field"]["name"] == "relu-mlp"
    assert record["ratio"] <= 0.3 and record["info"]["budget"]["width"] > 0
    check_field("relu-mlp")


def test_readme_python_api_example_runs_as_printed(repo_root: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's "From Python" example, executed in a scratch directory."""
    page = (repo_root / "docs" / "own-network.md").read_text()
    section = page[page.index("**From Python**"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "docs/own-network.md", "exec"), namespace)
    board = namespace["board"]
    assert set(board.accuracy_vs_size["method"]) == {"identity", "ptq", "innr"}
    assert not board.inheritance.empty and (tmp_path / "runs" / "my-net" / "manifest.json").is_file()
    assert namespace["small"].ratio <= 0.13


def test_the_readme_is_short_and_starts_with_the_two_commands(repo_root: Path) -> None:
    readme = (repo_root / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    commands = re.search(r"```bash\n(.*?)```", readme, re.S).group(1).strip().splitlines()
    codec = "pip install --no-deps nncodec==2.1.3"  # the [nnc] extra's codec (its numpy<2 pin)
    assert commands == [f'pip install -e ".[attacks,nnc]" && {codec} && innr-bench run suites/mnist.yaml',
                        f'pip install -e ".[attacks,ray,dev,nnc]" && {codec} && pytest']
    ci = (repo_root / ".ci" / "run").read_text()
    assert 'pip install --quiet -e ".[attacks,ray,dev,nnc]"' in ci and "--no-deps nncodec==2.1.3" in ci
    assert readme.index("```bash") < readme.index("\n## ")


def test_the_readme_suite_is_a_valid_suite(repo_root: Path) -> None:
    import yaml

    readme = (repo_root / "README.md").read_text()
    example = re.search(r"```yaml\n(.*?)```", readme[readme.index("## What it is"):], re.S).group(1)
    suite = parse_suite(yaml.safe_load(example), source="README.md")
    assert {c.name for c in suite.compressors} == {"quantize", "innr-siren", "innr"}


def test_every_local_link_of_the_readme_exists(repo_root: Path) -> None:
    readme = (repo_root / "README.md").read_text()
    links = [t for t in re.findall(r"\]\(([^)\s]+)\)", readme) if "://" not in t and not t.startswith("#")]
    assert links and [t for t in links if not (repo_root / t).exists()] == []
