"""benchmarks/engines.py runs end to end at tiny sizes (``--quick``); timings are printed, never asserted.

The script exits 1 when the engines' outputs differ by more than 1e-3, so a zero exit code also
means kif.run on onnxruntime and on torch agrees with both engines called directly."""

from __future__ import annotations

from tests._bench_smoke import MODELS, run_benchmark, table


def test_engines_benchmark_prints_every_model_and_ratio() -> None:
    header, rows = table(run_benchmark("engines.py", "--quick"), "model")
    assert header[-4:] == ["speed ort", "speed ort vs torch-export", "speed torch", "maxdiff"]
    assert set(rows) == MODELS
    for cells in rows.values():
        assert float(cells[-1]) <= 1e-3  # outputs agree
