"""The validation pipeline: container → document → version → schema → layers → graph → weights.

``check`` collects every finding it can; a stage whose input is unusable stops the
stages that depend on it. ``kif.load`` reuses what the pipeline parsed, so nothing
is read twice.
"""

from __future__ import annotations

import os
from typing import Any

from kif._lean import Record
from kif.bundle.container import DOCUMENT, Container, open_container
from kif.bundle.safetensors_io import Header
from kif.errors import BundleError, UsageError
from kif.validate.bounds import check_bounds
from kif.validate.document import check_schema, check_version, read_document
from kif.validate.graph_rules import check_graph
from kif.validate.inputs import check_inputs
from kif.validate.layers import check_layers
from kif.validate.report import Report
from kif.validate.weights import check_weights

LEVELS = ("structure", "full", "numeric")


class Parsed(Record):
    __match_args__ = ("container", "document", "headers")
    __slots__ = __match_args__

    def __init__(self, container: Container, document: dict[str, Any], headers: dict[str, Header] | None = None) -> None:
        self.container = container
        self.document = document
        self.headers: dict[str, Header] = {} if headers is None else headers


def check(
    path: str | os.PathLike[str], *, verify_checksums: bool = True, level: str = "full", defer_tensor_digests: bool = False
) -> tuple[Report, Parsed | None]:
    """Validate a bundle. ``level``: structure (no weight files read), full, or numeric (self-test).

    ``defer_tensor_digests``: per-tensor digests are left to the reader, which checks each tensor on its first
    read (``kif.load``); whole-file and header digests are still checked here."""
    if level not in LEVELS:
        raise UsageError(f"Expected level to be one of {', '.join(LEVELS)}. Received: level={level!r}", code="usage")
    report = Report(str(path))
    try:
        container = open_container(path)
    except BundleError as exc:
        report.add(exc.code, exc.message, exc.file)
        return report, None
    report.findings.extend(container.findings)
    doc = read_document(container, report)
    if doc is None:
        return report, None
    file = container.member_label(DOCUMENT)
    readable, newer_minor = check_version(doc, report, file)
    if not readable or not check_schema(doc, report, file, newer_minor):
        return report, None
    check_bounds(doc, report, file)
    check_layers(doc, report, file)
    check_inputs(doc, report, file)
    check_graph(doc, report, file)
    parsed = Parsed(container, doc)
    if level != "structure":
        parsed.headers = check_weights(container, doc, report, verify_checksums, defer_tensor_digests)
    if report.ok:
        _check_shapes(parsed, report)
    if level == "numeric" and report.ok:
        _check_self_test(parsed, report)
    return report, parsed


def _check_shapes(parsed: Parsed, report: Report) -> None:
    """Shape inference with the layer shape rules (hook for the layer catalog)."""
    from kif.validate import shapes

    shapes.check_shapes(parsed, report)


def _check_self_test(parsed: Parsed, report: Report) -> None:
    from kif.validate import self_test

    self_test.check_self_test(parsed, report)
