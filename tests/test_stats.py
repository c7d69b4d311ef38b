"""Paired statistics of the leaderboards: t intervals over seeds, McNemar over test inputs, the
packed per-input results records keep, and the fair-company front built from them."""

from __future__ import annotations

import numpy as np
import pytest

from innr_bench.engine.records import pack_correct, unpack_correct
from innr_bench.reporting.stats import (
    Row,
    paired_front,
    paired_interval,
    pooled_mcnemar,
    significantly_better,
)

T_975_2 = 4.302652729911275  # Student's t, 97.5 % quantile, 2 degrees of freedom (tables)


def test_the_paired_interval_is_students_t_over_the_seed_differences() -> None:
    interval = paired_interval([1.0, 2.0, 3.0])  # mean 2, sample std 1
    half = T_975_2 * 1.0 / 3**0.5
    assert interval.mean == 2.0 and interval.n == 3
    assert interval.low == pytest.approx(2.0 - half) and interval.high == pytest.approx(2.0 + half)
    assert not interval.excludes_zero()  # 2 - 2.48 < 0
    assert paired_interval([0.5, 0.6, 0.55]).excludes_zero()
    one = paired_interval([0.3])
    assert one.low is None and one.high is None and not one.excludes_zero()
    assert paired_interval([float("nan"), 1.0]).n == 1  # non-finite differences are left out


def test_pooled_mcnemar_counts_discordant_inputs_over_seeds() -> None:
    a0, b0 = np.array([1, 1, 1, 1, 0, 0], bool), np.array([0, 0, 0, 1, 0, 1], bool)  # A only 3, B only 1
    a1, b1 = np.array([1, 1, 1, 1, 1, 1], bool), np.array([0, 0, 0, 0, 0, 1], bool)  # A only 5
    test = pooled_mcnemar([(a0, b0), (a1, b1)])
    assert (test.a_only, test.b_only) == (8, 1)
    assert test.p == pytest.approx(2 * (1 + 9) / 2**9)  # exact two-sided binomial, n = 9, k <= 1
    assert pooled_mcnemar([(a0, a0)]).p == 1.0  # no discordant input: no evidence


@pytest.mark.parametrize("n", [1, 8, 13, 10_000])
def test_packed_per_input_results_round_trip(n: int) -> None:
    correct = np.random.default_rng(n).random(n) < 0.7
    assert np.array_equal(unpack_correct(pack_correct(correct), n), correct)


def test_better_by_seeds_or_else_by_inputs() -> None:
    assert significantly_better({0: 0.92, 1: 0.93, 2: 0.94}, {0: 0.90, 1: 0.91, 2: 0.92})
    assert not significantly_better({0: 0.92, 1: 0.90, 2: 0.94}, {0: 0.90, 1: 0.91, 2: 0.92})
    a = np.zeros(1000, dtype=bool)
    a[:700] = True
    b = a.copy()
    b[650:700] = False  # A right on 50 inputs B misses, never the reverse
    assert significantly_better({0: 0.70}, {0: 0.65}, {0: a}, {0: b})
    assert not significantly_better({0: 0.65}, {0: 0.70}, {0: b}, {0: a})


def test_the_fair_front_is_paired_and_compares_within_the_same_data_access() -> None:
    def row(size: float, access: str, *accuracies: float) -> Row:
        return Row(size, access, dict(enumerate(accuracies)))

    rows = [
        row(10, "yes", 0.80, 0.81, 0.79),   # smallest: on the front unless beaten
        row(20, "yes", 0.90, 0.92, 0.91),   # beats row 0 on every seed: earns its bytes
        row(30, "yes", 0.91, 0.90, 0.93),   # not reliably better than row 1: off the front
        row(40, "yes", 0.95, 0.96, 0.95),   # better than both front rows below it: on
        row(5, "no", 0.99, 0.99, 0.99),     # other data access: compared with nobody
    ]
    assert paired_front(rows) == [True, True, False, True, True]
    assert paired_front(rows[::-1]) == [True, True, False, True, True][::-1]  # order-free
    # seed spreads overlap (std ~0.01) but the paired differences are consistent
    close = [row(10, "yes", 0.900, 0.920, 0.910), row(20, "yes", 0.905, 0.925, 0.915)]
    assert paired_front(close) == [True, True]
    # a per-input test where the per-seed interval cannot decide (only one seed)
    a = np.zeros(1000, dtype=bool)
    a[:600] = True
    b = a.copy()
    b[600:700] = True  # B right on 100 inputs A misses, never the reverse
    one_seed = [Row(10, "yes", {0: 0.60}, {0: a}), Row(20, "yes", {0: 0.70}, {0: b})]
    assert paired_front(one_seed) == [True, True]
    assert paired_front([Row(10, "yes", {0: 0.60}), Row(20, "yes", {0: 0.70})]) == [True, False]
