"""benchmarks/importers.py runs end to end at tiny sizes (no timing assertions: tests never assert wall-clock times)."""

from __future__ import annotations

from tests._bench_smoke import MODELS, run_benchmark, table


def test_importers_benchmark_quick_run_prints_the_table() -> None:
    # the table follows a line with the run's conditions
    header, rows = table(run_benchmark("importers.py", "--quick", timeout=600), "model")
    assert header[:3] == ["model", "kif.torch ms", "hand torch ms"]
    assert set(rows) == MODELS
