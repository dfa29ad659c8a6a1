"""The one exception hierarchy of the SDK.

Every error carries a stable ``code`` (from the closed list in ``kif.codes``), the
``file`` it concerns and a ``pointer`` (a JSON pointer into the graph document, a
layer name or a tensor name), so that callers can react to the code and people can
find the place from the message alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kif.validate.report import Finding


class KifError(Exception):
    """Base class of every error the SDK raises."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "error",
        file: str | None = None,
        pointer: str | None = None,
        findings: list[Finding] | None = None,
    ) -> None:
        self.message = message
        self.code = code
        self.file = file
        self.pointer = pointer
        self.findings = list(findings or [])
        super().__init__(self._render())

    def _render(self) -> str:
        where = ", ".join(part for part in (self.file, f"at {self.pointer}" if self.pointer else None) if part)
        return f"[{self.code}] {self.message}" + (f" ({where})" if where else "")


class BundleError(KifError):
    """The bundle container (directory or archive) is unreadable or unsafe."""


class DocumentError(KifError):
    """The graph document is not valid JSON or violates the schema."""


class VersionError(KifError):
    """The bundle was written for a spec version this reader cannot read."""


class GraphError(KifError):
    """The graph is not well formed (names, references, order, arity, shapes)."""


class WeightsError(KifError):
    """A weight file or tensor is missing, malformed or does not match its declaration."""


class UnsupportedLayerError(KifError):
    """A layer type has no implementation in the component asked to run or import it."""

    # The conformance runner scores a case that raises this as "not-supported" (a refusal), not "error".
    not_supported = True


class ValidationError(KifError):
    """Raised by ``kif.load`` when validation finds errors; ``findings`` lists them all."""


class UsageError(KifError, ValueError):
    """An argument has a value the API does not accept (still a ValueError for callers that expect one)."""
