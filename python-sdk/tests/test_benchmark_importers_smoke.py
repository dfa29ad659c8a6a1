"""benchmarks/importers.py runs end to end at tiny sizes (no timing assertions: tests never assert wall-clock times)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "importers.py"


def test_importers_benchmark_quick_run_prints_the_table() -> None:
    result = subprocess.run([sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    # the table follows a line with the run's conditions
    start = next(i for i, line in enumerate(lines) if line.startswith("| model | kif.torch ms | hand torch ms"))
    rows = [line for line in lines[start + 2 :] if line.startswith("| ")]
    assert {line.split("|")[1].strip() for line in rows} == {"mlp", "cnn", "lstm", "transformer"}
