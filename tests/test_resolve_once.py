"""A component is resolved once, when the suite is parsed: workers build each compressor from
its resolved spec (what the cell's key hashes), once per cell that computes a copy, never from
the suite's params; so a worker whose presets differ computes what the key says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from innr_bench.compress.innr import spec as innr_spec
from innr_bench.compress.innr.compressor import InnrCompressor, InnrSiren
from innr_bench.compress.innr.spec import InnrSpec
from innr_bench.config import load_suite, parse_suite
from innr_bench.engine.runner import Runner
from innr_bench.errors import ConfigError
from innr_bench.registry import COMPRESSORS

SUITES = ["smoke", "mnist", "fashion-mnist", "field-scale", "innr-fields", "mnist-budgets"]


@pytest.mark.parametrize("name", SUITES)
def test_every_compressor_builds_from_its_resolved_spec_alone(repo_root: Path, name: str) -> None:
    """Built from the spec, each resolves to the same spec and says the same about data."""
    from innr_bench.config import resolved_spec

    for component in load_suite(repo_root / "suites" / f"{name}.yaml").compressors:
        if component.name == "nnc" or component.spec.get("nncodec"):
            pytest.importorskip("nncodec")
        built = COMPRESSORS.get(component.name).from_spec(component.spec)
        assert resolved_spec(built, component.spec) == component.spec, component.label
        assert bool(built.data_free) is component.data_free, component.label


def smoke_doc(repo_root: Path) -> dict[str, Any]:
    doc = yaml.safe_load((repo_root / "suites" / "smoke.yaml").read_text())
    doc["compressors"] = [c for c in doc["compressors"] if c["name"] in ("innr-siren", "quantize")]
    return doc


def test_a_worker_builds_each_compressor_once_a_cell_and_never_from_params(
        repo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    suite = parse_suite(smoke_doc(repo_root))  # parsing resolves (and constructs) each once
    built: list[str] = []
    from_params: list[str] = []
    original = InnrCompressor.from_spec.__func__  # type: ignore[attr-defined]

    def counted(cls: type, spec: dict[str, Any]) -> Any:
        built.append(cls.__name__)
        return original(cls, spec)

    def refuse(self: Any, **params: Any) -> None:
        from_params.append(type(self).__name__)
        raise AssertionError("a worker built an INNR from the suite's params")

    monkeypatch.setattr(InnrCompressor, "from_spec", classmethod(counted))
    monkeypatch.setattr(InnrSiren, "__init__", refuse)
    summary = Runner(suite, out_dir=tmp_path, device="cpu").run()
    assert summary.failed == [] and from_params == []
    assert built == ["InnrSiren"] * len(suite.seeds)  # one copy a seed; the attack cells read the cache


def test_a_worker_whose_presets_differ_computes_what_the_key_says(
        repo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = smoke_doc(repo_root) | {"seeds": [0], "attacks": []}
    suite = parse_suite(doc)
    here = Runner(suite, out_dir=tmp_path / "here", device="cpu").run()
    # a worker whose presets.json has another `fast` (another learning rate and w0, options the
    # suite leaves to the preset): the copy it makes from the parsed suite's spec is the same
    changed = json.loads(json.dumps(innr_spec.PRESETS))
    changed["fast"]["spec"]["fit"][0]["lr"] = 0.05
    changed["fast"]["spec"]["field"]["w0"] = 5.0
    monkeypatch.setattr(innr_spec, "PRESETS", changed)
    monkeypatch.setenv("INNR_BENCH_CACHE", str(tmp_path / "other-cache"))
    there = Runner(suite, out_dir=tmp_path / "there", device="cpu").run()
    assert here.failed == there.failed == []

    def records(root: Path) -> dict[str, dict[str, Any]]:
        return {p.name: json.loads(p.read_text()) for p in (root / "smoke" / "records").glob("*.json")}

    ours, theirs = records(tmp_path / "here"), records(tmp_path / "there")
    assert ours.keys() == theirs.keys()
    for key, record in ours.items():
        assert theirs[key]["accuracy"] == record["accuracy"]
        assert theirs[key]["size_bytes"] == record["size_bytes"]
        assert fitted(theirs[key]) == fitted(record)


def fitted(record: dict[str, Any]) -> dict[str, Any]:
    """What a record says of the fit, less its timings."""
    return {k: v for k, v in (record.get("info") or {}).items() if "seconds" not in k}


def test_a_spec_naming_another_field_version_is_refused() -> None:
    spec = InnrSiren().resolved_spec()
    spec["field"]["version"] = 99
    with pytest.raises(ConfigError, match="version 1 here, the cell's key names version 99"):
        InnrSpec.from_dict(spec)


def test_a_plugin_that_resolves_its_own_spec_without_building_from_it_is_built_from_params() -> None:
    from innr_bench.compress.quantize import Quantize
    from innr_bench.engine.copies import builds_from_spec

    class OwnSpec(Quantize):
        def resolved_spec(self) -> dict[str, Any]:
            return {"bits": self.bits, "codec": "mine 1.0"}  # more than its options

    class OwnBoth(OwnSpec):
        @classmethod
        def from_spec(cls, spec: Any) -> Any:
            return cls(bits=spec["bits"])

    assert builds_from_spec(Quantize) and builds_from_spec(InnrSiren) and builds_from_spec(OwnBoth)
    assert not builds_from_spec(OwnSpec)
