"""The generated schema checks (kif/validate/_schema_code) are current and accept exactly what jsonschema accepts.

The oracle is jsonschema's Draft202012Validator with KIF's strict integer and ECMA pattern rules (kif.schemas), the
validator whose findings the SDK reports. Agreement is checked on every conformance document, positive and negative,
on the attributes of each of their layers, on readings where the two could differ, and on mutated documents.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kif import catalog, schemas, schemas_codegen, strict_json
from kif.validate import compiled_schema

from .fuzz.strategies import fuzz_settings, json_values, mutated_document

SUITE = Path(__file__).resolve().parents[2] / "conformance"
# the schema files with a generated check (the others keep the jsonschema-rs/jsonschema path)
GENERATED = sorted(p for p in schemas.all_schemas() if (schemas_codegen.OUT / f"{compiled_schema.module_name(p)}.py").is_file())


def test_committed_modules_match_the_schemas() -> None:
    expected = schemas_codegen.render_all()
    present = {p.name: p.read_text(encoding="utf-8") for p in schemas_codegen.OUT.glob("*.py")}
    assert present.keys() == expected.keys() and all(present[n] == expected[n] for n in expected), (
        "python-sdk/src/kif/validate/_schema_code is stale: run `python -m kif.schemas_codegen --write`"
    )


def test_every_schema_on_the_open_path_has_a_generated_check() -> None:
    needed = {"graph.schema.json", "common.schema.json"} | {catalog.schema_path(t) for t in catalog.catalog()}
    assert needed <= set(GENERATED), sorted(needed - set(GENERATED))


def _document(bundle: Path) -> Any:
    try:
        if bundle.is_dir():
            return strict_json.loads((bundle / "model.json").read_text(encoding="utf-8"))
        with zipfile.ZipFile(bundle) as archive:
            return strict_json.loads(archive.read("model.json").decode("utf-8"))
    except (OSError, KeyError, ValueError, NotImplementedError, RuntimeError, zipfile.BadZipFile, UnicodeDecodeError):
        return None  # a container-level negative case: no document to validate


def _documents() -> list[tuple[str, Any]]:
    found = sorted((SUITE / "cases").glob("*/*/model.kif"))
    found += sorted(p for p in (SUITE / "invalid").glob("*/bundle*") if p.name in ("bundle", "bundle.kif"))
    docs = [(str(p.relative_to(SUITE)), _document(p)) for p in found]
    return [(name, doc) for name, doc in docs if doc is not None]


def _attributes(doc: Any) -> list[tuple[str, Any]]:
    """(schema file, attributes) of each layer of a known type, and of the layer a wrapper holds."""
    known, out = catalog.catalog(), []
    layers = doc.get("layers") if isinstance(doc, dict) else None
    for item in layers if isinstance(layers, list) else []:
        if not (isinstance(item, dict) and isinstance(item.get("type"), str) and item["type"] in known):
            continue
        if not isinstance(item.get("attributes"), dict):
            continue
        out.append((catalog.schema_path(item["type"]), item["attributes"]))
        inner = item["attributes"].get(known[item["type"]].weights_from or "")
        kind = inner.get("type") if isinstance(inner, dict) else None
        if isinstance(kind, str) and kind in known and isinstance(inner.get("attributes"), dict):
            out.append((catalog.schema_path(inner["type"]), inner["attributes"]))
    return out


def _assert_agree(relative_path: str, instance: object) -> None:
    expected = schemas.validator(relative_path).is_valid(instance)
    assert compiled_schema.vouches(relative_path, instance) is expected, (relative_path, instance)


_DOCS = _documents()
_ATTRIBUTES = [pair for _, doc in _DOCS for pair in _attributes(doc)]


def test_conformance_documents_and_their_layers_agree_with_jsonschema() -> None:
    assert len(_DOCS) > 100 and len(_ATTRIBUTES) > 100
    for name, doc in _DOCS:
        expected = schemas.validator("graph.schema.json").is_valid(doc)
        assert compiled_schema.vouches("graph.schema.json", doc) is expected, name
    for path, attributes in _ATTRIBUTES:
        _assert_agree(path, attributes)


@pytest.mark.parametrize(
    ("path", "instance"),
    [
        ("layers/Dense.schema.json", {"units": 3.0, "activation": "linear", "use_bias": True}),  # KIF's integer
        ("layers/Dense.schema.json", {"units": True, "activation": "linear", "use_bias": True}),
        ("layers/Dense.schema.json", {"units": 2**70, "activation": "linear", "use_bias": True}),
        ("layers/Dense.schema.json", {"units": 3, "activation": "linear", "use_bias": 1}),  # 1 is not a boolean
        ("layers/Dense.schema.json", {"units": 3, "activation": "linear\n", "use_bias": True}),
        ("layers/Dense.schema.json", {"units": 3, "activation": "linear", "use_bias": True, "x": 1}),
        ("layers/Dense.schema.json", {"units": 3, "activation": "linear"}),
        ("layers/Dense.schema.json", [3]),
        ("layers/Reshape.schema.json", {"target_shape": [2.0, -1]}),
        ("layers/ReLU.schema.json", {"max_value": 6.0, "negative_slope": 0.0, "threshold": 0.0}),
        ("layers/ReLU.schema.json", {"max_value": None, "negative_slope": -1, "threshold": 0}),
        ("common.schema.json", {}),
    ],
)
def test_readings_where_the_checks_could_differ(path: str, instance: object) -> None:
    _assert_agree(path, instance)


def test_a_trailing_newline_in_a_name_is_refused() -> None:
    doc = _document(SUITE / "cases" / "models" / "mlp" / "model.kif")
    assert compiled_schema.vouches("graph.schema.json", doc) is True
    doc["layers"][0]["name"] += "\n"  # ECMA-262 `$` does not match before a final newline (kif.schemas.ecma_pattern)
    _assert_agree("graph.schema.json", doc)
    assert compiled_schema.vouches("graph.schema.json", doc) is False


def test_a_hostile_nesting_depth_is_left_to_jsonschema() -> None:
    deep: Any = "x"
    for _ in range(5000):
        deep = {"k": deep}
    assert compiled_schema.vouches("graph.schema.json", {"kif_version": "0.2.0", "metadata": deep}) is False


_SEEDS = [doc for name, doc in _DOCS if name.startswith("cases/")][:40]


@fuzz_settings(300)
@given(st.sampled_from(_SEEDS).flatmap(mutated_document))
def test_mutated_documents_agree(raw: bytes) -> None:
    doc = json.loads(raw)
    _assert_agree("graph.schema.json", doc)
    for path, attributes in _attributes(doc):
        _assert_agree(path, attributes)


@fuzz_settings(400)
@given(st.sampled_from(_ATTRIBUTES).flatmap(lambda pair: st.tuples(st.just(pair[0]), mutated_document(pair[1]))))
def test_mutated_layer_attributes_agree(case: tuple[str, bytes]) -> None:
    _assert_agree(case[0], json.loads(case[1]))


@fuzz_settings(200)
@given(st.sampled_from(GENERATED), json_values)
def test_any_json_value_agrees(path: str, value: object) -> None:
    _assert_agree(path, value)


def test_a_valid_load_imports_neither_jsonschema_nor_jsonschema_rs() -> None:
    code = (
        "import sys, kif; kif.load(sys.argv[1]); "
        "assert not {'jsonschema', 'jsonschema_rs'} & set(sys.modules), 'a validator library imported on the valid path'"
    )
    bundle = SUITE / "cases" / "models" / "mobilenet-style" / "model.kif"
    done = subprocess.run([sys.executable, "-c", code, str(bundle)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr


def _clear() -> None:
    compiled_schema._check.cache_clear()
    compiled_schema._unchanged.cache_clear()


@pytest.mark.parametrize("edit", [b"\n", b" "], ids=["line appended", "same length"])
def test_a_check_generated_from_other_schema_bytes_is_not_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, edit: bytes) -> None:
    """A packaged schema edited after generation (here common, which Dense reads through $ref) is noticed at run time:
    the checks that read it are not used, the others still are."""
    root = tmp_path / "schemas"
    shutil.copytree(schemas.schema_dir(), root)
    common = root / "common.schema.json"
    text = common.read_bytes()
    common.write_bytes(text + edit if edit == b"\n" else text.replace(b"\n", b" ", 1))  # one byte, same JSON value
    assert len(common.read_bytes()) == len(text) + (edit == b"\n") and common.read_bytes() != text
    dense = {"units": 3, "activation": "linear", "use_bias": True}
    monkeypatch.setattr(schemas, "schema_root", lambda: str(root))
    _clear()
    try:
        assert compiled_schema.vouches("layers/Dense.schema.json", dense) is None  # Dense reads common through $ref
        assert compiled_schema.vouches("graph.schema.json", {}) is False  # graph does not: still its generated check
    finally:
        _clear()
    monkeypatch.undo()
    assert compiled_schema.vouches("layers/Dense.schema.json", dense) is True


def test_a_schema_file_without_a_generated_module_is_left_to_jsonschema() -> None:
    assert compiled_schema.vouches("layers/NoSuchLayer.schema.json", {}) is None
    assert compiled_schema.vouches("layers/Dense.schema.json", {"units": 3, "activation": "linear", "use_bias": True})


def test_module_names_are_the_generators_rule() -> None:
    """The oracle: the regex the generator named modules with before the rule moved to compiled_schema."""
    import re

    for path in [*schemas.all_schemas(), "layers/a-b.c.schema.json", "ops/é.schema.json"]:
        assert compiled_schema.module_name(path) == re.sub(r"[^0-9A-Za-z_]", "_", path.removesuffix(".schema.json"))


def test_each_generated_module_records_the_crc32_of_the_schema_files_it_reads() -> None:
    import importlib
    import zlib

    for path in ("layers/Dense.schema.json", "graph.schema.json"):
        module = importlib.import_module(f"kif.validate._schema_code.{compiled_schema.module_name(path)}")
        root = schemas.schema_dir()
        assert {p: zlib.crc32((root / p).read_bytes().replace(b"\r\n", b"\n")) for p in module.SOURCES} == module.SOURCES
    dense = importlib.import_module("kif.validate._schema_code.layers_Dense")
    assert set(dense.SOURCES) == {"layers/Dense.schema.json", "common.schema.json"}


def test_opening_a_dense_bundle_imports_only_the_checks_it_uses() -> None:
    code = (
        "import sys, json, kif; kif.load(sys.argv[1]); "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('kif.validate._schema_code.'))))"
    )
    bundle = SUITE / "cases" / "layers_core" / "dense-4-relu-bias" / "model.kif"
    done = subprocess.run([sys.executable, "-c", code, str(bundle)], capture_output=True, text=True, timeout=120, check=True)
    names = [m.rsplit(".", 1)[1] for m in json.loads(done.stdout)]
    assert names == ["common", "graph", "layers_Dense"], names
