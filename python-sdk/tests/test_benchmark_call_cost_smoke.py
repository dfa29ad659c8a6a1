"""benchmarks/call_cost.py runs end to end for every mode (timings are printed, never asserted)."""

from __future__ import annotations

from tests._bench_smoke import run_benchmark, table


def test_call_cost_prints_a_row_per_mode() -> None:
    stdout = run_benchmark("call_cost.py", "--calls", "3", "--rounds", "1")
    header, rows = table(stdout, "mode")
    assert header == ["mode", "µs per call"]
    assert set(rows) == {"hand", "reference", "onnxruntime", "ort-direct", "torch", "torch-module"}
    assert all(float(cells[1]) > 0 for cells in rows.values())
