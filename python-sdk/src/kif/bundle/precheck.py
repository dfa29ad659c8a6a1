"""Validate a model before it is written: the document stages of ``kif.validate``, in memory.

``kif.save`` builds the exact model.json it would write (with placeholder digests), runs
the schema, version, bounds, layer, graph, weight-reference and shape checks on it, and
writes nothing if any error is found. Checks of the written bytes (headers, checksums)
need no repeating: the writer produces them from the same arrays.
"""

from __future__ import annotations

from collections.abc import Collection
from types import SimpleNamespace
from typing import Any

from kif.errors import ValidationError
from kif.validate.pointer import pointer
from kif.validate.report import Report


def check_document(doc: dict[str, Any], label: str, self_test: Collection[str] | None) -> None:
    """Raise ValidationError (every error in ``findings``) if ``doc`` would not validate.

    ``self_test`` names the tensors of the self-test file, if there is one."""
    report = _report(doc, label, self_test)
    errors = report.errors
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ValidationError(
            f"Nothing was written: the model would not validate: {first.message}{more}",
            code=first.code,
            file=label,
            pointer=first.pointer,
            findings=errors,
        )


def _report(doc: dict[str, Any], label: str, self_test: Collection[str] | None) -> Report:
    from kif.validate.bounds import check_bounds
    from kif.validate.document import check_schema, check_version
    from kif.validate.graph_rules import check_graph
    from kif.validate.layers import check_layers
    from kif.validate.shapes import check_shapes
    from kif.validate.weights import _check_references

    report = Report(label)
    readable, newer_minor = check_version(doc, report, label)
    if not readable or not check_schema(doc, report, label, newer_minor):
        return report
    check_bounds(doc, report, label)
    check_layers(doc, report, label)
    check_graph(doc, report, label)
    _check_references(doc, doc["weights"]["tensors"], report, label)
    if self_test is not None:
        _check_self_test_names(doc, self_test, report, label)
    if report.ok:
        # check_shapes reads only the document and a label from what it is given.
        check_shapes(SimpleNamespace(document=doc, container=SimpleNamespace(member_label=lambda _: label)), report)  # type: ignore[arg-type]
    return report


def _check_self_test_names(doc: dict[str, Any], tensors: Collection[str], report: Report, label: str) -> None:
    for kind in ("inputs", "outputs"):
        for index, spec in enumerate(doc[kind]):
            if f"{kind}/{spec['name']}" not in tensors:
                message = f"Expected a self-test tensor for {kind[:-1]} {spec['name']!r}"
                report.add("self-test-invalid", message, label, pointer(kind, index))
