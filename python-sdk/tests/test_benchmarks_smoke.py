"""benchmarks/load.py runs end to end on a tiny model (timings are printed, never asserted).

``--no-cold`` halves the number of child processes; the cold path is the same code
with one posix_fadvise call before each case.
"""

from __future__ import annotations

from pathlib import Path

from tests._bench_smoke import run_benchmark, table


def test_load_benchmark_prints_the_ratio_table(tmp_path: Path) -> None:
    stdout = run_benchmark("load.py", "--size-mb", "4", "--repeats", "1", "--no-cold", "--workdir", str(tmp_path))
    header, rows = table(stdout, "case")
    assert header == ["case", "median s", "ratio", "cold s", "cold ratio", "peak RSS MB", "RSS before MB"]
    for case in ("safetensors load_file", "kif.load .kif verify=True (open)", "kif.load dir verify=False + sum", "keras load_model .keras"):
        assert case in rows
    assert rows["safetensors load_file"][2] == "1.000"  # the ratio's own baseline
    assert "all full-read cases summed the weights to" in stdout
    assert list(tmp_path.iterdir()) == []  # the model files were cleaned up
