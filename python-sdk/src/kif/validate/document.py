"""Stage 1: read model.json, check its version and its schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kif import limits, schemas, strict_json
from kif.bundle.container import DOCUMENT, Container
from kif.graph import SPEC_VERSION
from kif.validate.report import Report, join

MAX_DOCUMENT_BYTES = limits.Limits().max_document_bytes  # the default; limits.current() is what applies


def read_document(container: Container, report: Report) -> dict[str, Any] | None:
    file = container.member_label(DOCUMENT)
    member = container.members.get(DOCUMENT)
    if member is None:
        report.add("bundle-missing-member", f"Expected {DOCUMENT} at the bundle root", container.label)
        return None
    most = limits.current().max_document_bytes
    if member.size > most:
        report.add("document-too-large", f"Expected at most {most} bytes (the max_document_bytes limit). Received: {member.size}", file)
        return None
    try:
        doc = strict_json.loads(container.read(DOCUMENT).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        report.add("document-invalid-json", f"Expected UTF-8 JSON. {exc}", file)
        return None
    if not isinstance(doc, dict):
        report.add("schema-violation", "Expected a JSON object at the top level", file, "")
        return None
    return doc


def parse_version(text: object) -> tuple[int, int, int] | None:
    if not isinstance(text, str):
        return None
    parts = text.split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1]), int(parts[2])


READER_VERSION = parse_version(SPEC_VERSION)


def check_version(doc: dict[str, Any], report: Report, file: str) -> tuple[bool, bool]:
    """Return (readable, newer_minor). A malformed version is left to the schema check."""
    version = parse_version(doc.get("kif_version"))
    assert READER_VERSION is not None
    if version is None:
        return True, False
    if version[0] != READER_VERSION[0]:
        report.add(
            "version-unsupported-major",
            f"Expected a bundle of KIF {READER_VERSION[0]}.x (this reader implements {SPEC_VERSION}). "
            f"Received: kif_version={doc['kif_version']!r}",
            file,
            "/kif_version",
        )
        return False, False
    if version[1] > READER_VERSION[1]:
        report.add(
            "version-newer-minor",
            f"Bundle is KIF {doc['kif_version']}, newer than this reader ({SPEC_VERSION}); unknown optional fields are ignored",
            file,
            "/kif_version",
        )
        return True, True
    return True, False


def check_schema(doc: dict[str, Any], report: Report, file: str, newer_minor: bool) -> bool:
    """Report every schema violation; return True if there were none that matter."""
    ok = True
    errors = [(list(e.absolute_path), e.validator, e.message) for e in _schema_errors(doc)]
    for path, keyword, message in sorted(errors, key=lambda e: e[0]):
        if newer_minor and keyword == "additionalProperties":
            continue  # a newer minor version may add optional fields
        ok = False
        report.add("schema-violation", message, file, join(path))
    return ok


def _schema_errors(doc: dict[str, Any]) -> Iterator[Any]:
    """The graph schema's errors; layer entries the fast path vouches for skip jsonschema (linear, and fast)."""
    from kif.validate.compiled_schema import certainly_valid

    if certainly_valid("graph.schema.json", doc):
        return  # valid: jsonschema is not even imported
    from kif.validate.fast_schema import layer_checker, layer_validator

    conforms, layers = layer_checker(), doc.get("layers")
    if conforms is None or not isinstance(layers, list):
        yield from schemas.graph_validator().iter_errors(doc)
        return
    yield from schemas.graph_validator().iter_errors({**doc, "layers": []})
    slow = [index for index, item in enumerate(layers) if not conforms(item)]
    if slow:
        one = layer_validator()
        for index in slow:
            for error in one.iter_errors(layers[index]):
                error.path.extendleft(["layers", index][::-1])  # as if found in the whole document
                yield error
