"""The validator contract of spec/errors.md against kif.codes and conformance/invalid/.

Every finding code has a row with its severity and a location (file and pointer); every error and warning code
is asserted by at least one negative case, or is exempted in errors.md with the SDK test that asserts it instead.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from kif import codes

ROOT = Path(__file__).resolve().parents[2]
ERRORS = (ROOT / "spec" / "errors.md").read_text(encoding="utf-8")
INVALID = ROOT / "conformance" / "invalid"


def _table(section: str) -> list[list[str]]:
    body = ERRORS.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in body.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip().strip("|").split(" | ")] for line in lines[2:]]


def _rows() -> dict[str, list[str]]:
    return {cells[0].strip("`"): cells for cells in _table("Finding codes")}


def _exempt() -> dict[str, tuple[str, str]]:
    return {cells[0].strip("`"): (cells[1], cells[2]) for cells in _table("Negative cases")}


def code_cases() -> dict[str, list[str]]:
    """code -> the negative cases asserting it (case ids), from every conformance/invalid/*/case.json."""
    out: dict[str, list[str]] = {}
    for path in sorted(INVALID.glob("*/case.json")):
        expect = json.loads(path.read_text(encoding="utf-8"))["expect"]
        out.setdefault(expect["code"], []).append(path.parent.name)
    return out


def test_every_code_has_a_row_with_its_severity_and_a_location() -> None:
    rows = _rows()
    assert list(rows) == list(codes.CODES)
    for code, (severity, _) in codes.CODES.items():
        cells = rows[code]
        assert len(cells) == 5, cells
        assert cells[1] == severity, code
        file, pointer = cells[3], cells[4]
        assert file and pointer, f"{code}: no location"
        # a pointer cell names a pointer (`/...`, `""`), `null`, or the header / instance rule it follows
        assert re.search(r"`(/|\"\"|null)|header|instance location|the value over", pointer), f"{code}: {pointer}"


def test_null_and_empty_pointer_are_defined_once() -> None:
    locations = ERRORS.split("\n## Locations\n", 1)[1].split("\n## ", 1)[0]
    assert locations.count("`null` means") == 1 and locations.count("`\"\"` (the empty pointer)") == 1
    for topic in ("**Duplicates**", "**Order**", "**Refused members**", "missing required member"):
        assert topic in locations, topic


def test_every_error_and_warning_code_has_a_negative_case_or_a_written_exemption() -> None:
    cases, exempt = code_cases(), _exempt()
    needed = {code for code, (severity, _) in codes.CODES.items() if severity in (codes.ERROR, codes.WARNING)}
    assert set(cases) <= set(codes.CODES), set(cases) - set(codes.CODES)
    assert set(exempt) <= needed, "exemption of a code that needs none"
    assert not set(exempt) & set(cases), f"exempt but asserted by a case after all: {set(exempt) & set(cases)}"
    uncovered = sorted(needed - set(cases) - set(exempt))
    assert not uncovered, f"codes with no negative case: {uncovered}"
    for code, (where, reason) in exempt.items():
        assert len(reason) > 20, code
        test_file, test_name = where.strip("`").split("::")
        assert f"def {test_name}(" in (Path(__file__).parent / test_file).read_text(encoding="utf-8"), where


def test_exemptions_match_the_corpus_test() -> None:
    from tests.test_invalid_corpus import EXEMPT

    assert set(EXEMPT) == set(_exempt())


def test_case_severity_matches_the_code() -> None:
    for path in sorted(INVALID.glob("*/case.json")):
        expect = json.loads(path.read_text(encoding="utf-8"))["expect"]
        assert codes.severity(expect["code"]) == expect.get("severity", codes.ERROR), path.parent.name
