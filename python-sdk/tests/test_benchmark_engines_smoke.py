"""benchmarks/engines.py runs end to end at tiny sizes (``--quick``); timings are printed, never asserted.

The script exits 1 when the engines' outputs differ by more than 1e-3, so a zero exit code also
means kif.run on onnxruntime and on torch agrees with both engines called directly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "engines.py"


def test_engines_benchmark_prints_every_model_and_ratio() -> None:
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
    cells = [c.strip() for c in header.strip("|").split("|")]
    assert cells[-4:] == ["speed ort", "speed ort vs torch-export", "speed torch", "maxdiff"]
    rows = {line.split("|")[1].strip(): line for line in lines if line.startswith("| ") and line != header}
    assert set(rows) == {"mlp", "cnn", "lstm", "transformer"}
    for line in rows.values():
        assert float(line.strip("|").split("|")[-1]) <= 1e-3  # outputs agree
