"""benchmarks/write_floor.py (the components of convert and export) runs end to end on a tiny model: a row per kind,
one per tree with --trees, and the temporary files are removed. Timings are printed, never asserted."""

from __future__ import annotations

from pathlib import Path

from tests._bench_smoke import run_benchmark, table

SRC = Path(__file__).resolve().parents[1] / "src"


def test_every_convert_component_is_printed_and_cleaned_up(tmp_path: Path) -> None:
    stdout = run_benchmark(
        "write_floor.py", "--sides", "convert", "--convert-mb", "2", "--repeats", "1", "--prefault-mb", "8", "--workdir", str(tmp_path)
    )
    header, rows = table(stdout, "kind")
    assert header == ["kind", "tree", "wall ms", "CPU ms", "fsync ms"]
    expected = ["c-h5py", "c-kif", "c-write", "c-write-fsync", "c-sha1", "c-sha2", "c-crc", "c-floor", "c-scan", "c-open", "c-map"]
    assert list(rows) == [*expected, "c-check", "c-imports"]
    assert all(float(cells[2]) > 0 for cells in rows.values())
    assert float(rows["c-kif"][4]) > 0 and float(rows["c-write"][4]) == 0  # the conversion fsyncs; a bare write does not
    assert list(tmp_path.iterdir()) == []


def test_trees_run_the_whole_operations_only(tmp_path: Path) -> None:
    stdout = run_benchmark(
        "write_floor.py", "--trees", str(SRC), "--kinds", "c-kif,e-kif", "--convert-mb", "2", "--repeats", "1", "--workdir", str(tmp_path)
    )
    _, rows = table(stdout, "kind")
    assert list(rows) == ["c-kif", "e-kif"] and {cells[1] for cells in rows.values()} == {str(SRC)}
    assert list(tmp_path.iterdir()) == []
