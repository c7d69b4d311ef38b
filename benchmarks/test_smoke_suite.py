"""The smoke suite end to end (train, compress, evaluate, attack), recomputing every cell."""

from __future__ import annotations

from pathlib import Path

from innr_bench.config import load_suite
from innr_bench.engine.runner import Runner

SMOKE = Path(__file__).resolve().parents[1] / "suites" / "smoke.yaml"


def test_smoke_suite_end_to_end(benchmark, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("INNR_BENCH_CACHE", str(tmp_path / "cache"))
    suite = load_suite(SMOKE)
    summary = benchmark.pedantic(
        lambda: Runner(suite, out_dir=tmp_path, device="cpu", force=True).run(), rounds=3, iterations=1
    )
    assert summary.failed == []
