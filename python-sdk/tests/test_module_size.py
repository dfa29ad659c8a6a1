"""A line budget for SDK modules (tinygrad's sz.py idea): features grow into new modules, not into a 1,400-line file."""

from __future__ import annotations

from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "kif"
BUDGET = 450  # lines per module; split by concern before passing it


def test_every_sdk_module_fits_the_line_budget() -> None:
    sizes = {p.relative_to(SRC).as_posix(): len(p.read_text(encoding="utf-8").splitlines()) for p in SRC.rglob("*.py")}
    over = {name: n for name, n in sizes.items() if n > BUDGET}
    assert not over, f"modules over {BUDGET} lines: {over}"


def test_package_is_typed() -> None:
    assert (SRC / "py.typed").is_file()
