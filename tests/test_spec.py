"""An INNR's resolved spec: presets and what a suite overrides, every default filled in, and the
keys that follow from it (what ran, not what was typed)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from innr_bench.compress.innr.compressor import Innr, InnrSiren
from innr_bench.compress.innr.fields.gauss import GaussField
from innr_bench.compress.innr.spec import PRESETS
from innr_bench.compress.innr.stages import WeightFit
from innr_bench.config import parse_suite
from innr_bench.engine.plan import hash_cell, hash_copy
from innr_bench.errors import ConfigError
from innr_bench.params import params_model
from innr_bench.registry import FIELDS

SNAPSHOT = Path(__file__).parent / "data" / "preset-specs.json"


def _suite(*compressors: dict[str, Any]) -> Any:
    return parse_suite({"name": "t", "seeds": [0], "datasets": [{"name": "synthetic"}],
                        "targets": [{"name": "seed-cnn", "params": {"c": 2}}],
                        "compressors": list(compressors)})


def _key(compressor: dict[str, Any]) -> str:
    return hash_copy("target", _suite(compressor).compressors[0])


class TestPresets:
    def test_a_presets_resolved_spec_changes_only_with_its_version(self) -> None:
        """Editing a preset, or a default it leaves to its parts, changes what it runs: bump the
        preset's version in presets.json, then write tests/data/preset-specs.json anew (the
        command is in the README, "INNR parts")."""
        pinned = json.loads(SNAPSHOT.read_text())
        assert sorted(pinned) == sorted(PRESETS), "a preset was added or removed: update the snapshot"
        for name, entry in PRESETS.items():
            spec = Innr(preset=name).resolved_spec()
            if entry["version"] == pinned[name]["version"]:
                assert spec == pinned[name]["spec"], f"preset {name!r} resolves differently: bump its version"
            else:
                pytest.fail(f"preset {name!r} is version {entry['version']}: update the snapshot")

    @pytest.mark.parametrize("name", sorted(PRESETS))
    def test_innr_siren_is_a_name_for_the_siren_presets(self, name: str) -> None:
        assert InnrSiren(recipe=name).spec == Innr(preset=name).spec

    def test_only_distillation_on_training_images_reads_data(self) -> None:
        reading = [name for name in sorted(PRESETS) if not Innr(preset=name).data_free]
        assert reading == ["distill", "distill-quick"]


class TestResolution:
    def test_a_field_of_the_presets_name_is_merged_another_replaces_it(self) -> None:
        merged = Innr(field={"width": 32}).spec.field
        assert merged == {**Innr(preset="fast").spec.field, "width": 32}
        other = Innr(preset="fast", field={"name": "gauss", "scale": 3.0}).spec.field
        assert other["name"] == "gauss" and other["scale"] == 3.0 and "w0" not in other
        assert other["width"] == params_model(GaussField, ("dim_in", "dim_out")).model_fields["width"].default

    def test_fit_stages_replace_the_presets_and_get_every_default(self) -> None:
        spec = Innr(preset="distill", fit=[{"name": "weights", "epochs": 12}]).spec
        assert [s["name"] for s in spec.fit] == ["weights"] and spec.data_free
        assert spec.fit[0] == {"name": "weights", **dataclasses.asdict(WeightFit(epochs=12))}

    def test_a_refit_takes_a_tenth_of_the_weight_fits_lr(self) -> None:
        spec = Innr(fit=[{"name": "weights", "lr": 2e-3}, {"name": "qat", "epochs": 5}],
                    storage={"precision": "int8"}).spec
        assert spec.fit[1]["lr"] == pytest.approx(2e-4)

    def test_a_budget_leaves_the_size_knob_to_the_target(self) -> None:
        spec = Innr(field={"name": "hash-grid"}, ratio=0.1).spec
        assert spec.field["table_size"] is None and spec.budget == {"ratio": 0.1}

    @pytest.mark.parametrize(("params", "match"), [
        ({"field": {"name": "gaus"}}, r"field\.name: unknown field 'gaus'\. Did you mean 'gauss'\?"),
        ({"field": {"name": "gauss", "widht": 3}}, r"field\.widht: 3 is invalid \(unknown key\)"),
        ({"field": {"dim_in": 3}}, r"field\.dim_in: is set by innr-bench"),
        ({"layout": {"name": "rows", "block": 0}}, r"layout\.block: 0 is invalid"),
        ({"fit": [{"epochs": 3}]},
         r"fit\[0\]\.name: required key is missing \(one of distill, qat, weights\)"),
        ({"fit": []}, r"fit: an INNR needs at least one fitting stage"),
        ({"fit": [{"name": "weights", "epochs": 10, "warmup": 0.1}]}, r"fit\[0\]\.warmup: .* exactly 1 step"),
        ({"preset": "fast", "fit": [{"name": "weights"}, {"name": "qat"}]},
         r"fit\[1\]\.epochs: 100 needs integer codes"),
        ({"fit": [{"name": "distill", "inputs": "noise", "label_loss": 0.5}]},
         r"fit\[0\]\.label_loss: 0\.5 needs training labels; set fit\[0\]\.inputs: data"),
        ({"preset": "fast", "storage": {"entropy": "huffman"}},
         r"storage\.entropy: 'huffman' needs integer codes"),
        ({"field": {"width": 8}, "ratio": 0.1}, r"ratio: set only one of field\.width, ratio and bytes"),
        ({"ratio": 0.1, "bytes": 100}, r"bytes: set only one of ratio and bytes"),
        ({"preset": "fastest"}, r"preset: 'fastest' is not an INNR preset; available: distill, "),
    ])
    def test_each_problem_names_its_path(self, params: dict[str, Any], match: str) -> None:
        with pytest.raises(ConfigError, match=match):
            Innr(**params)

    def test_innr_siren_names_its_flat_options(self) -> None:
        with pytest.raises(ConfigError, match=r"^qat_epochs: 5 needs integer codes; set precision: int8"):
            InnrSiren(qat_epochs=5)
        with pytest.raises(ConfigError, match=r"^distill_lr: 0\.0 is invalid"):
            InnrSiren(recipe="distill", distill_lr=1e-9 * 0)

    def test_a_suite_reports_a_nested_path_under_the_compressor(self) -> None:
        with pytest.raises(ConfigError,
                           match=r"<suite>: compressors\[0\]\.params\.field\.width: 0 is invalid"):
            _suite({"name": "innr", "params": {"field": {"width": 0}}})


class TestKeys:
    def test_the_key_hashes_what_runs_not_what_was_typed(self) -> None:
        """The preset written out in full is the same cell as the preset named."""
        parts = ("layout", "field", "fit", "storage")
        written = {k: v for k, v in Innr(preset="fast").resolved_spec().items() if k in parts}
        written["field"] = {k: v for k, v in written["field"].items() if k != "version"}
        named = _key({"name": "innr", "params": {"preset": "fast"}})
        assert _key({"name": "innr", "params": written}) == named
        longer = {"name": "innr", "params": {"preset": "fast", "fit": [{"name": "weights", "epochs": 301}]}}
        assert _key(longer) != named

    def test_editing_a_default_changes_the_key(self, monkeypatch: pytest.MonkeyPatch) -> None:
        stage_default = {"name": "innr", "params": {"fit": [{"name": "weights"}]}}
        field_default = {"name": "innr", "params": {"field": {"name": "gauss"}}}
        before = _key(stage_default), _key(field_default)
        monkeypatch.setitem(WeightFit.__init__.__kwdefaults__, "epochs", 301)
        monkeypatch.setitem(GaussField.__init__.__kwdefaults__, "scale", 2.5)
        params_model.cache_clear()
        try:
            after = _key(stage_default), _key(field_default)
        finally:
            monkeypatch.undo()
            params_model.cache_clear()
        assert after[0] != before[0] and after[1] != before[1]

    def test_a_components_version_enters_the_key(self, monkeypatch: pytest.MonkeyPatch) -> None:
        compressor = {"name": "innr", "params": {"field": {"name": "gauss"}}}
        before = _key(compressor)
        entry = FIELDS.entry("gauss")
        monkeypatch.setitem(FIELDS._entries, "gauss", dataclasses.replace(entry, version=entry.version + 1))
        assert _key(compressor) != before

    def test_a_cell_key_differs_from_its_copys_and_holds_the_label(self) -> None:
        first, second = _suite({"name": "innr", "label": "a"}, {"name": "innr", "label": "b"}).compressors
        assert hash_copy("t", first) == hash_copy("t", second)  # one copy, cached once
        assert hash_cell("t", first) != hash_cell("t", second)
