"""benchmarks/speed.py (issue #15's table) runs end to end on tiny inputs: every row and anchor is printed and
the temporary files are removed. Timings are printed, never asserted."""

from __future__ import annotations

from pathlib import Path

from tests._bench_smoke import run_benchmark


def test_speed_table_has_every_row_and_cleans_up(tmp_path: Path) -> None:
    stdout = run_benchmark("speed.py", "--size-mb", "4", "--convert-mb", "2", "--repeats", "1", "--workdir", str(tmp_path), timeout=600)
    rows = [line.split("|")[1:-1] for line in stdout.splitlines() if line.startswith("| ") and not line.startswith("| row")]
    kinds = {cells[1].strip() for cells in rows}
    expected = {"import-kif", "open-kif", "full-kif", "full-kif-bulk", "save-kif", "save-kif-dir", "convert-kif", "export-kif"}
    assert expected <= kinds and {"(load-torch)", "(save-torch)", "(load-safetensors)"} <= kinds
    for cells in rows:
        assert float(cells[2]) > 0 and float(cells[4]) > 0 and cells[5].strip().endswith("x"), cells
    assert list(tmp_path.iterdir()) == []
