"""A result set read once into a Board: its views (accuracy vs size, transfer, inheritance and
what transfer follows), each a caption, sections of rows and a summary frame, and its plots.
Every renderer (the leaderboard files, the Python API) renders the same Board."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from innr_bench.engine.env import uncommitted
from innr_bench.engine.store import ResultStore, atomic_write_bytes
from innr_bench.reporting import inheritance
from innr_bench.reporting.plots import accuracy_vs_bytes, accuracy_vs_eps, transfer_heatmaps
from innr_bench.reporting.report import (
    FORMATS,
    SIZE_CAPTION,
    TRANSFER_CAPTION,
    Section,
    accuracy_vs_size,
    render,
    size_frame,
    transfer,
    transfer_frame,
)


@dataclass(frozen=True)
class View:
    """One leaderboard: its file name, caption, titled sections and a summary for the CSV."""

    name: str
    caption: str
    sections: list[Section]
    summary: pd.DataFrame


class Board:
    """The current records of one result set and every view of them (nothing is recomputed)."""

    def __init__(self, root: Path, *, front_includes_degraded: bool = False) -> None:
        self.root = Path(root)
        self.front_includes_degraded = front_includes_degraded  # degraded rows on the front marks
        store = ResultStore(self.root).require()
        self.records: list[dict[str, Any]] = store.records()
        self.manifest: dict[str, Any] = store.manifest()
        suite = self.manifest.get("suite", {})
        self.references: list[dict[str, Any]] = suite.get("references", [])
        self.headline_eps = inheritance.suite_headline_eps(suite)

    @cached_property
    def sizes(self) -> pd.DataFrame:
        """A row per compressor cell (`report.size_frame`), built once for every view and plot."""
        return size_frame(self.records)

    @cached_property
    def transfers(self) -> pd.DataFrame:
        """A row per transfer count (`report.transfer_frame`), built once for every view and plot."""
        return transfer_frame(self.records)

    @cached_property
    def inherited(self) -> pd.DataFrame:
        return inheritance.inheritance_frame(self.records)

    @cached_property
    def views(self) -> list[View]:
        """The views that have rows, in the order the leaderboards list them."""
        board = inheritance.leaderboard(self.inherited, self.headline_eps)
        follows = inheritance.correlations(self.inherited, self.headline_eps)
        board_summary = (pd.concat([frame.assign(section=title) for title, frame in board], ignore_index=True)
                         if board else pd.DataFrame())
        found = [
            View("accuracy-vs-size", SIZE_CAPTION, *accuracy_vs_size(
                self.sizes, self.references, front_includes_degraded=self.front_includes_degraded)),
            View("transfer", TRANSFER_CAPTION, *transfer(self.transfers)),
            View("inheritance", inheritance.CAPTION, board, board_summary),
            View("inheritance-correlations", inheritance.CORRELATION_CAPTION, follows,
                 follows[0][1] if follows else pd.DataFrame()),
        ]
        dirty = self.uncommitted
        if dirty:  # a number that cannot be checked out says so wherever it is shown
            mark = f" [made from uncommitted code: {', '.join(dirty)}]"
            found = [View(v.name, v.caption, [(title + mark, frame) for title, frame in v.sections],
                          v.summary)
                     for v in found]
        return [view for view in found if view.sections]

    @cached_property
    def uncommitted(self) -> list[str]:
        """The `+dirty` commits the shown cells were computed at (none, for published sets)."""
        commits = {str(r.get("git_commit")) for r in self.records}
        return sorted(c for c in commits if uncommitted(c))

    def view(self, name: str) -> View | None:
        return next((v for v in self.views if v.name == name), None)

    def table(self, name: str) -> pd.DataFrame:
        """A view's summary frame (empty when the result set has none of it)."""
        found = self.view(name)
        return found.summary if found is not None else pd.DataFrame()

    @property
    def accuracy_vs_size(self) -> pd.DataFrame:
        return self.table("accuracy-vs-size")

    @property
    def transfer(self) -> pd.DataFrame:
        return self.table("transfer")

    @property
    def inheritance(self) -> pd.DataFrame:
        return self.table("inheritance")

    def plots(self, out: Path | None = None) -> list[Path]:
        """Every figure (PNG and SVG) under `out` (default: the result set's leaderboards/)."""
        out = Path(out) if out is not None else self.root / "leaderboards"
        sizes, transfers = self.sizes, self.transfers
        paths = accuracy_vs_bytes(sizes, out, self.references) if not sizes.empty else []
        if not transfers.empty:
            paths += transfer_heatmaps(transfers, out) + accuracy_vs_eps(transfers, out)
        return paths + inheritance.plots(self.inherited, out, self.headline_eps)

    def write(self, formats: tuple[str, ...] = FORMATS, plots: bool = True) -> dict[str, Path]:
        """The leaderboards (each view in each format) and the plots under leaderboards/."""
        out = self.root / "leaderboards"
        written: dict[str, Path] = {}
        for view in self.views:
            for fmt in formats:
                path = out / f"{view.name}.{fmt}"
                text = (view.summary.to_csv(index=False) if fmt == "csv"
                        else render(view.sections, fmt, view.caption))
                atomic_write_bytes(path, text.encode())
                written[path.name] = path
        if plots:
            written |= {path.name: path for path in self.plots(out)}
        return written


def write_leaderboards(
    results_dir: Path, formats: tuple[str, ...] = FORMATS, plots: bool = True, *,
    front_includes_degraded: bool = False,
) -> dict[str, Path]:
    """Write the leaderboards (and plots) of a result set under `results_dir/leaderboards`."""
    return Board(results_dir, front_includes_degraded=front_includes_degraded).write(formats, plots)
