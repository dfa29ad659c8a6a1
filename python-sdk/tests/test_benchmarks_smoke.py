"""benchmarks/load.py runs end to end on a tiny model (timings are printed, never asserted).

``--no-cold`` halves the number of child processes; the cold path is the same code
with one posix_fadvise call before each case.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "load.py"


def test_load_benchmark_prints_the_ratio_table(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--size-mb", "4", "--repeats", "1", "--no-cold", "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "KERAS_BACKEND": "torch"},
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    header = next(line for line in lines if line.startswith("| case |"))
    assert [cell.strip() for cell in header.strip("|").split("|")] == [
        "case",
        "median s",
        "ratio",
        "cold s",
        "cold ratio",
        "peak RSS MB",
        "RSS before MB",
    ]
    rows = {line.split("|")[1].strip(): line for line in lines if line.startswith("| ") and line is not header}
    for case in ("safetensors load_file", "kif.load .kif verify=True (open)", "kif.load dir verify=False + sum", "keras load_model .keras"):
        assert case in rows
    assert rows["safetensors load_file"].split("|")[3].strip() == "1.000"  # the ratio's own baseline
    assert "all full-read cases summed the weights to" in done.stdout
    assert list(tmp_path.iterdir()) == []  # the model files were cleaned up
