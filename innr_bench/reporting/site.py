"""Published results as a static site: an index of suites, and per suite its sortable
leaderboards, plots and provenance. Plain files that work from the file system, no server.

Built from stored records only (like every report): nothing is recomputed, and the result
directories are only read; plots are drawn into the site."""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from innr_bench.engine.store import atomic_write_bytes
from innr_bench.errors import ConfigError
from innr_bench.reporting.board import Board
from innr_bench.reporting.report import html_sections, html_table

# Click a column header to sort by it (again: reverse). Cells sort by the number they start
# with ("93.1 ± 0.2", "12,266"), else as text; empty cells last.
SORT_SCRIPT = """
function cellKey(cell) {
  const text = cell.textContent.trim();
  const number = parseFloat(text.replace(/,/g, "").replace(/^\\+/, ""));
  return {text: text, number: isNaN(number) ? null : number};
}
function sortTable(table, column) {
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  const ascending = table.dataset.sortColumn == column ? table.dataset.sortOrder != "ascending" : true;
  rows.sort((a, b) => {
    const x = cellKey(a.cells[column]), y = cellKey(b.cells[column]);
    if (x.text === "" || y.text === "") return (x.text === "") - (y.text === "");
    const order = (x.number !== null && y.number !== null) ? x.number - y.number
                                                           : x.text.localeCompare(y.text);
    return ascending ? order : -order;
  });
  rows.forEach(row => body.appendChild(row));
  table.dataset.sortColumn = column;
  table.dataset.sortOrder = ascending ? "ascending" : "descending";
  Array.from(table.tHead.rows[0].cells).forEach((th, i) =>
    th.setAttribute("aria-sort", i == column ? table.dataset.sortOrder : "none"));
}
document.querySelectorAll("table.sortable").forEach(table => {
  Array.from(table.tHead.rows[0].cells).forEach((th, i) =>
    th.addEventListener("click", () => sortTable(table, i)));
});
"""

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 90em; padding: 0 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; }
th { background: #f0f0f0; cursor: pointer; user-select: none; }
th[aria-sort="ascending"]::after { content: " ▲"; }
th[aria-sort="descending"]::after { content: " ▼"; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
.caption { color: #555; font-size: 0.85em; max-width: 80em; }
code { background: #f6f6f6; padding: 0 0.2em; }
"""


def page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}"
            f"</title><style>{STYLE}</style></head>\n<body>\n{body}\n<script>{SORT_SCRIPT}</script>\n"
            "</body></html>\n")




def suite_dirs(paths: list[Path]) -> list[Path]:
    """Every suite result directory in `paths` (a suite's directory, or a root holding several)."""
    found: list[Path] = []
    for path in paths:
        if (path / "manifest.json").is_file():
            found.append(path)
        elif path.is_dir():
            found += sorted(p for p in path.iterdir() if (p / "manifest.json").is_file())
        else:
            raise ConfigError(f"{path}: no such results directory; pass a suite's results (e.g. "
                              "results/mnist) or a root holding several (e.g. results)")
    if not found:
        raise ConfigError(f"{', '.join(map(str, paths))}: no results (no manifest.json) to publish")
    return found


def provenance_html(manifest: dict[str, Any]) -> str:
    """Environment, data sets with their hashes, and the runs, as tables."""
    env = manifest.get("environment", {})
    rows = [(k, v) for k, v in env.items() if k != "packages"]
    rows += [(f"package {k}", v) for k, v in sorted(env.get("packages", {}).items())]
    env_table = html_table(pd.DataFrame(rows, columns=["field", "value"]).astype(str))
    datasets = pd.DataFrame([{"label": label, **info}
                             for label, info in manifest.get("datasets", {}).items()])
    runs = pd.DataFrame([{k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in run.items()}
                         for run in manifest.get("runs", [])])
    parts = ["<h2>Provenance</h2>", "<h3>Environment</h3>", env_table]
    if not datasets.empty:
        parts += ["<h3>Data</h3>", html_table(datasets.astype(str))]
    if not runs.empty:
        parts += ["<h3>Runs</h3>", html_table(runs.astype(str))]
    return "\n".join(parts)


VIEW_TITLES = {"accuracy-vs-size": "Accuracy vs size", "transfer": "Adversarial transfer",
               "inheritance": "Adversarial inheritance",
               "inheritance-correlations": "What transfer follows"}


def suite_page(results: Path, out: Path) -> dict[str, Any]:
    """Write `out/index.html` (and its plots) for one suite, rendered from its Board; a summary
    for the index."""
    board = Board(results)
    manifest, records = board.manifest, board.records
    suite = manifest.get("suite", {})
    out.mkdir(parents=True, exist_ok=True)
    images = [p for p in board.plots(out) if p.suffix == ".png"]
    name = suite.get("name", results.name)
    body = [f"<p><a href=\"../index.html\">all suites</a></p><h1>{html.escape(name)}</h1>",
            f"<p>{html.escape(suite.get('description', ''))}</p>",
            f"<p>{len(records)} cells; click a column header to sort.</p>"]
    for view in board.views:
        body += [f"<h2>{html.escape(VIEW_TITLES.get(view.name, view.name))}</h2>",
                 f"<p class=\"caption\">{html.escape(view.caption)}</p>", html_sections(view.sections)]
    if images:
        body.append("<h2>Plots</h2>")
        body += [f"<figure><img src=\"{html.escape(p.name)}\" alt=\"{html.escape(p.stem)}\">"
                 f"<figcaption>{html.escape(p.stem)}</figcaption></figure>" for p in images]
    body.append(provenance_html(manifest))
    atomic_write_bytes(out / "index.html", page(suite.get("name", results.name), "\n".join(body)).encode())
    runs = manifest.get("runs", [{}])
    return {"suite": suite.get("name", results.name), "description": suite.get("description", ""),
            "cells": len(records), "seeds": len(suite.get("seeds", [])),
            "last run": runs[-1].get("finished") or runs[-1].get("started", ""),
            "device": manifest.get("environment", {}).get("device_name", ""),
            "git commit": (runs[-1].get("git_commit") or "")[:12]}


def write_site(paths: list[Path], out: Path) -> list[Path]:
    """The site for every suite in `paths` under `out`; the pages written (index first)."""
    dirs = suite_dirs(paths)
    if out.exists() and any(out.iterdir()) and not (out / "index.html").is_file():
        raise ConfigError(f"{out}: exists and is not an innr-bench site; choose an empty or new directory")
    if out.exists():
        shutil.rmtree(out)  # a site is rebuilt whole: no stale suite pages
    out.mkdir(parents=True)
    summaries = []
    pages = []
    for results in dirs:
        summary = suite_page(results, out / results.name)
        summaries.append({**summary, "link": f"{results.name}/index.html"})
        pages.append(out / results.name / "index.html")
    index = pd.DataFrame(summaries)
    links = "".join(f"<li><a href=\"{html.escape(s['link'])}\">"
                    f"{html.escape(s['suite'])}</a>: {html.escape(s['description'])}</li>\n"
                    for s in summaries)
    table = html_table(index.drop(columns="link"))
    body = (f"<h1>innr-bench results</h1>\n<ul>{links}</ul>\n<h2>Suites</h2>\n{table}"
            "<p class=\"caption\">Every number on these pages comes from stored records of real runs; "
            "each suite page lists the environment, data hashes and runs that produced them.</p>")
    atomic_write_bytes(out / "index.html", page("innr-bench results", body).encode())
    return [out / "index.html", *pages]
