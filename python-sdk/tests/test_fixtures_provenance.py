"""The third-party fixtures stay what their manifest says, and no test reaches outside the repository."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
REALWORLD = TESTS / "fixtures" / "realworld"
ENTRIES = json.loads((REALWORLD / "MANIFEST.json").read_text(encoding="utf-8"))["entries"]


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["id"] for e in ENTRIES])
def test_realworld_file_matches_manifest_and_carries_its_licence(entry: dict) -> None:
    folder = REALWORLD / entry["id"]
    for detail in entry["file_details"]:
        data = (folder / detail["file"]).read_bytes()
        assert len(data) == detail["bytes"]
        assert hashlib.sha256(data).hexdigest() == detail["sha256"], f"{entry['id']}/{detail['file']} differs from its source"
    licence = (folder / "LICENSE").read_text(encoding="utf-8")
    assert entry["license"]["spdx"] == "MIT" and licence.startswith("MIT License")
    assert entry["license"]["copyright"] in licence
    readme = (REALWORLD / "README.md").read_text(encoding="utf-8")
    assert entry["source"]["url"] in readme and all(d["sha256"] in readme for d in entry["file_details"])


def test_no_test_reads_outside_the_repository() -> None:
    # The suite must pass on a plain clone: no folder beside the repository (e.g. the team's shared one) may be read.
    sibling = "shared"  # the folder beside the repository that a plain clone lacks; spelt once so this file never names its path
    outside = re.compile(
        rf"""\.\./{sibling}|["']{sibling}["']\s*/\s*["']realworld|parents\[[4-9]\]|\.parent\s*/\s*["']{sibling}"""
    )
    offenders = [
        f"{p.relative_to(TESTS)}:{n}"
        for p in TESTS.rglob("*.py")
        if p != Path(__file__).resolve() and "generate" not in p.name
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if outside.search(line)
    ]
    assert not offenders, offenders
