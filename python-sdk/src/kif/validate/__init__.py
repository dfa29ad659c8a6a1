"""Bundle validation: ``validate(path)`` returns a Report of findings with stable codes."""

from __future__ import annotations

import os

from kif.validate.report import Finding, Report


def validate(path: str | os.PathLike[str], *, level: str = "full", verify_checksums: bool = True) -> Report:
    """Check a bundle and return every finding (errors, warnings and notes).

    ``level`` is ``structure`` (container, document, graph), ``full`` (plus weight
    files and checksums, the default) or ``numeric`` (plus the embedded self-test).
    """
    from kif.validate.pipeline import check

    report, _ = check(path, verify_checksums=verify_checksums, level=level)
    return report


__all__ = ["Finding", "Report", "validate"]
