"""The README's "user-defined target" example works as printed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from innr_bench.config import parse_suite
from innr_bench.registry import MODELS
from innr_bench.runner import Runner


def test_readme_custom_model_example_registers_and_runs(
    repo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readme = (repo_root / "README.md").read_text()
    extending = readme[readme.index("## Extending"):]
    code = re.search(r"```python\n(.*?)```", extending, re.S).group(1)
    monkeypatch.setattr(MODELS, "_entries", dict(MODELS._entries))  # undone after the test
    exec(compile(code, "README.md", "exec"), {})
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

    readme = (repo_root / "README.md").read_text()
    example = re.search(r"```yaml\n(.*?)```", readme[readme.index("## Suites"):], re.S).group(1)
    suite = parse_suite(yaml.safe_load(example), source="README.md")
    assert suite.references and suite.references[0].target == "seed-cnn[c=32]"
    assert next(c for c in suite.compressors if c.name == "deep-compression").targets == ("seed-cnn[c=32]",)
