"""benchmarks/engines.py runs end to end at tiny sizes (``--quick``); timings are printed, never asserted.

The script exits 1 when the engines' outputs differ by more than 1e-3, so a zero exit code also
means kif.run on onnxruntime and on torch agrees with both engines called directly."""

from __future__ import annotations

from tests._bench_smoke import MODELS, run_benchmark, table


def test_engines_benchmark_prints_every_model_and_ratio() -> None:
    header, rows = table(run_benchmark("engines.py", "--quick"), "model")
    assert header[-5:] == ["speed ort", "speed ort vs torch-export", "speed torch module", "speed torch", "maxdiff"]
    assert set(rows) == MODELS
    for cells in rows.values():
        assert float(cells[-1]) <= 1e-3  # outputs agree


def test_engines_benchmark_torch_only() -> None:
    header, rows = table(run_benchmark("engines.py", "--quick", "--engines", "torch"), "model")
    assert header[1:] == ["kif torch ms", "kif.torch module ms", "torch direct ms", "speed torch module", "speed torch", "maxdiff"]
    assert set(rows) == MODELS
    for cells in rows.values():
        assert float(cells[-1]) <= 1e-3  # kif.run, the module and the hand-written twin agree
