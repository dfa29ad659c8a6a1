"""benchmarks/speed.py (issue #15's table) runs end to end on tiny inputs: every row and anchor is printed and
the temporary files are removed. Timings are printed, never asserted."""

from __future__ import annotations

from pathlib import Path

from tests._bench_smoke import run_benchmark, table

SRC = Path(__file__).resolve().parents[1] / "src"


def test_speed_table_has_every_row_and_cleans_up(tmp_path: Path) -> None:
    stdout = run_benchmark("speed.py", "--size-mb", "4", "--convert-mb", "2", "--repeats", "1", "--workdir", str(tmp_path), timeout=600)
    rows = [line.split("|")[1:-1] for line in stdout.splitlines() if line.startswith("| ") and not line.startswith("| row")]
    kinds = {cells[1].strip() for cells in rows}
    expected = {"import-kif", "open-kif", "full-kif", "full-kif-bulk", "save-kif", "save-kif-dir", "convert-kif", "export-kif"}
    assert expected <= kinds and {"(load-torch)", "(save-torch)", "(load-safetensors)"} <= kinds
    for cells in rows:
        assert float(cells[2]) > 0 and float(cells[4]) > 0 and cells[5].strip().endswith("x"), cells
    assert list(tmp_path.iterdir()) == []


def test_speed_cpu_clock_prints_the_save_row(tmp_path: Path) -> None:
    stdout = run_benchmark("speed.py", "--rows", "save", "--size-mb", "2", "--repeats", "1", "--clock", "cpu", "--workdir", str(tmp_path))
    assert "cpu clock" in stdout
    kinds = [line.split("|")[2].strip() for line in stdout.splitlines() if line.startswith("| save |")]
    assert kinds == ["save-kif", "save-kif-dir", "(save-torch)", "(save-safetensors)"]
    assert list(tmp_path.iterdir()) == []


def test_save_ab_prints_a_row_per_tree(tmp_path: Path) -> None:
    stdout = run_benchmark("save_ab.py", "--trees", str(SRC), "--size-mb", "2", "--repeats", "1", "--workdir", str(tmp_path))
    header, rows = table(stdout, "tree")
    assert header[-2:] == ["archive / torch.save", "archive / directory"]
    assert list(rows) == [str(SRC)]
    assert rows[str(SRC)][-1].endswith("x") and rows[str(SRC)][-2].endswith("x")
    assert list(tmp_path.iterdir()) == []
