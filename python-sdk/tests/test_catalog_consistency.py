"""One source of truth: every layer type exists as schema, spec page and reference kernel, and they agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kif import catalog
from kif.layers import kernels

ROOT = Path(__file__).resolve().parents[2]
SPEC_LAYERS = ROOT / "spec" / "layers"
NON_TYPE_PAGES = {"index", "activations"}  # catalog overview and the activation-function definitions


def _spec_types() -> set[str]:
    ops = {t for t in catalog.catalog() if t.startswith("op.") and f"\n## {t}\n" in (ROOT / catalog.get(t).spec_page).read_text()}
    return {p.stem for p in SPEC_LAYERS.glob("*.md")} - NON_TYPE_PAGES | ops


LAYER_TYPES = sorted(t for t in catalog.catalog() if not t.startswith("op."))  # primitive ops: tests/ops/test_generated.py


def test_every_layer_type_has_schema_spec_page_and_kernel() -> None:
    schema_types = set(catalog.catalog())
    kernel_types = set(kernels())
    spec_types = _spec_types()
    assert schema_types - spec_types == set(), "schemas without a spec page"
    assert spec_types - schema_types == set(), "spec pages without a schema"
    assert schema_types - kernel_types == set(), "schemas without a reference kernel"
    assert kernel_types - schema_types == set(), "kernels without a schema"


def _table_names(page: str, heading: str) -> set[str]:
    """First-column `names` of the Markdown table under a '## heading'."""
    match = re.search(rf"^## {heading}\s*$(.*?)(?=^## |\Z)", page, flags=re.M | re.S)
    assert match, f"missing section '## {heading}'"
    names = set()
    for line in match.group(1).splitlines():
        cell = re.match(r"^\|\s*`([^`]+)`\s*\|", line)
        if cell:
            names.add(cell.group(1))
    return names


@pytest.mark.parametrize("layer_type", LAYER_TYPES)
def test_spec_page_lists_the_schema_attributes_and_weights(layer_type: str) -> None:
    definition = catalog.get(layer_type)
    page = (SPEC_LAYERS / f"{layer_type}.md").read_text(encoding="utf-8")
    assert page.startswith(f"# {layer_type}\n"), "the page title must be the type name"
    assert f"Since KIF {definition.since}" in page, "the page must state the version the type appeared in"
    assert _table_names(page, "Attributes") == set(definition.attributes)
    assert _table_names(page, "Weights") == set(definition.weights)


@pytest.mark.parametrize("layer_type", sorted(catalog.catalog()))
def test_schema_requires_every_attribute(layer_type: str) -> None:
    """Canonical form: writers emit every attribute, so the schema requires all of them."""
    definition = catalog.get(layer_type)
    assert sorted(definition.schema["required"]) == sorted(definition.attributes)
    for role, weight in definition.weights.items():
        for condition in weight.conditions:
            head = re.split(r"[/=!]", condition)[0]
            assert head in definition.attributes, f"weight {role} depends on unknown attribute {condition}"
