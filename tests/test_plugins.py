"""A user's own components load without editing innr-bench: a suite's `plugins`, `--plugin`,
and installed packages declaring an `innr_bench.plugins` entry point."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from innr_bench import plugins
from innr_bench.cli import main
from innr_bench.config import load_suite
from innr_bench.errors import ConfigError
from innr_bench.registry import COMPRESSORS

PLUGIN = '''
"""A user's compressor: 8-bit quantization under another name."""
from innr_bench.registry import COMPRESSORS
from innr_bench.compress.quantize import Quantize


@COMPRESSORS.register("{name}", description="a plugin's compressor")
class Mine(Quantize):
    def __init__(self) -> None:
        super().__init__(bits=8)
'''


@pytest.fixture
def clean_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Plugins register into the real registry; each test starts from the built-ins."""
    monkeypatch.setattr(COMPRESSORS, "_entries", dict(COMPRESSORS._entries))
    monkeypatch.setattr(plugins, "_loaded_installed", False)
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith("user_plugin"):
            del sys.modules[name]


def _suite(repo_root: Path, directory: Path, compressor: str, **extra: object) -> Path:
    doc = yaml.safe_load((repo_root / "suites" / "smoke.yaml").read_text())
    doc["seeds"], doc["attacks"] = [0], []
    doc["compressors"] = [{"name": compressor, "label": "mine"}]
    path = directory / "suite.yaml"
    path.write_text(yaml.safe_dump({**doc, **extra}))
    return path


def test_a_suite_names_a_module_beside_it(repo_root: Path, tmp_path: Path, clean_registry: None) -> None:
    (tmp_path / "user_plugin_a.py").write_text(PLUGIN.format(name="mine-a"))
    suite = load_suite(_suite(repo_root, tmp_path, "mine-a", plugins=["user_plugin_a"]))
    assert suite.plugins == ("user_plugin_a",) and suite.compressors[0].name == "mine-a"
    assert main(["run", str(tmp_path / "suite.yaml"), "--out", str(tmp_path / "out"), "--no-progress",
                 "--device", "cpu", "--reference", "none"]) == 0
    record = json.loads(next((tmp_path / "out" / "smoke" / "records").glob("*.json")).read_text())
    assert record["compressor"]["name"] == "mine-a" and record["status"] == "ok"


def test_the_plugin_flag_imports_a_module(repo_root: Path, tmp_path: Path, clean_registry: None,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "user_plugin_b.py").write_text(PLUGIN.format(name="mine-b"))
    path = _suite(repo_root, tmp_path, "mine-b")
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--no-progress", "--device", "cpu",
                 "--reference", "none"]) == 2  # unknown without the plugin
    assert "mine-b" in capsys.readouterr().err
    assert main(["run", str(path), "--plugin", "user_plugin_b", "--out", str(tmp_path / "out"),
                 "--no-progress", "--device", "cpu", "--reference", "none"]) == 0


def test_an_installed_entry_point_registers_its_components(
    tmp_path: Path, clean_registry: None, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A distribution as pip leaves it on sys.path: the module and its .dist-info metadata."""
    site = tmp_path / "site"
    (site / "user_plugin_c").mkdir(parents=True)
    (site / "user_plugin_c" / "__init__.py").write_text(PLUGIN.format(name="mine-c"))
    info = site / "user_plugin_c-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: user-plugin-c\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent("""\
        [innr_bench.plugins]
        mine = user_plugin_c
    """))
    monkeypatch.syspath_prepend(str(site))
    assert "mine" in plugins.load_installed_plugins()
    assert COMPRESSORS.entry("mine-c").description == "a plugin's compressor"
    assert main(["list", "compressors"]) == 0
    assert "mine-c" in capsys.readouterr().out


@pytest.mark.parametrize(("module", "message"), [
    ("user_plugin_missing", r"plugins\[0\]: cannot import plugin module 'user_plugin_missing'"),
    ("user_plugin_broken", r"plugins\[0\]: plugin module 'user_plugin_broken' failed while importing: "
                           "ZeroDivisionError"),
])
def test_a_bad_plugin_is_one_clear_error(repo_root: Path, tmp_path: Path, clean_registry: None,
                                         module: str, message: str) -> None:
    (tmp_path / "user_plugin_broken.py").write_text("1 / 0\n")
    with pytest.raises(ConfigError, match=message):
        load_suite(_suite(repo_root, tmp_path, "quantize", plugins=[module]))
