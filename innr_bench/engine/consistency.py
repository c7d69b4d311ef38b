"""Whether one result set's copies compress one target each: a board whose cells of one
(dataset, target, seed) record different original accuracies mixes targets trained in two
environments (records reused from another machine beside cells computed here), so its rows are
not compared on one original."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from innr_bench.engine.records import finished


def mixed_targets(records: Iterable[dict[str, Any]]) -> list[str]:
    """One line per (dataset, target, seed) whose compressor cells disagree on the original's
    accuracy, naming the accuracies and how many cells hold each."""
    seen: dict[tuple[str, str, int], dict[float, int]] = defaultdict(lambda: defaultdict(int))
    for record in finished(records, "compressor"):
        group = (record.dataset.label, record.target.label, record.seed)
        seen[group][round(record.target_accuracy, 6)] += 1
    return [f"{dataset} / {target} / seed {seed}: its cells compress different originals "
            f"({', '.join(f'{100 * acc:.2f} % in {n}' for acc, n in sorted(counts.items()))}); records "
            "from another environment sit beside cells computed here: recompute the set in one "
            "environment"
            for (dataset, target, seed), counts in sorted(seen.items()) if len(counts) > 1]
