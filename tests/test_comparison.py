"""The one agreement rule of the gate, `compare` and the run's reproducibility report."""

from __future__ import annotations

import math
import statistics

import pytest
from scipy import stats as scipy_stats

from innr_bench.reporting.comparison import Sample, compare_samples


def test_paired_judges_every_seed_on_its_own() -> None:
    reference = Sample.of({"0": 90.0, "1": 92.0, "2": 94.0})
    # the mean moves by -0.2 only, but seed 1 drops by 0.6: beyond 0.5 for that seed
    current = Sample.of({"0": 90.0, "1": 91.4, "2": 94.0})
    verdict = compare_samples(reference, current, same_environment=True, tolerance_pt=0.5)
    assert verdict.mode == "paired" and verdict.allowed == 0.5
    assert verdict.change == pytest.approx(-0.2)
    assert verdict.worse and not verdict.better and not verdict.agrees
    assert verdict.seeds_beyond() == {"1"}
    assert verdict.largest_same_seed == pytest.approx(0.6)


def test_an_unchanged_rerun_agrees_with_every_change_zero() -> None:
    same = Sample.of({"0": 97.1, "1": 97.3})
    verdict = compare_samples(same, same, same_environment=True, tolerance_pt=0.0)
    assert verdict.agrees and verdict.changes == {"0": 0.0, "1": 0.0}


def test_another_environment_pairs_seeds_and_allows_the_noise_their_changes_measure() -> None:
    reference = Sample.of({"0": 90.0, "1": 92.0, "2": 94.0})
    # floating-point order moved each seed differently: changes -1.0, +0.5, -1.5
    current = Sample.of({"0": 89.0, "1": 92.5, "2": 92.5})
    verdict = compare_samples(reference, current, same_environment=False, tolerance_pt=0.5)
    changes = [-1.0, 0.5, -1.5]
    half = scipy_stats.t.ppf(0.975, 2) * statistics.stdev(changes) / math.sqrt(3)  # the 95 % t interval
    assert verdict.mode == "cross-env" and verdict.change == pytest.approx(-2 / 3)
    assert verdict.allowed == pytest.approx(0.5 + half) and verdict.agrees
    assert verdict.seeds_beyond() == set()


def test_across_environments_identical_values_catch_a_one_point_shift() -> None:
    """No noise measured (every seed moved by exactly the same): the tolerance alone."""
    reference = Sample.of({"0": 90.0, "1": 92.0})
    planted = Sample.of({"0": 91.0, "1": 93.0})  # the baseline 1 point better on every seed
    verdict = compare_samples(planted, reference, same_environment=False, tolerance_pt=0.5)
    assert verdict.mode == "cross-env" and verdict.allowed == pytest.approx(0.5)
    assert verdict.worse and verdict.seeds_beyond() == {"0", "1"}
    assert compare_samples(reference, reference, same_environment=False, tolerance_pt=0.5).agrees


def test_a_chaotic_cell_across_environments_gets_a_wide_allowance() -> None:
    """Measured on an Intel Xeon against the published AMD EPYC run of suites/mnist.yaml: FGSM at
    eps 0.0924 on the 48-wide INNR copy moved -6.2, -6.8 and -1.8 points with the same seeds."""
    reference = Sample.of({"0": 60.0, "1": 64.0, "2": 58.0})
    current = Sample.of({"0": 53.8, "1": 57.2, "2": 56.2})
    verdict = compare_samples(reference, current, same_environment=False, tolerance_pt=0.5)
    assert verdict.change == pytest.approx(-4.93, abs=0.01) and verdict.allowed > 7 and verdict.agrees
    one = compare_samples(Sample.of({"0": 60.0}), Sample.of({"0": 53.8}), same_environment=False,
                          tolerance_pt=0.5)  # one seed: no noise can be measured
    assert one.allowed == 0.5 and one.worse


def test_seeds_on_no_side_together_compare_by_spread() -> None:
    reference = Sample.of({"0": 90.0, "1": 92.0, "2": 94.0})  # std 2.0
    current = Sample.of({"3": 88.0, "4": 90.0, "5": 92.0})  # std 2.0, mean 2 points lower
    verdict = compare_samples(reference, current, same_environment=False, tolerance_pt=0.5)
    standard_error = math.sqrt(2.0**2 / 3 + 2.0**2 / 3)  # 1.633
    assert verdict.mode == "spread"
    assert verdict.allowed == pytest.approx(0.5 + 2 * standard_error)
    assert verdict.change == pytest.approx(-2.0) and verdict.agrees  # 2.0 < 3.77: within noise
    flat = compare_samples(Sample.of({"0": 90.0, "1": 90.0}), Sample.of({"2": 88.0, "3": 88.0}),
                           same_environment=False, tolerance_pt=0.5)
    assert flat.worse and flat.seeds_beyond() == {"*"}


def test_common_seeds_pair_and_a_summary_only_baseline_falls_back_to_the_spread() -> None:
    reference = Sample.of({"0": 90.0, "1": 91.0})
    other_seeds = Sample.of({"0": 90.0, "5": 91.0})
    partly = compare_samples(reference, other_seeds, same_environment=True, tolerance_pt=0.5)
    assert partly.mode == "paired" and partly.changes == {"0": 0.0}
    summary_only = Sample({}, mean=90.5, std=0.7071, n=2)  # a baseline recorded before per-seed values
    verdict = compare_samples(summary_only, reference, same_environment=True, tolerance_pt=0.5)
    assert verdict.mode == "spread" and verdict.change == pytest.approx(0.0) and verdict.agrees
    assert verdict.seeds_beyond() == set()


def test_an_improvement_is_better_not_worse() -> None:
    verdict = compare_samples(Sample.of({"0": 90.0}), Sample.of({"0": 91.0}), same_environment=True,
                              tolerance_pt=0.5)
    assert verdict.better and not verdict.worse


def test_a_value_that_is_not_a_number_never_agrees() -> None:
    verdict = compare_samples(Sample.of({"0": 90.0}), Sample.of({"0": float("nan")}), same_environment=True,
                              tolerance_pt=0.5)
    assert not verdict.agrees and verdict.seeds_beyond() == {"0"} and verdict.excess == math.inf
    with pytest.raises(ValueError, match="at least one seed"):
        Sample.of({})


def test_excess_ranks_the_value_beyond_its_allowance_first() -> None:
    noisy = compare_samples(Sample.of({"0": 80.0, "1": 90.0}), Sample.of({"0": 81.5, "1": 90.5}),
                            same_environment=False, tolerance_pt=0.5)  # +1.0, allowed ~6.9
    flat = compare_samples(Sample.of({"0": 90.0, "1": 90.0}), Sample.of({"0": 90.8, "1": 90.8}),
                           same_environment=False, tolerance_pt=0.5)  # +0.8, allowed 0.5 (no noise)
    assert noisy.agrees and not flat.agrees and flat.excess > noisy.excess
    swapped = compare_samples(Sample.of({"0": 99.0, "1": 98.0}), Sample.of({"0": 98.0, "1": 99.0}),
                              same_environment=True, tolerance_pt=0.5)
    assert swapped.change == 0.0 and swapped.worse and swapped.better  # paired: each seed is judged
    assert swapped.worst_seed == pytest.approx(-1.0)
