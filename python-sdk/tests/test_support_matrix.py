"""The docs' support matrix is rendered from committed scoreboards; they must match what every backend does now."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kif.conformance.matrix import BACKENDS, load_scoreboards, render, statuses

REPO = Path(__file__).resolve().parents[2]
BOARDS = REPO / "conformance" / "scoreboards"


def _fresh(backend: str, tmp_path: Path) -> dict:
    from kif.conformance import runner

    out = tmp_path / f"{backend}.json"
    runner().main(["--backend", backend, "--level", "extended", "--json", str(out), "-q"])
    return json.loads(out.read_text())


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_committed_scoreboard_matches_a_fresh_run(backend: str, tmp_path: Path) -> None:
    committed = json.loads((BOARDS / f"{backend}.json").read_text())
    fresh = _fresh(backend, tmp_path)
    assert statuses(fresh) == statuses(committed), (
        f"conformance/scoreboards/{backend}.json is stale: rerun "
        f"`kif conformance run --backend {backend} --level extended --json conformance/scoreboards/{backend}.json`"
    )
    assert fresh["layer_types"].keys() == committed["layer_types"].keys()


def test_matrix_lists_failures_with_their_reason() -> None:
    boards = load_scoreboards(BOARDS)
    assert set(boards) == set(BACKENDS)
    broken = json.loads(json.dumps(boards["torch"]))
    case = next(iter(broken["cases"]))
    broken["cases"][case] = {"status": "fail", "worst": 3.5, "level": "extended", "detail": "max error 3.5x the tolerance"}
    page = render({**boards, "torch": broken})
    assert f"| `torch` | `{case}` | extended | fail | max error 3.5x the tolerance |" in page
    assert "None: every backend passes" in render(boards) or "## Cases not passed" in render(boards)


def _row(page: str, prefix: str, level: str) -> str:
    (line,) = [line for line in page.splitlines() if line.startswith(prefix) and f"| {level} |" in line]
    return line


def test_every_row_of_a_level_counts_the_same_cases_split_into_the_four_outcomes() -> None:
    boards = load_scoreboards(BOARDS)
    page = render(boards)
    for level in ("core", "extended"):
        want = sum(info["level"] == level for info in boards["reference"]["cases"].values()) - sum(
            c.startswith("invalid/") and info["level"] == level for c, info in boards["reference"]["cases"].items()
        )
        for name, board in boards.items():
            cells = [c.strip() for c in _row(page, f"| `{name}` | {BACKENDS.get(name, name)} |", level).split("|")[6:11]]
            total, outcomes = int(cells[0]), [int(c.lstrip("✓ ")) for c in cells[1:]]
            assert total == want and sum(outcomes) == total, (name, level, cells)
            statuses_here = [i["status"] for c, i in board["cases"].items() if i["level"] == level and not c.startswith("invalid/")]
            assert outcomes == [statuses_here.count(s) for s in ("pass", "not-supported", "fail", "error")]


def test_a_refused_case_is_counted_as_not_supported_not_as_a_failure() -> None:
    boards = load_scoreboards(BOARDS)
    changed = json.loads(json.dumps(boards["torch"]))
    case, info = next((c, i) for c, i in changed["cases"].items() if i["level"] == "core" and i["status"] == "pass")
    changed["cases"][case] = {**info, "status": "not-supported", "detail": "not supported: no such layer here"}
    before = _row(render(boards), "| `torch` | PyTorch", "core").split("|")[6:11]
    after = _row(render({**boards, "torch": changed}), "| `torch` | PyTorch", "core").split("|")[6:11]
    total, passed, refused = int(before[0]), int(before[1].strip(" ✓")), int(before[2])
    assert [int(c.strip(" ✓")) for c in after] == [total, passed - 1, refused + 1, 0, 0]


def test_invalid_bundle_cases_have_their_own_section_and_are_not_counted_as_model_cases() -> None:
    boards = load_scoreboards(BOARDS)
    page = render(boards)
    invalid = [c for c in boards["reference"]["cases"] if c.startswith("invalid/")]
    models = {c: info for c, info in boards["reference"]["cases"].items() if not c.startswith("invalid/")}
    assert len(invalid) == len(list((REPO / "conformance" / "invalid").glob("*/case.json")))
    # Model columns count the same cases for every backend: the reference row does not include the broken bundles.
    core = sum(info["level"] == "core" for info in models.values())
    assert f"| core | {core} | ✓ {core} | 0 | 0 | 0 |" in _row(page, "| `reference` | NumPy", "core")
    section = page.split("## Invalid-bundle cases", 1)[1].split("\n## ", 1)[0]
    assert "test validators, not importers" in section
    assert f"| `reference` | ✓ {len(invalid)}/{len(invalid)} |" in section
    for backend in ("torch", "onnx", "keras"):
        assert f"| `{backend}` | — (no validator: not run) |" in section


def test_a_failed_invalid_bundle_case_shows_in_the_validator_row() -> None:
    boards = load_scoreboards(BOARDS)
    broken = json.loads(json.dumps(boards["reference"]))
    case = next(c for c in broken["cases"] if c.startswith("invalid/"))
    broken["cases"][case] = {"status": "fail", "worst": None, "level": "core", "detail": "expected finding"}
    total = sum(c.startswith("invalid/") for c in broken["cases"])
    page = render({**boards, "reference": broken})
    assert f"| `reference` | ✗ {total - 1}/{total} |" in page
    assert "✗" not in _row(page, "| `reference` | NumPy", "core")  # the model cases still all pass
