"""Findings and the report ``kif.validate`` returns."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from kif import codes


def pointer(*parts: object) -> str:
    """The JSON pointer (RFC 6901) of a finding's location. Defined here, where findings are, rather than in a module
    of its own: ``import kif`` loads this module, so the open path pays no import for it (kif.validate.pointer
    re-exports it)."""
    text = "/".join(map(str, parts))
    if "~" in text or text.count("/") != len(parts) - 1:  # a part holds "~" or "/": escape part by part
        return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)
    return "/" + text if parts else ""


def join(parts: Iterable[object]) -> str:
    return pointer(*parts)


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    file: str | None = None
    pointer: str | None = None  # JSON pointer, or a layer or tensor name
    severity: str = ""

    def __post_init__(self) -> None:
        if self.code not in codes.CODES:
            raise ValueError(f"unknown finding code {self.code!r}")
        if not self.severity:
            object.__setattr__(self, "severity", codes.severity(self.code))

    def __str__(self) -> str:
        where = ":".join(p for p in (self.file, self.pointer) if p)
        return f"{self.severity}: [{self.code}] {self.message}" + (f" ({where})" if where else "")

    def to_dict(self) -> dict[str, str | None]:
        return asdict(self)


@dataclass
class Report:
    path: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == codes.ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == codes.WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    def add(self, code: str, message: str, file: str | None = None, pointer: str | None = None) -> None:
        self.findings.append(Finding(code, message, file, pointer))

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "valid": self.ok,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "findings": [f.to_dict() for f in self.findings],
        }
