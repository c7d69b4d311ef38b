"""Progress: bars only when enabled; a remote worker's printed lines are kept for the runner."""

from __future__ import annotations

import io

from rich.console import Console

from innr_bench.progress import Progress, RecordedProgress


def test_disabled_progress_draws_nothing_but_still_prints_lines() -> None:
    out = io.StringIO()
    progress = Progress(enabled=False, console=Console(file=out, width=80))
    with progress, progress.task("train target", total=3) as advance:
        advance(1, "loss 0.5")
    progress.print("trained seed-cnn seed 0")
    assert out.getvalue() == "trained seed-cnn seed 0\n"


def test_recorded_lines_are_handed_over_once() -> None:
    progress = RecordedProgress()
    progress.print("a")
    progress.print("b")
    assert progress.drain() == ["a", "b"] and progress.drain() == []
