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
    assert f"| `torch` | `{case}` | extended | max error 3.5x the tolerance |" in page
    assert "None: every backend passes" in render(boards) or "## Cases not passed" in render(boards)
