"""The compiled fast path (kif.validate.rs_schema) never says "valid" where jsonschema finds an error.

jsonschema-rs only vouches for valid instances; findings still come from jsonschema. So the one
property that matters is: vouched for => jsonschema (with KIF's strict integer and ECMA pattern
rules, kif.schemas) reports nothing. It is checked on every conformance document, positive and
negative, on the attributes of every layer in them, on hand-picked readings where the two
validators could differ, and on fuzzed documents. Every positive case must also be vouched for:
otherwise the fast path silently stops being taken.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kif import catalog, schemas, strict_json
from kif.validate import rs_schema

from .fuzz.strategies import fuzz_settings, mutated_document

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "conformance"


def _document(bundle: Path) -> Any:
    try:
        if bundle.is_dir():
            return strict_json.loads((bundle / "model.json").read_text(encoding="utf-8"))
        with zipfile.ZipFile(bundle) as archive:
            return strict_json.loads(archive.read("model.json").decode("utf-8"))
    except (OSError, KeyError, ValueError, NotImplementedError, RuntimeError, zipfile.BadZipFile, UnicodeDecodeError):
        return None  # a container-level negative case: no document to validate


def _bundles(kind: str) -> list[Path]:
    if kind == "cases":
        found = sorted((SUITE / kind).glob("*/*/model.kif"))
    else:  # a negative case holds bundle/ (directory form) or bundle.kif
        found = sorted(p for p in (SUITE / kind).glob("*/bundle*") if p.name in ("bundle", "bundle.kif"))
    assert found, f"no bundles under conformance/{kind}"
    return found


def _jsonschema_clean(relative_path: str, instance: object) -> bool:
    return not any(True for _ in schemas.validator(relative_path).iter_errors(instance))


def _agree(relative_path: str, instance: object) -> None:
    if rs_schema.vouches(relative_path, instance):
        errors = [e.message for e in schemas.validator(relative_path).iter_errors(instance)]
        assert not errors, f"{relative_path}: jsonschema-rs vouched for an instance jsonschema rejects: {errors[:3]}"


def _layer_attributes(doc: Any) -> list[tuple[str, dict[str, Any]]]:
    known = catalog.catalog()
    layers = doc.get("layers") if isinstance(doc, dict) else None
    return [
        (catalog.schema_path(item["type"]), item["attributes"])
        for item in (layers if isinstance(layers, list) else [])
        if isinstance(item, dict) and isinstance(item.get("type"), str)
        and item["type"] in known and isinstance(item.get("attributes"), dict)
    ]


def test_every_positive_case_is_vouched_for_and_valid() -> None:
    for bundle in _bundles("cases"):
        doc = _document(bundle)
        assert doc is not None, bundle
        assert rs_schema.vouches("graph.schema.json", doc), f"{bundle}: the fast path does not accept a valid document"
        assert _jsonschema_clean("graph.schema.json", doc), bundle
        for path, attributes in _layer_attributes(doc):
            assert rs_schema.vouches(path, attributes), f"{bundle}: {path} attributes not vouched for"


def test_negative_cases_are_never_vouched_for_wrongly() -> None:
    for bundle in _bundles("invalid"):
        doc = _document(bundle)
        if doc is None:
            continue
        _agree("graph.schema.json", doc)
        for path, attributes in _layer_attributes(doc):
            _agree(path, attributes)


@pytest.mark.parametrize(
    ("path", "instance", "vouched"),
    [
        ("layers/Dense.schema.json", {"units": 3.0}, False),  # JSON Schema's integer accepts 3.0; KIF's does not
        ("layers/Dense.schema.json", {"units": True}, False),
        ("layers/Dense.schema.json", {"units": 3}, True),
        ("layers/Dense.schema.json", {"units": 2**70}, None),  # beyond 64 bits: either way, as long as they agree
        ("layers/Reshape.schema.json", {"target_shape": [2.0, -1]}, False),
        ("layers/ReLU.schema.json", {"max_value": 6.0}, True),  # a float where a number belongs is fine
    ],
)
def test_readings_where_validators_could_differ(path: str, instance: dict[str, Any], vouched: bool | None) -> None:
    full = {**catalog.catalog()[path.split("/")[1].split(".")[0]].defaults, **instance}
    _agree(path, full)
    if vouched is not None:
        assert rs_schema.vouches(path, full) is vouched
        assert _jsonschema_clean(path, full) is vouched


def test_trailing_newline_in_a_name_is_not_vouched_for() -> None:
    doc = _document(SUITE / "cases" / "models" / "mlp" / "model.kif")
    doc["layers"][0]["name"] += "\n"  # ECMA-262 `$` does not match before a final newline (kif.schemas.ecma_pattern)
    assert not _jsonschema_clean("graph.schema.json", doc)
    assert not rs_schema.vouches("graph.schema.json", doc)


_SEEDS = [_document(SUITE / "cases" / case / "model.kif") for case in ("models/mlp", "layers_conv/conv1d-channels-first")]


@fuzz_settings(300)
@given(st.sampled_from(_SEEDS).flatmap(mutated_document))
def test_fuzzed_documents(raw: bytes) -> None:
    doc = json.loads(raw)
    _agree("graph.schema.json", doc)
    for path, attributes in _layer_attributes(doc):
        _agree(path, attributes)


def test_a_valid_load_does_not_import_jsonschema() -> None:
    code = "import sys, kif; kif.load(sys.argv[1]); assert 'jsonschema' not in sys.modules, 'jsonschema imported on the valid path'"
    bundle = SUITE / "cases" / "models" / "mobilenet-style" / "model.kif"
    done = subprocess.run([sys.executable, "-c", code, str(bundle)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
