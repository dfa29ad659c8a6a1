"""benchmarks/infer.py runs end to end at tiny sizes (``--quick``); timings are printed, never asserted.

The script itself fails (exit code 1) when ONNX Runtime or ReferenceEvaluator disagree with
the KIF runtime by more than 1e-3, so a zero exit code also means the three engines agree.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "infer.py"


def test_infer_benchmark_prints_the_comparison_table() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"],
        capture_output=True,
        text=True,
        env={**os.environ, "KERAS_BACKEND": "torch"},
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    header = next(line for line in lines if line.startswith("| model |"))
    assert [cell.strip() for cell in header.strip("|").split("|")] == [
        "model",
        "KIF ms",
        "ORT ms",
        "RefEval ms",
        "KIF/ORT",
        "KIF/RefEval",
        "maxdiff ORT",
        "maxdiff RefEval",
    ]
    rows = {line.split("|")[1].strip(): line.split("|")[2:-1] for line in lines if line.startswith("| ") and line != header}
    assert set(rows) == {"mlp", "cnn", "lstm", "transformer"}
    for cells in rows.values():
        assert len(cells) == 7
        assert max(float(cells[5]), float(cells[6])) <= 1e-3  # the agreement the script also enforces
