"""The op table is the one source of truth: schemas/ops/ and spec/ops/<family>.md are what it renders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kif import catalog
from kif.layers import kernels
from kif.ops import ops
from kif.ops.generate import render

ROOT = Path(__file__).resolve().parents[3]


def test_generated_files_are_up_to_date() -> None:
    stale = [rel for rel, text in render().items() if not (ROOT / rel).is_file() or (ROOT / rel).read_text(encoding="utf-8") != text]
    assert not stale, f"run `python -m kif.ops.generate`: stale {stale}"
    on_disk = {f"schemas/ops/{p.name}" for p in (ROOT / "schemas" / "ops").glob("*.schema.json")}
    assert on_disk == {rel for rel in render() if rel.startswith("schemas/")}, "schemas/ops holds a file no op renders"


def test_every_op_is_in_the_catalog_with_a_kernel() -> None:
    assert set(ops()) == {t for t in catalog.catalog() if t.startswith("op.")}
    assert set(ops()) <= set(kernels())


@pytest.mark.parametrize("op_type", sorted(ops()))
def test_page_section_lists_the_schema_attributes(op_type: str) -> None:
    definition = catalog.get(op_type)
    page = (ROOT / definition.spec_page).read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(op_type)}\n(.*?)(?=^## |\Z)", page, flags=re.M | re.S)
    assert match and f"Since KIF {definition.since}" in match.group(1)
    names = set(re.findall(r"^\| `([^`]+)` \|", match.group(1), flags=re.M))
    assert names == set(definition.attributes) | set(definition.weights)
    assert sorted(definition.schema["required"]) == sorted(definition.attributes)
