"""``kif validate PATH...``: one report per path; the exit code is the worst of them.

A path that does not exist, or that is another format (a Keras file, an ONNX model, ...),
is reported as unreadable (exit 2) with what it is, not as an INVALID bundle. With
``--level numeric`` a bundle without a self-test says so: the numbers were not checked.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from kif.errors import KifError

EXIT_OK, EXIT_INVALID, EXIT_UNREADABLE = 0, 1, 2
UNREADABLE = {"bundle-not-found", "bundle-unreadable", "archive-corrupt"}


def _one(path: str, args: argparse.Namespace) -> tuple[int, dict[str, Any], list[str]]:
    """(exit code, JSON report, text lines) for one path."""
    from kif.cli_input import check_bundle_input
    from kif.validate.pipeline import check
    from kif.validate.report import Report

    try:
        check_bundle_input(path, "validate")
    except KifError as exc:
        report = Report(path)
        code = "bundle-not-found" if exc.code == "bundle-not-found" else "bundle-unreadable"
        report.add(code, exc.message, exc.file)
        line = f"{path}: does not exist" if code == "bundle-not-found" else exc.message
        return EXIT_UNREADABLE, report.to_dict(), [line]
    report, parsed = check(path, verify_checksums=not args.no_verify, level=args.level)
    data = report.to_dict()
    lines = [str(f) for f in report.findings]
    verdict = "valid" if report.ok else "INVALID"
    counts = f"{len(report.errors)} errors, {len(report.warnings)} warnings"
    if args.level == "numeric" and report.ok:
        state = _self_test_state(report, parsed)
        data["self_test"] = state
        if state == "absent":
            counts += "; numbers not checked: no self-test"
        elif state == "skipped":
            counts += "; numbers not checked: self-test skipped"
    lines.append(f"{path}: {verdict} ({counts})")
    if not report.ok and any(f.code in UNREADABLE for f in report.errors):
        return EXIT_UNREADABLE, data, lines
    return (EXIT_OK if report.ok else EXIT_INVALID), data, lines


def _self_test_state(report: Any, parsed: Any) -> str:
    """passed, skipped (the runtime lacks a layer type) or absent (the bundle has no self-test)."""
    if parsed is None or "self_test" not in parsed.document:
        return "absent"
    return "skipped" if "self-test-skipped" in report.codes() else "passed"


def validate_command(args: argparse.Namespace) -> int:
    worst = EXIT_OK
    reports = []
    for path in args.paths:
        code, data, lines = _one(path, args)
        worst = max(worst, code)
        reports.append(data)
        if not args.json:
            print("\n".join(lines))
    if args.json:
        print(json.dumps(reports[0] if len(reports) == 1 else reports, indent=2))
    return worst
