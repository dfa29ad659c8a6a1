"""benchmarks/numpy_floor.py runs end to end at tiny sizes (``--quick``); timings are printed, never asserted.

The script fails (exit code 1) when the hand-written NumPy networks differ from kif.run by more
than 1e-4, so a zero exit code also means the independent hand code agrees with the runtime.
"""

from __future__ import annotations

from tests._bench_smoke import MODELS, run_benchmark, table


def test_numpy_floor_benchmark_prints_the_comparison_table() -> None:
    header, rows = table(run_benchmark("numpy_floor.py", "--quick", "--clock", "cpu"), "model")
    assert header == ["model", "KIF ms", "hand NumPy ms", "KIF/hand", "max abs diff"]
    assert set(rows) == MODELS
    for cells in rows.values():
        assert len(cells) == 5
        assert float(cells[4]) <= 1e-4  # the agreement the script also enforces
