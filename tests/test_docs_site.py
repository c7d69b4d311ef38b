"""The docs site's source: the component reference from the registries and one page per
published result set from its records, assembled beside the hand-written pages."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import yaml

from innr_bench.registry import FIELDS, MODELS
from innr_bench.reporting.docs_site import components_markdown, result_page, write_docs


def test_the_component_reference_lists_every_registered_name_with_its_options() -> None:
    page = components_markdown(("models", "fields", "presets"))
    assert all(f"| {e.name} " in page for e in [*MODELS.entries(), *FIELDS.entries()])
    assert "`sigma=1.0`" in page and "| distill " in page  # fourier-mlp's option, a preset


def test_a_result_page_is_made_from_the_records(repo_root: Path, tmp_path: Path) -> None:
    page = result_page(repo_root / "results" / "ci", tmp_path / "ci", "results/ci/")
    assert page.startswith("# ci\n") and "## Provenance" in page and "## accuracy-vs-size" in page
    assert "front (same data)" in page and "Δ pt 95% CI" in page
    # the measurement narrative is generated provenance: each run's commit, wall and stage times
    run = json.loads((repo_root / "results" / "ci" / "manifest.json").read_text())["runs"][-1]
    started = datetime.fromisoformat(run["started"])
    seconds = int((datetime.fromisoformat(run["finished"]) - started).total_seconds())
    row = next(line for line in page.splitlines() if run["git_commit"] in line)
    assert f" {seconds // 60}:{seconds % 60:02d} " in row
    assert ", ".join(f"{k} {v:.0f}" for k, v in run["stage_seconds"].items()) in row


def test_the_site_source_has_every_page_the_navigation_names(repo_root: Path, tmp_path: Path) -> None:
    write_docs(tmp_path, repo_root, ("models", "fields"))
    config = yaml.safe_load((tmp_path / "mkdocs.yml").read_text())

    def pages(nav: list) -> list[str]:
        out = []
        for entry in nav:
            value = next(iter(entry.values())) if isinstance(entry, dict) else entry
            out += pages(value) if isinstance(value, list) else [value]
        return out

    named = pages(config["nav"])
    assert "reference/components.md" in named and "results/mnist.md" in named
    assert [p for p in named if not (tmp_path / "docs" / p).exists()] == []
    published = {p.name for p in (repo_root / "results").iterdir() if (p / "manifest.json").exists()}
    assert {Path(p).stem for p in named if p.startswith("results/")} == published | {"index"}
