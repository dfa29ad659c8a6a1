"""The spec, the schemas, the docs hook and the SDK agree.

- spec/errors.md lists exactly the finding codes of kif.codes, with their severities and rules, in order;
- every example document (spec/examples/*.json and every complete ```json document in spec pages) is valid
  against the graph schema and passes kif.validate: at level structure as written, and at level full once
  written as a bundle with zero-filled weight files of the declared dtypes and shapes;
- every schema is valid against the 2020-12 metaschema, every layer schema against layer-schema.schema.json;
- RFC 2119 keywords appear only in capitals in the normative pages;
- relative links in spec pages resolve, and the docs hook rewrites links that leave the site.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from jsonschema import Draft202012Validator

import kif
from kif import codes, dtypes, schemas
from kif.bundle import safetensors_io

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "spec"
SCHEMAS = REPO / "schemas"
EXAMPLES = sorted((SPEC / "examples").glob("*.json"))
SPEC_PAGES = sorted(SPEC.rglob("*.md"))
_FENCED = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


# -- errors.md -----------------------------------------------------------------------


def _finding_table() -> list[tuple[str, str, str]]:
    text = (SPEC / "errors.md").read_text(encoding="utf-8")
    section = text.split("## Finding codes", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    assert lines[0].replace(" ", "").startswith("|Code|Severity|Rule|"), lines[0]  # then File, Pointer (the location)
    rows = []
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        rows.append((cells[0].strip("`"), cells[1], cells[2]))
    return rows


def test_errors_page_lists_exactly_the_codes_of_codes_py() -> None:
    expected = [(code, severity, rule) for code, (severity, rule) in codes.CODES.items()]
    assert _finding_table() == expected


# -- example documents -------------------------------------------------------------------


def _json_documents_in_pages() -> list[tuple[str, dict[str, Any]]]:
    """Complete documents (objects with kif_version) in ```json blocks of the spec pages."""
    found = []
    for page in SPEC_PAGES:
        for language, body in _FENCED.findall(page.read_text(encoding="utf-8")):
            if language != "json":
                continue
            try:
                doc = json.loads(body)
            except ValueError:
                continue  # an excerpt, not a document
            if isinstance(doc, dict) and "kif_version" in doc:
                found.append((_rel(page), doc))
    return found


DOCUMENTS = [(_rel(p), json.loads(p.read_text(encoding="utf-8"))) for p in EXAMPLES] + _json_documents_in_pages()


def test_there_are_examples() -> None:
    names = {p.name for p in EXAMPLES}
    assert {"mlp.json", "two_inputs_shared_layer.json"} <= names
    assert any(src == "spec/graph.md" for src, _ in DOCUMENTS), "graph.md has no complete example document"


def test_graph_md_embeds_the_mlp_example() -> None:
    embedded = [doc for src, doc in DOCUMENTS if src == "spec/graph.md"]
    assert json.loads((SPEC / "examples" / "mlp.json").read_text(encoding="utf-8")) in embedded


@pytest.mark.parametrize(("source", "doc"), DOCUMENTS, ids=[f"{s}#{i}" for i, (s, _) in enumerate(DOCUMENTS)])
def test_example_is_valid_against_the_graph_schema(source: str, doc: dict[str, Any]) -> None:
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in schemas.graph_validator().iter_errors(doc)]
    assert not errors, errors


@pytest.mark.parametrize(("source", "doc"), DOCUMENTS, ids=[f"{s}#{i}" for i, (s, _) in enumerate(DOCUMENTS)])
def test_example_passes_structure_level_validation(source: str, doc: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "model.json").write_text(json.dumps(doc), encoding="utf-8")
    report = kif.validate(tmp_path, level="structure")
    assert report.findings == [], [str(f) for f in report.findings]


def _zero_file(tensors: dict[str, tuple[str, list[int]]], path: Path) -> tuple[str, int]:
    arrays = {name: np.zeros(shape, dtypes.by_name(dtype).numpy) for name, (dtype, shape) in tensors.items()}
    with open(path, "wb") as stream:
        safetensors_io.write(stream, arrays)
    data = path.read_bytes()
    return hashlib.sha256(data).hexdigest(), len(data)


@pytest.mark.parametrize(("source", "doc"), DOCUMENTS, ids=[f"{s}#{i}" for i, (s, _) in enumerate(DOCUMENTS)])
def test_example_passes_full_validation_with_zero_weights(source: str, doc: dict[str, Any], tmp_path: Path) -> None:
    """The index, the references and the ranks agree; only the checksums are those of the files written here."""
    doc = copy.deepcopy(doc)
    for entry in doc["weights"]["files"]:
        tensors = {n: (t["dtype"], t["shape"]) for n, t in doc["weights"]["tensors"].items() if t["file"] == entry["path"]}
        entry["sha256"], entry["size"] = _zero_file(tensors, tmp_path / entry["path"])
    if "self_test" in doc:
        sample = {
            f"{kind}/{spec['name']}": (spec["dtype"], [2 if d is None else d for d in spec["shape"]])
            for kind in ("inputs", "outputs")
            for spec in doc[kind]
        }
        doc["self_test"]["sha256"], doc["self_test"]["size"] = _zero_file(sample, tmp_path / doc["self_test"]["file"])
    (tmp_path / "model.json").write_text(json.dumps(doc), encoding="utf-8")
    report = kif.validate(tmp_path, level="full")
    assert report.findings == [], [str(f) for f in report.findings]


# -- schemas ---------------------------------------------------------------------------------

SCHEMA_FILES = sorted(SCHEMAS.rglob("*.schema.json"))


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.relative_to(SCHEMAS).as_posix())
def test_schema_is_valid_against_the_2020_12_metaschema(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert schema.get("$schema") == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    rel = path.relative_to(SCHEMAS).as_posix()
    major, minor, _ = kif.SPEC_VERSION.split(".")  # the $ids of a version carry its MAJOR.MINOR (spec/versioning.md)
    assert re.fullmatch(rf"https://kif\.dev/schemas/{major}\.{minor}/" + re.escape(rel), schema["$id"]), schema["$id"]


LAYER_SCHEMAS = sorted((SCHEMAS / "layers").glob("*.schema.json"))


@pytest.mark.parametrize("path", LAYER_SCHEMAS, ids=lambda p: p.name)
def test_layer_schema_is_valid_against_layer_schema(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    meta = schemas.validator("layer-schema.schema.json")
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in meta.iter_errors(schema)]
    assert not errors, errors
    assert schema["title"] == path.name.removesuffix(".schema.json")


# -- prose lint ------------------------------------------------------------------------------

# The modal keywords of BCP 14 carry their meaning only in capitals; in normative pages the lowercase forms are
# not used at all (write "can", "has to", "is"). The adjectives required/optional/recommended keep their ordinary
# sense in tables, so they are not linted.
_KEYWORD = re.compile(r"\b(must|shall|should|may)\b", re.IGNORECASE)


def _prose(text: str) -> str:
    """The page without fenced code blocks and inline code, line numbers kept."""
    text = _FENCED.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    text = re.sub(r"<!--.*?-->", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.DOTALL)
    return re.sub(r"`[^`\n]*`", "", text)


def test_rfc2119_keywords_only_in_capitals() -> None:
    offences = []
    for page in SPEC_PAGES:
        for number, line in enumerate(_prose(page.read_text(encoding="utf-8")).splitlines(), 1):
            for match in _KEYWORD.finditer(line):
                if match.group(0) != match.group(0).upper():
                    offences.append(f"{_rel(page)}:{number}: {match.group(0)!r} in: {line.strip()[:100]}")
    assert not offences, "Use the capitalised keyword or another word:\n" + "\n".join(offences)


# -- links and the docs hook -------------------------------------------------------------------

_LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def test_relative_links_in_spec_pages_resolve() -> None:
    broken = []
    for page in SPEC_PAGES:
        for target in _LINK.findall(_FENCED.sub("", page.read_text(encoding="utf-8"))):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue
            path = target.split("#", 1)[0]
            if path and not (page.parent / path).resolve().exists():
                broken.append(f"{_rel(page)} -> {target}")
    assert not broken, broken


def _hook() -> Any:
    spec = importlib.util.spec_from_file_location("kif_docs_hook", REPO / "docs" / "hooks" / "kif_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_hook_rewrites_links_that_leave_the_site() -> None:
    hook = _hook()
    text = "\n".join(
        [
            "[schema](../../schemas/layers/Dense.schema.json)",
            "[codes](../../python-sdk/src/kif/codes.py)",
            "[`conformance/README.md`](../../conformance/README.md)",
            "[bundle](../bundle.md#limits) [web](https://example.org/x) [here](#weights)",
            "```json",
            "[not a link](../../nowhere)",
            "```",
        ]
    )
    out = hook._rewrite_links(text, "spec/layers/Dense.md", REPO).splitlines()
    assert out[0] == "[schema](../../schemas/layers/Dense.md)"
    assert out[1] == "codes (`python-sdk/src/kif/codes.py`)"
    assert out[2] == "`conformance/README.md`"
    assert out[3] == "[bundle](../bundle.md#limits) [web](https://example.org/x) [here](#weights)"
    assert out[5] == "[not a link](../../nowhere)"


def test_docs_hook_generates_a_page_per_schema() -> None:
    hook = _hook()
    found = hook._schemas(REPO)
    assert set(found) == {p.relative_to(SCHEMAS).as_posix() for p in SCHEMA_FILES}
    page = hook._schema_page("layers/Dense.schema.json", found["layers/Dense.schema.json"], REPO)
    assert "Generated" in page
    for attribute in found["layers/Dense.schema.json"]["properties"]:
        assert f"| `{attribute}` |" in page
    table = hook._catalog_table(REPO)
    for path in LAYER_SCHEMAS:
        assert f"| `{path.name.removesuffix('.schema.json')}` |" in table


# -- executable examples of the pages ----------------------------------------------------------


def _python_blocks(path: Path) -> list[str]:
    return [body for language, body in _FENCED.findall(path.read_text(encoding="utf-8")) if language == "python"]


@pytest.mark.parametrize("page", ["docs/index.md", "docs/guide.md"])
def test_first_python_example_of_docs_page_runs(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {}
    exec(_python_blocks(REPO / page)[0], namespace)
    if "model" in namespace:  # the guide builds a model: it is a valid bundle
        kif.save(namespace["model"], tmp_path / "guide.kif")
        assert kif.validate(tmp_path / "guide.kif").ok


def test_extensions_page_custom_type_is_noted_refused_then_run(tmp_path: Path) -> None:
    b = kif.GraphBuilder("custom")
    x = b.input("x", "float32", (None, 3))
    y = b.add("acme.vision:Swish", x, name="swish", beta=1.0)
    b.output(y, dtype="float32", shape=(None, 3))
    kif.save(b.build(), tmp_path / "custom.kif")
    report = kif.validate(tmp_path / "custom.kif")
    assert report.ok and [(f.code, f.severity) for f in report.findings] == [("layer-custom", "info")]
    model = kif.load(tmp_path / "custom.kif")
    data = np.array([[-1.0, 0.0, 2.0]], "float32")
    from kif import runtime

    runtime._CUSTOM.pop("acme.vision:Swish", None)  # a registration is an explicit act: start without one
    with pytest.raises(kif.errors.UnsupportedLayerError, match="swish"):
        kif.run(model, data)
    exec(_python_blocks(SPEC / "extensions.md")[0], {})
    try:
        got = kif.run(model, data)["swish"]
    finally:
        runtime._CUSTOM.pop("acme.vision:Swish", None)
    np.testing.assert_allclose(got, data / (1 + np.exp(-data)), rtol=1e-6)
