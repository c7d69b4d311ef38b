"""Records have a schema: every published record fits it, older records are upgraded in one
place on load, and a record that does not fit is reported and recomputed, never half-read."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from innr_bench.engine.records import SCHEMA_VERSION, upgrade, validated
from innr_bench.engine.store import ResultStore

PUBLISHED = sorted(p for p in (Path(__file__).resolve().parents[1] / "results").iterdir()
                   if (p / "records").is_dir())


@pytest.mark.parametrize("root", PUBLISHED, ids=[p.name for p in PUBLISHED])
def test_every_published_record_fits_the_schema(root: Path) -> None:
    for path in sorted((root / "records").glob("*.json")):
        assert validated(json.loads(path.read_text()))["schema_version"] == SCHEMA_VERSION, path


def _attack_record() -> dict:
    return {"key": "k", "kind": "attack", "seed": 0, "status": "ok", "target": {"label": "t", "name": "t"},
            "dataset": {"label": "d", "name": "d", "source": "s", "sha256": "0", "n_train": 1, "n_test": 1},
            "attack": {"name": "fgsm", "label": "fgsm"}, "nets": ["original"],
            "transfer": [{"eps": 0.1, "source": "original", "target": "original", "accuracy": 0.5}]}


def test_an_old_attack_record_is_upgraded_in_one_place() -> None:
    old = _attack_record()
    new = upgrade(old)
    assert new["inheritance"] == [] and new["transfer"][0]["relative_transfer"] is None
    # schema 3: the evaluated net is `evaluated`, not `target` (the trained model's name)
    assert new["transfer"][0]["evaluated"] == "original" and "target" not in new["transfer"][0]
    assert new["schema_version"] == SCHEMA_VERSION and "schema_version" not in old  # the file is untouched


def test_a_record_that_does_not_fit_is_reported_and_left_out(tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    store = ResultStore(tmp_path)
    good, bad = _attack_record(), _attack_record()
    bad["key"] = "bad"
    del bad["nets"]
    store.put(good)
    store.put(bad)
    with caplog.at_level(logging.WARNING):
        assert [r["key"] for r in store.records(current_only=False)] == ["k"]
        assert store.get("bad") is None
    assert "ignoring record" in caplog.text and "nets: Field required" in caplog.text
