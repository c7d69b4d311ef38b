"""The documentation site's source: the hand-written pages of docs/, a component reference
generated from the registries, and one page per published result set generated from its records
(no hand-copied numbers), assembled into a folder that `mkdocs build --strict` turns into the
site (MkDocs with the Material theme, the `[docs]` extra)."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from tabulate import tabulate

from innr_bench.engine.env import uncommitted
from innr_bench.engine.store import ResultStore
from innr_bench.params import params_model
from innr_bench.reporting.board import Board
from innr_bench.reporting.report import render

KIND_TITLES = {"datasets": "Datasets", "models": "Targets (models)", "compressors": "Compressors",
               "attacks": "Attacks", "fields": "INNR fields", "layouts": "INNR layouts",
               "stages": "INNR fit stages", "presets": "INNR presets"}


def options(factory: Any) -> str:
    """A component's keyword options with their defaults: the fields its parameters are
    validated against (`params.params_model`)."""
    fields = params_model(factory).model_fields
    return ", ".join(f"`{name}`" if field.is_required() else f"`{name}={field.default!r}`"
                     for name, field in fields.items())


def component_rows(kind: str) -> tuple[list[str], list[tuple[str, ...]]]:
    """Headers and rows of one kind of component, from its registry (presets from their data);
    the last column is each one's options (what `innr-bench list` leaves out of its text)."""
    from innr_bench import components  # noqa: F401  (registers the built-ins)
    from innr_bench.compress.innr.spec import PRESETS
    from innr_bench.models.train import TrainConfig
    from innr_bench.registry import REGISTRIES

    if kind == "presets":  # INNR presets: data, each with a version
        return ["preset", "version", "what", "spec"], [
            (name, f"v{entry['version']}", entry["description"], json.dumps(entry["spec"]))
            for name, entry in sorted(PRESETS.items())]
    entries = REGISTRIES[kind].entries()
    if kind == "fields":  # the option a byte budget searches over
        return ["field", "size knob", "version", "what", "options"], [
            (e.name, str(e.traits.get("size", "-")), f"v{e.version}", e.description, options(e.factory))
            for e in entries]
    if kind == "models":  # the training a suite gets when it leaves `train` out
        return ["model", "what", "train", "options"], [
            (e.name, e.description, train_summary(TrainConfig(**e.defaults.get("train", {})).to_dict()),
             options(e.factory)) for e in entries]
    return ["name", "what", "options"], [(e.name, e.description, options(e.factory)) for e in entries]


def train_summary(train: dict[str, Any]) -> str:
    """A training config in a few words, e.g. "lr 0.001, batch_size 128, epochs 10"."""
    return ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}"
                     for k, v in train.items() if v not in (None, 0.0))


def components_markdown(kinds: tuple[str, ...]) -> str:
    """The component reference page: one table per kind."""
    parts = ["# Component reference\n",
             "Generated from the registries by `innr-bench list --format md` (plugins included when "
             "loaded): every name a suite can use, what it is and its options with their defaults.\n"]
    for kind in kinds:
        headers, rows = component_rows(kind)
        rows = [tuple(str(cell).replace("|", "\\|") for cell in row) for row in rows]  # markdown cells
        parts.append(f"## {KIND_TITLES.get(kind, kind)}\n")
        parts.append(tabulate(rows, headers=headers, tablefmt="github") + "\n")
    return "\n".join(parts)


def result_page(root: Path, images: Path, link: str) -> str:
    """One published result set as a page: what it is, where and from which code it ran, and its
    leaderboards and plots, all read from its manifest and records."""
    board = Board(root)
    manifest = ResultStore(root).manifest()
    suite = manifest.get("suite", {})
    name = suite.get("name", root.name)
    lines = [f"# {name}\n", f"{suite.get('description', '')}\n", "## Provenance\n"]
    runs = [(r.get("started", ""), r.get("git_commit") or "(no git metadata)",
             r.get("environment", {}).get("device_name", r.get("device", "")),
             (r.get("executor") or {}).get("name", "local"), r.get("computed", ""), r.get("skipped", ""),
             _wall(r), _stages(r),
             "yes" if r.get("published_from_uncommitted_code") or uncommitted(r.get("git_commit"))
             else "")
            for r in manifest.get("runs", [])]
    lines.append(tabulate(runs, headers=["started", "commit", "device", "executor", "computed", "reused",
                                         "wall", "stage seconds", "uncommitted code"],
                          tablefmt="github") + "\n")
    datasets = [(label, d.get("source", ""), f"{d.get('n_train', '')} / {d.get('n_test', '')}",
                 str(d.get("sha256", ""))[:16]) for label, d in manifest.get("datasets", {}).items()]
    lines.append(tabulate(datasets, headers=["data", "source", "train / test", "sha256"],
                          tablefmt="github") + "\n")
    for migration in manifest.get("migrations", []):
        kept = len(migration.get("stale_cells", []))
        lines.append(f"Re-keyed by `innr-bench migrate` at {migration.get('commit', '?')}"
                     f"{f'; {kept} cells kept their old keys' if kept else ''}.\n")
    lines.append(f"Records and every leaderboard file: `{link}`.\n")
    for view in board.views:
        lines.append(f"## {view.name}\n")
        lines.append(render(view.sections, "md", view.caption).replace("\n### ", "\n#### "))
    plots = sorted((root / "leaderboards").glob("*.png"))
    if plots:
        images.mkdir(parents=True, exist_ok=True)
        lines.append("## Plots\n")
        for plot in plots:
            shutil.copy2(plot, images / plot.name)
            lines.append(f"![{plot.stem}]({images.name}/{plot.name})\n")
    return "\n".join(lines)


def _wall(run: dict[str, Any]) -> str:
    """A run's wall time, m:ss, from its recorded start and finish ('' when either is missing)."""
    try:
        started, finished = datetime.fromisoformat(run["started"]), datetime.fromisoformat(run["finished"])
        seconds = (finished - started).total_seconds()
    except (KeyError, TypeError, ValueError):
        return ""
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def _stages(run: dict[str, Any]) -> str:
    """What each stage of a run took, as recorded (e.g. `train 217, evaluate 46`)."""
    return ", ".join(f"{name} {seconds:.0f}" for name, seconds in (run.get("stage_seconds") or {}).items())


def results_index(results: Path) -> str:
    """The list of published result sets: name, description, cells and the commits that made them."""
    rows = []
    for root in sorted(p for p in results.iterdir() if (p / "manifest.json").exists()):
        manifest = ResultStore(root).manifest()
        commits = sorted({str(r.get("git_commit") or "(none recorded)")[:12]
                          + ("+dirty" if uncommitted(r.get("git_commit")) else "")
                          for r in manifest.get("runs", [])})
        rows.append((f"[{root.name}]({root.name}.md)", manifest.get("suite", {}).get("description", ""),
                     len(manifest.get("cells", [])), ", ".join(commits)))
    return ("# Published results\n\nEach set is what `innr-bench run suites/<name>.yaml` wrote under "
            "`results/<name>/` (manifest, one JSON record per cell, leaderboards and plots); each page "
            "is generated from those files. A commit marked `+dirty` means the run's code had "
            "uncommitted changes: such a number cannot be checked out exactly.\n\n"
            + tabulate(rows, headers=["set", "what", "cells", "run at commits"], tablefmt="github") + "\n")


def write_docs(out: Path, repo: Path, kinds: tuple[str, ...]) -> list[Path]:
    """Assemble the site's source under `out`: docs/ copied, the generated pages added, and
    mkdocs.yml with the generated pages in its navigation. Returns the pages written."""
    out = Path(out)
    docs = out / "docs"
    if docs.exists():
        shutil.rmtree(docs)
    shutil.copytree(repo / "docs", docs)
    written = [docs / "reference" / "components.md"]
    written[0].parent.mkdir(parents=True, exist_ok=True)
    written[0].write_text(components_markdown(kinds))
    result_nav = []
    for root in sorted(p for p in (repo / "results").iterdir() if (p / "manifest.json").exists()):
        page = docs / "results" / f"{root.name}.md"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(result_page(root, docs / "results" / root.name, f"results/{root.name}/"))
        written.append(page)
        result_nav.append({root.name: f"results/{root.name}.md"})
    index = docs / "results" / "index.md"
    index.parent.mkdir(parents=True, exist_ok=True)
    index.write_text(results_index(repo / "results"))
    written.append(index)
    config = yaml.safe_load((repo / "mkdocs.yml").read_text())
    config["docs_dir"] = "docs"
    config["site_dir"] = "site"
    for entry in config["nav"]:
        if isinstance(entry, dict) and "Reference" in entry:
            entry["Reference"].append({"Components (generated)": "reference/components.md"})
    config["nav"].append({"Published results (generated)": [{"All result sets": "results/index.md"},
                                                            *result_nav]})
    (out / "mkdocs.yml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    return written
