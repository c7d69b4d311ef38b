"""Paired statistics for rows that compress the same targets and are evaluated on the same test
inputs: every copy of one seed comes from the same trained target, so differences are taken
per seed (a t interval over seeds), and, where the records hold which test inputs each copy got
right, per input (McNemar's exact test over the inputs where two copies disagree, pooled over
seeds), which separates methods that a standard deviation over 3 seeds cannot."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

LEVEL = 0.95  # confidence of the intervals and of "significantly more accurate"


@dataclass(frozen=True)
class Interval:
    """The mean of paired differences with a two-sided t interval (None bounds: one pair)."""

    mean: float
    low: float | None
    high: float | None
    n: int

    def excludes_zero(self) -> bool:
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)


def paired_interval(differences: Sequence[float], level: float = LEVEL) -> Interval:
    """Student's t interval for the mean of per-seed differences."""
    values = np.asarray([d for d in differences if d is not None and math.isfinite(d)], dtype=float)
    if len(values) == 0:
        return Interval(math.nan, None, None, 0)
    mean = float(values.mean())
    if len(values) < 2:
        return Interval(mean, None, None, len(values))
    quantile = scipy_stats.t.ppf(0.5 + level / 2, len(values) - 1)
    half = float(quantile * values.std(ddof=1) / math.sqrt(len(values)))
    return Interval(mean, mean - half, mean + half, len(values))


def difference_standard_error(std_a: float, n_a: int, std_b: float, n_b: int) -> float:
    """Standard error of the difference of two means over independent seeds (sample stds):
    what a comparison by seed spread allows beyond its tolerance (the gate, and compare/reproduce
    where two result sets come from different environments)."""
    return math.sqrt(std_a**2 / n_a + std_b**2 / n_b)


def sample_std(values: Sequence[float]) -> float:
    """Sample standard deviation (0 for fewer than two values)."""
    return float(np.std(np.asarray(values, dtype=float), ddof=1)) if len(values) > 1 else 0.0


@dataclass(frozen=True)
class McNemar:
    """Discordant inputs (only A right, only B right) and the exact two-sided p-value."""

    a_only: int
    b_only: int
    p: float


def pooled_mcnemar(pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> McNemar:
    """McNemar over the discordant inputs of several seeds (each seed's inputs paired)."""
    a_only = sum(int(np.sum(a & ~b)) for a, b in pairs)
    b_only = sum(int(np.sum(~a & b)) for a, b in pairs)
    n = a_only + b_only
    p = 1.0 if n == 0 else float(scipy_stats.binomtest(min(a_only, b_only), n, 0.5).pvalue)
    return McNemar(a_only, b_only, p)


def significantly_better(a: dict[int, float], b: dict[int, float],
                         a_correct: dict[int, np.ndarray] | None = None,
                         b_correct: dict[int, np.ndarray] | None = None, level: float = LEVEL) -> bool:
    """Whether A is more accurate than B beyond chance: per-seed paired differences (seeds both
    have) whose interval lies above zero, or, where both hold per-input results for the same
    seeds, McNemar's test pooled over those seeds in A's favour."""
    seeds = sorted(set(a) & set(b))
    interval = paired_interval([a[s] - b[s] for s in seeds], level)
    if interval.excludes_zero() and interval.mean > 0:
        return True
    if a_correct and b_correct:
        both = [s for s in seeds if s in a_correct and s in b_correct]
        if both:
            test = pooled_mcnemar([(a_correct[s], b_correct[s]) for s in both])
            return test.a_only > test.b_only and test.p < 1 - level
    return False


@dataclass(frozen=True)
class Row:
    """One leaderboard row as the paired front sees it: its bytes, data access, and per seed its
    accuracy and (where the records hold them) which test inputs it got right."""

    size: float
    access: str
    accuracy: dict[int, float]
    correct: dict[int, np.ndarray] | None = None


def paired_front(rows: Sequence[Row], level: float = LEVEL) -> list[bool]:
    """The fair-company marker, a staircase by bytes: a row is on the front when no row of the
    same data access with at most its bytes is significantly more accurate, and it is
    significantly more accurate than every front row of the same access with fewer bytes (each
    step up in bytes buys a difference the paired data tell from chance). Significance:
    `significantly_better`. Rows are decided smallest first, so the result depends on sizes and
    accuracies only, never on the order given."""

    def better(a: Row, b: Row) -> bool:
        return significantly_better(a.accuracy, b.accuracy, a.correct, b.correct, level)

    front = [False] * len(rows)
    for i in sorted(range(len(rows)), key=lambda k: rows[k].size):
        row = rows[i]
        company = [j for j in range(len(rows)) if j != i and rows[j].access == row.access]
        beaten = any(rows[j].size <= row.size and better(rows[j], row) for j in company)
        earns = all(better(row, rows[j]) for j in company if front[j] and rows[j].size < row.size)
        front[i] = not beaten and earns
    return front
