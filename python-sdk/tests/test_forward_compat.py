"""spec/versioning.md: a reader of 0.2 reads a newer-minor document, ignoring unknown fields (warning only), while
the same fields in a document of its own minor version break the schema and an unknown attribute always errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

import kif
from kif import codes

ROOT = Path(__file__).resolve().parents[2]
CASE = ROOT / "conformance" / "invalid" / "newer-minor-unknown-fields"


def _unknown_fields(node: object, where: str = "") -> list[str]:
    """Pointers of every member named future_* in the committed case: read from the case itself, not restated."""
    found: list[str] = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        here = f"{where}/{str(key).replace('~', '~0').replace('/', '~1')}"
        found += [here] if str(key).startswith("future_") else _unknown_fields(value, here)
    return found


UNKNOWN = tuple(_unknown_fields(json.loads((CASE / "bundle" / "model.json").read_text(encoding="utf-8"))))


def test_the_case_has_unknown_fields_at_eight_levels() -> None:
    assert len(UNKNOWN) == 8 and "/future_top" in UNKNOWN and not any("/attributes/" in w for w in UNKNOWN), UNKNOWN


def _resolve(doc: object, where: str) -> object:
    for part in where.split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]  # type: ignore[index]
    return doc


def _copy_with(tmp_path: Path, edit) -> Path:
    target = tmp_path / "bundle"
    shutil.copytree(CASE / "bundle", target)
    doc = json.loads((target / "model.json").read_text(encoding="utf-8"))
    edit(doc)
    (target / "model.json").write_text(json.dumps(doc), encoding="utf-8")
    return target


def test_case_has_unknown_fields_at_every_level() -> None:
    doc = json.loads((CASE / "bundle" / "model.json").read_text(encoding="utf-8"))
    assert doc["kif_version"] == "0.99.0"
    for where in UNKNOWN:
        assert _resolve(doc, where) == {"added_in": "0.99.0", "values": [1, 2]}, where
    assert json.loads((CASE / "case.json").read_text())["expect"] == {
        "code": "version-newer-minor", "pointer": "/kif_version", "severity": "warning"
    }  # fmt: skip


def test_newer_minor_reader_ignores_them_with_one_warning_and_computes_the_same() -> None:
    report = kif.validate(CASE / "bundle")
    assert [(f.code, f.pointer, f.severity) for f in report.findings] == [("version-newer-minor", "/kif_version", codes.WARNING)]
    model = kif.load(CASE / "bundle")
    x = np.linspace(-1, 1, 8, dtype="float32").reshape(2, 4)
    got = kif.run(model, {"x": x})["dense_2"]
    w = load_file(str(CASE / "bundle" / "weights.safetensors"))  # oracle: the two Dense layers in NumPy
    hidden = np.maximum(x @ w["dense_1/kernel"] + w["dense_1/bias"], 0)
    np.testing.assert_allclose(got, hidden @ w["dense_2/kernel"] + w["dense_2/bias"], rtol=1e-6, atol=1e-6)


def test_same_fields_in_a_document_of_the_readers_minor_break_the_schema(tmp_path: Path) -> None:
    bundle = _copy_with(tmp_path, lambda doc: doc.update(kif_version=kif.SPEC_VERSION))
    report = kif.validate(bundle)
    found = {f.pointer for f in report.errors if f.code == "schema-violation"}
    parents = {where.rsplit("/", 1)[0] or "" for where in UNKNOWN}  # JSON Schema reports the object holding the field
    assert parents <= found, parents - found
    assert "version-newer-minor" not in report.codes()


def test_an_unknown_attribute_is_an_error_in_any_version(tmp_path: Path) -> None:
    bundle = _copy_with(tmp_path, lambda doc: doc["layers"][0]["attributes"].update(future_attribute=1))
    report = kif.validate(bundle)
    assert ("layer-attribute-unknown", "/layers/0/attributes/future_attribute") in [(f.code, f.pointer) for f in report.errors]
