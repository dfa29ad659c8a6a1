"""benchmarks/infer.py runs end to end at tiny sizes (``--quick``); timings are printed, never asserted.

The script itself fails (exit code 1) when ONNX Runtime or ReferenceEvaluator disagree with
the KIF runtime by more than 1e-3, so a zero exit code also means the three engines agree.
"""

from __future__ import annotations

from tests._bench_smoke import MODELS, run_benchmark, table


def test_infer_benchmark_prints_the_comparison_table() -> None:
    header, rows = table(run_benchmark("infer.py", "--quick"), "model")
    assert header == ["model", "KIF ms", "ORT ms", "RefEval ms", "KIF/ORT", "KIF/RefEval", "maxdiff ORT", "maxdiff RefEval"]
    assert set(rows) == MODELS
    for cells in rows.values():
        assert len(cells) == 8
        assert max(float(cells[6]), float(cells[7])) <= 1e-3  # the agreement the script also enforces
