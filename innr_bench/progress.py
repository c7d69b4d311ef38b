"""Progress bars (rich) that switch off cleanly when output is not a terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress

Advance = Callable[[int, str], None]


def _noop(_steps: int = 1, _status: str = "") -> None:
    return None


class Progress:
    """One overall bar with ETA plus one transient bar per running stage; silent when disabled."""

    def __init__(self, enabled: bool | None = None, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._bars: RichProgress | None = None

    def __enter__(self) -> Progress:
        if self.enabled:
            self._bars = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[status]}"),
                console=self.console,
            )
            self._bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bars is not None:
            self._bars.stop()
            self._bars = None

    @contextmanager
    def task(self, description: str, total: int, *, transient: bool = True) -> Iterator[Advance]:
        """A bar for one stage; yields `advance(steps, status)`."""
        if self._bars is None:
            yield _noop
            return
        bars = self._bars
        task_id = bars.add_task(description, total=total, status="")

        def advance(steps: int = 1, status: str = "") -> None:
            bars.update(task_id, advance=steps, status=status)

        try:
            yield advance
        finally:
            if transient:
                bars.remove_task(task_id)

    def print(self, message: str) -> None:
        """A line above the bars (or plain on stderr when bars are off)."""
        self.console.print(message, highlight=False, markup=False, soft_wrap=True)


class RecordedProgress(Progress):
    """No bars; printed lines are kept for `drain()` (a remote worker hands them to the runner)."""

    def __init__(self) -> None:
        super().__init__(enabled=False)
        self._lines: list[str] = []

    def print(self, message: str) -> None:
        self._lines.append(message)

    def drain(self) -> list[str]:
        lines, self._lines = self._lines, []
        return lines
