"""The negative cases the runner prepares (spec/conformance.md, "Negative cases"): an absent bundle, a model.json
padded past 64 MiB, a validation at level numeric. Checked against the files and the spec's rules, not the SDK."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kif.conformance import ReferenceBackend, runner, suite_dir

SUITE = suite_dir()


def _case(case_id: str) -> Any:
    folder = SUITE / "invalid" / case_id
    return runner().Case("invalid/" + case_id, "invalid", folder, json.loads((folder / "case.json").read_text("utf-8")))


def test_absent_bundle_is_a_path_that_does_not_exist() -> None:
    case = _case("bundle-absent")
    with runner().invalid_target(case) as target:
        assert target == case.folder / "bundle.kif" and not target.exists() and not target.is_symlink()
    assert sorted(p.name for p in case.folder.iterdir()) == ["case.json"]


def test_padded_document_is_exactly_the_size_asked_valid_json_and_removed_after() -> None:
    case = _case("document-over-64-mib")
    size = case.spec["pad_document_to"]
    assert size == 64 * 2**20 + 1  # spec/bundle.md: model.json is at most 67,108,864 bytes
    committed = (case.folder / "bundle" / "model.json").read_bytes()
    with runner().invalid_target(case) as target:
        padded = target / "model.json"
        assert padded.stat().st_size == size and target != case.folder / "bundle"
        with padded.open("rb") as handle:
            head = handle.read(len(committed))
            handle.seek(-4096, 2)
            tail = handle.read()
        assert head == committed and tail == b" " * 4096
        assert sorted(p.name for p in target.iterdir()) == sorted(p.name for p in (case.folder / "bundle").iterdir())
    assert not target.exists(), "the padded copy is deleted after the case"
    assert (case.folder / "bundle" / "model.json").read_bytes() == committed, "the committed bundle is untouched"


def test_numeric_case_runs_the_self_test_and_a_validator_without_levels_refuses_it() -> None:
    case = _case("self-test-mismatch")
    assert case.spec["validation_level"] == "numeric"
    assert runner().run_one(ReferenceBackend(), case).status == "pass"

    class FullOnly:
        def load(self, path: str) -> Any:
            raise AssertionError("not called for a negative case")

        def validate(self, path: str) -> list[dict[str, Any]]:
            return [{"code": "self-test-mismatch", "pointer": "/outputs~1softmax"}]

    result = runner().run_one(FullOnly(), case)
    assert result.status == "not-supported" and "level" in result.detail


def test_reference_validator_finds_nothing_in_the_committed_numeric_bundle_at_level_full() -> None:
    """Only running the bundle shows the fault: at level full the same bundle is valid (hand-derived: softmax of
    zeros is 0.25 each, the self-test claims 0.5, 0, 0, 0.5)."""
    case = _case("self-test-mismatch")
    assert ReferenceBackend().validate(str(case.folder / "bundle")) == []


@pytest.mark.parametrize("bad", [{"pad_document_to": 0}, {"pad_document_to": 2**31}])
def test_a_case_asking_for_an_impossible_padding_is_refused(bad: dict[str, Any], tmp_path: Path) -> None:
    case = _case("document-over-64-mib")
    broken = runner().Case(case.id, "invalid", case.folder, {**case.spec, **bad})
    with pytest.raises(ValueError, match="pad_document_to"), runner().invalid_target(broken):
        pass
