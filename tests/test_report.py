"""Report helpers: mean ± std over seeds, the Δ interval, and the one HTML table renderer."""

from __future__ import annotations

import pandas as pd

from innr_bench.reporting.report import _interval, html_table, mean_std, render
from innr_bench.reporting.stats import paired_interval


def test_mean_std_is_the_sample_std_over_seeds_and_says_when_there_is_one_seed() -> None:
    assert mean_std(pd.Series([0.9, 0.92, 0.94]), 100) == "92.00 ± 2.00"
    assert mean_std(pd.Series([0.9]), 100) == "90.00 ± n/a"
    assert mean_std(pd.Series([], dtype=float)) == "n/a"


def test_the_delta_interval_is_students_t_over_seeds() -> None:
    # mean -0.01, sample std 0.01, t(0.975, 2) = 4.303: half width 0.0248
    assert _interval(paired_interval([-0.02, -0.01, 0.0])) == "[-3.48, +1.48]"
    assert _interval(paired_interval([-0.01])) == "n/a"


def test_html_cells_are_escaped_and_every_format_renders_the_sections() -> None:
    frame = pd.DataFrame({"method": ["<script>x</script>"], "bytes": ["1,024"]})
    table = html_table(frame)
    assert "&lt;script&gt;" in table and "<script>" not in table and 'class="sortable"' in table
    sections = [("title <1>", frame)]
    assert "<h3>title &lt;1&gt;</h3>" in render(sections, "html", "cap")
    assert "### title <1>" in render(sections, "md", "cap")
    assert "\\toprule" in render(sections, "tex", "cap")


def test_pareto_marks_the_rows_no_other_row_dominates() -> None:
    from innr_bench.reporting.report import _pareto

    sizes, accuracies = [10, 20, 20, 30, 5], [0.90, 0.95, 0.94, 0.95, 0.50]
    # (20, .94) loses to (20, .95) at equal size; (30, .95) to (20, .95) at equal accuracy
    assert _pareto(sizes, accuracies) == [True, True, False, False, True]
