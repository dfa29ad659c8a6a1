"""benchmarks/numpy_floor.py runs end to end at tiny sizes (``--quick``); timings are printed, never asserted.

The script fails (exit code 1) when the hand-written NumPy networks differ from kif.run by more
than 1e-4, so a zero exit code also means the independent hand code agrees with the runtime.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "numpy_floor.py"


def test_numpy_floor_benchmark_prints_the_comparison_table() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--clock", "cpu"],
        capture_output=True,
        text=True,
        env={**os.environ, "KERAS_BACKEND": "torch"},
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    header = next(line for line in lines if line.startswith("| model |"))
    assert [cell.strip() for cell in header.strip("|").split("|")] == ["model", "KIF ms", "hand NumPy ms", "KIF/hand", "max abs diff"]
    rows = {line.split("|")[1].strip(): line.split("|")[2:-1] for line in lines if line.startswith("| ") and line != header}
    assert set(rows) == {"mlp", "cnn", "lstm", "transformer"}
    for cells in rows.values():
        assert len(cells) == 4
        assert float(cells[3]) <= 1e-4  # the agreement the script also enforces
