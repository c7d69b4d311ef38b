"""Do two measurements of one setting agree? The one rule behind `innr-bench check` (the gate),
`innr-bench compare` and the reproducibility report that ends a run.

Where both sides hold the same seeds, they are compared **per seed, whatever the environment**:
the same seed trains the same target, so a same-seed change is either a real change or
floating-point order, and the spread of those changes measures the second.

- **paired** (the same environment: torch, device kind and name, CPU threads, numerics): the same
  seed computes the same thing, so each seed's change must stay within the tolerance (an
  unchanged rerun changes by 0.00).
- **cross-env** (the environments differ, or one side does not record its own): the mean of the
  same-seed changes must lie within the tolerance plus the half-width of its 95 % Student's t
  interval. Identical values (no noise measured) leave only the tolerance, so a 1-point shift is
  caught; a cell that floating-point order moves chaotically shows it in the changes themselves
  and gets a wide allowance. With one common seed no noise can be measured: the tolerance alone.
- **spread** (no seed on both sides, or a baseline recorded before per-seed values): seed-to-seed
  variation is the noise, and the means differ only when their difference exceeds the tolerance
  plus two standard errors of the difference.

Values are in accuracy points throughout."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from innr_bench.reporting.stats import difference_standard_error, paired_interval, sample_std

SLACK = 1e-9  # rounding of stored floats never decides a verdict
Mode = Literal["paired", "cross-env", "spread"]
MODES: dict[str, str] = {  # what each mode means, for tables' legends
    "paired": "per seed in the same environment: each seed within the tolerance",
    "cross-env": "per seed across environments: the mean same-seed change within the tolerance "
                 "plus its 95 % t interval",
    "spread": "seeds do not pair: the means within the tolerance plus 2 standard errors",
}


@dataclass(frozen=True)
class Sample:
    """One side of a comparison: a setting's values by seed, or (for baselines recorded before
    per-seed values were kept) only their mean, sample std and seed count."""

    by_seed: Mapping[str, float]
    mean: float
    std: float
    n: int

    @classmethod
    def of(cls, by_seed: Mapping[str, float]) -> Sample:
        if not by_seed:
            raise ValueError("a sample needs the value of at least one seed")
        values = [float(v) for v in by_seed.values()]
        return cls({str(k): float(v) for k, v in by_seed.items()}, sum(values) / len(values),
                   sample_std(values), len(values))


@dataclass(frozen=True)
class Verdict:
    """How `current` compares with `reference`: the change, what the rule allows, and which way
    (if any) it is beyond that."""

    mode: Mode
    change: float  # mean change over seeds (current - reference), points
    allowed: float  # the allowance either way, points
    changes: dict[str, float] = field(default_factory=dict)  # same-seed changes, where seeds overlap

    @property
    def judged(self) -> list[float]:
        """The changes the verdict rests on: each seed's (paired) or the mean's (otherwise)."""
        return list(self.changes.values()) if self.mode == "paired" else [self.change]

    @property
    def worse(self) -> bool:
        return any(c < -self.allowed - SLACK for c in self.judged)

    @property
    def better(self) -> bool:
        return any(c > self.allowed + SLACK for c in self.judged)

    @property
    def agrees(self) -> bool:
        # a value that is not a number (a diverged fit) never agrees
        return all(math.isfinite(c) for c in self.judged) and not (self.worse or self.better)

    @property
    def excess(self) -> float:
        """How far the largest judged change lies beyond the allowance (<= 0: within; inf: NaN)."""
        return max((abs(c) - self.allowed if math.isfinite(c) else math.inf) for c in self.judged)

    @property
    def worst_seed(self) -> float | None:
        """The same-seed change of largest size (None when no seed pairs)."""
        return max(self.changes.values(), key=abs) if self.changes else None

    @property
    def largest_same_seed(self) -> float:
        """The largest |change| of one seed against itself (nan without common seeds)."""
        return max((abs(c) for c in self.changes.values()), default=math.nan)

    def seeds_beyond(self) -> set[str]:
        """The seeds whose cells this verdict rejects: paired, each seed on its own; otherwise
        every seed of a setting whose means differ."""
        if self.mode == "paired":
            return {s for s, c in self.changes.items()
                    if not math.isfinite(c) or abs(c) > self.allowed + SLACK}
        return set() if self.agrees else set(self.changes) or {"*"}


def compare_samples(reference: Sample, current: Sample, *, same_environment: bool,
                    tolerance_pt: float) -> Verdict:
    """The verdict on one setting (see the module docstring for the rule)."""
    common = sorted(set(reference.by_seed) & set(current.by_seed))
    changes = {s: current.by_seed[s] - reference.by_seed[s] for s in common}
    if not changes:
        error = difference_standard_error(reference.std, reference.n, current.std, current.n)
        return Verdict("spread", current.mean - reference.mean, tolerance_pt + 2 * error, changes)
    mean = sum(changes.values()) / len(changes)  # a NaN stays NaN: it never agrees
    if same_environment:
        return Verdict("paired", mean, tolerance_pt, changes)
    interval = paired_interval(list(changes.values()))
    half = 0.0 if interval.high is None else interval.high - interval.mean
    return Verdict("cross-env", mean, tolerance_pt + half, changes)
