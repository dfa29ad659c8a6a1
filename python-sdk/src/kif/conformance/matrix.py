"""The support matrix of the docs, rendered from the runner's scoreboards (conformance/scoreboards/*.json).

The scoreboards are what ``kif conformance run --backend NAME --level extended --json FILE`` writes; the
test suite re-runs every backend and fails when a committed scoreboard no longer matches, so the page
cannot drift from what the importers actually do.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

BACKENDS = {
    "reference": "NumPy reference runtime (`kif.run`)",
    "torch": "PyTorch importer (`kif.torch.load`)",
    "onnx": "ONNX exporter in ONNX Runtime (`kif.onnx.export`)",
    "keras": "Keras importer (`kif.keras.to_keras`)",
}


def load_scoreboards(folder: Path) -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.json"))}


def _is_invalid(case_id: str) -> bool:
    """Negative cases (broken bundles under conformance/invalid/) test a validator, not an importer."""
    return case_id.startswith("invalid/")


OUTCOMES = (("pass", "Pass"), ("not-supported", "Not supported"), ("fail", "Fail"), ("error", "Error"))


def _level_counts(board: Mapping[str, Any], level: str) -> dict[str, int]:
    """Outcome counts of the positive cases of ``level``; they add up to the same case count for every backend."""
    cases = [c for case_id, c in board["cases"].items() if c["level"] == level and not _is_invalid(case_id)]
    return {status: sum(c["status"] == status for c in cases) for status, _ in OUTCOMES}


def _type_cell(counts: Mapping[str, int] | None) -> str:
    """``✓ P/T`` when every case passes, else ``P/T`` with the other outcomes named (T: every case with the type)."""
    if counts is None:
        return "—"
    total = counts["passed"] + counts["not_supported"] + counts["failed"] + counts["errors"]
    rest = [f"{counts[key]} {label}" for key, label in (("not_supported", "n/s"), ("failed", "fail"), ("errors", "error")) if counts[key]]
    if not rest:
        return f"✓ {counts['passed']}/{total}"
    return f"{'✗ ' if counts['failed'] or counts['errors'] else ''}{counts['passed']}/{total} ({', '.join(rest)})"


def _validator_cell(board: Mapping[str, Any]) -> str:
    cases = [c for case_id, c in board["cases"].items() if _is_invalid(case_id)]
    if not cases:
        return "— (no validator: not run)"
    passed = sum(c["status"] == "pass" for c in cases)
    return f"{'✓' if passed == len(cases) else '✗'} {passed}/{len(cases)}"


def string_case_ids(suite: Path) -> set[str]:
    """Positive cases with string inputs or outputs: an inputs.json or expected.json beside their safetensors files."""
    return {p.parent.name for name in ("inputs.json", "expected.json") for p in (suite / "cases").glob(f"*/*/{name}")}


def _string_rows(boards: Mapping[str, Mapping[str, Any]], names: Sequence[str], string_cases: Collection[str]) -> list[str]:
    """Per backend, the outcomes of the cases that feed or expect string tensors (spec/conformance.md#string-tensors)."""
    lines = [
        "",
        "## String tensors",
        "",
        "Cases whose graph inputs or outputs are `string` tensors (`inputs.json` / `expected.json` beside the",
        "safetensors files, [Conformance](spec/conformance.md#string-tensors)). A backend without string tensors",
        "refuses them (*Not supported*).",
        "",
        "| Backend | Cases | " + " | ".join(label for _, label in OUTCOMES) + " |",
        "|---|---:|" + "---:|" * len(OUTCOMES),
    ]
    for name in names:
        cases = [c for case_id, c in boards[name]["cases"].items() if case_id in string_cases]
        counts = [sum(c["status"] == status for c in cases) for status, _ in OUTCOMES]
        lines.append(f"| `{name}` | {len(cases)} | " + " | ".join(map(str, counts)) + " |")
    return lines


def render(boards: Mapping[str, Mapping[str, Any]], string_cases: Collection[str] = ()) -> str:
    """The page; ``string_cases`` (``string_case_ids(suite)``) adds the String tensors section."""
    names = [n for n in BACKENDS if n in boards] + sorted(set(boards) - set(BACKENDS))
    lines = [
        "# Support matrix",
        "",
        '!!! note "Generated"',
        "    Rendered at docs build time from the conformance runner's scoreboards in `conformance/scoreboards/`",
        "    (`kif conformance run --backend NAME --level extended --json FILE`). The test suite re-runs every",
        "    backend and fails if a scoreboard is stale.",
        "",
        "## Model cases",
        "",
        "Each case runs a bundle on the backend and compares its outputs with the expected ones",
        "(`conformance/cases/`).",
        "",
        "Every row counts the same cases (all positive cases of its level), so Pass + Not supported + Fail + Error",
        "is the same number in each row of a level. *Not supported*: the backend refused the case (for example a",
        "layer type it does not implement), which [Conformance](spec/conformance.md) scores apart from a wrong",
        "result (*Fail*) or a crash (*Error*).",
        "",
        "| Backend | What it is | Spec | Suite | Level | Cases | " + " | ".join(label for _, label in OUTCOMES) + " |",
        "|---|---|---|---|---|---:|" + "---:|" * len(OUTCOMES),
    ]
    for name in names:
        board = boards[name]
        for level in ("core", "extended"):
            counts = _level_counts(board, level)
            mark = "✓ " if counts["pass"] == sum(counts.values()) else ""
            lines.append(
                f"| `{name}` | {BACKENDS.get(name, name)} | {board['spec_version']} | {board['suite_version']} | {level} | "
                f"{sum(counts.values())} | {mark}{counts['pass']} | " + " | ".join(str(counts[s]) for s, _ in OUTCOMES[1:]) + " |"
            )
    lines += [
        "",
        "## Invalid-bundle cases",
        "",
        "The broken bundles of `conformance/invalid/` test validators, not importers: a backend with a",
        "`validate(path)` method must report each case's expected finding code at its JSON pointer. Only the",
        "reference SDK (`kif.validate`) implements `validate`, so only its row runs them; the importers are",
        "not asked to, and these cases are not counted in the model-case columns above.",
        "",
        "| Backend | Invalid-bundle cases |",
        "|---|---|",
    ]
    lines += [f"| `{name}` | {_validator_cell(boards[name])} |" for name in names]
    if string_cases:
        lines += _string_rows(boards, names, string_cases)
    lines += ["", "## Cases not passed", ""]
    failures = [(name, case, info) for name in names for case, info in sorted(boards[name]["cases"].items()) if info["status"] != "pass"]
    if not failures:
        lines.append("None: every backend passes every case it runs, core and extended.")
    else:
        lines += ["| Backend | Case | Level | Outcome | Reason |", "|---|---|---|---|---|"]
        for name, case, info in failures:
            reason = str(info.get("detail", info["status"])).replace("|", "\\|").replace("\n", " ")
            lines.append(f"| `{name}` | `{case}` | {info['level']} | {info['status']} | {reason} |")
    lines += ["", "## Per layer type", "", "| Layer type | " + " | ".join(f"`{n}`" for n in names) + " |"]
    lines.append("|---|" + "---|" * len(names))
    types = sorted({t for board in boards.values() for t in board["layer_types"]})
    for layer_type in types:
        cells = [_type_cell(boards[name]["layer_types"].get(layer_type)) for name in names]
        lines.append(f"| {layer_type} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def statuses(board: Mapping[str, Any]) -> dict[str, str]:
    return {case: info["status"] for case, info in board["cases"].items()}


__all__: Sequence[str] = ["BACKENDS", "load_scoreboards", "render", "statuses", "string_case_ids"]
