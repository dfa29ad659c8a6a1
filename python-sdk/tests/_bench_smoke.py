"""Running a benchmarks/ script end to end for a smoke test and reading its Markdown table (timings never asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
MODELS = {"mlp", "cnn", "lstm", "transformer"}  # benchmarks/infer.py's models


def run_benchmark(script: str, *args: str, timeout: int = 300) -> str:
    """The stdout of ``benchmarks/<script> args`` under the torch backend, asserting it exits 0."""
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "KERAS_BACKEND": "torch"},
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    return done.stdout


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def table(stdout: str, first: str) -> tuple[list[str], dict[str, list[str]]]:
    """The header of the table whose first column is ``first``, and its rows' cells keyed by their first cell."""
    lines = stdout.splitlines()
    header = next(line for line in lines if line.startswith(f"| {first} |"))
    rows = [_cells(line) for line in lines if line.startswith("| ") and line != header]
    return _cells(header), {cells[0]: cells for cells in rows}
