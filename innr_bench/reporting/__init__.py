"""Reading result sets: one Board behind every renderer (board, report, plots, inheritance,
site, docs_site), paired statistics (stats), and the one agreement rule (comparison) behind the
regression gate (gate) and the reproducibility report (reproduce)."""
