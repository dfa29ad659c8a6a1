"""The language-neutral process backend (``--backend process:COMMAND``, spec/conformance.md "Process protocol"):
the Node importer of conformance/importers/node runs the suite with no Python of its own, and a fake importer
that times out, crashes, prints garbage or refuses is classified as the protocol says. Also the four outcomes of
in-process backends, the "invalid" level and the scoreboard schema."""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import textwrap
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from kif.conformance import runner, suite_dir
from kif.errors import UnsupportedLayerError

SUITE = suite_dir()
NODE_IMPORTER = SUITE / "importers" / "node" / "kif_importer.mjs"
SCOREBOARD_SCHEMA = json.loads((SUITE / "scoreboard.schema.json").read_text(encoding="utf-8"))
# What the Node importer claims (its README): these types and activations, float32 only, Softmax without a mask.
NODE_TYPES = {"Dense", "Activation", "ReLU", "Add", "Flatten", "Softmax"}
NODE_ACTIVATIONS = {"linear", "relu", "sigmoid", "tanh", "softmax"}
# The negative cases its few validator checks decide; it refuses every other one.
NODE_VALIDATES = {
    "invalid/not-a-zip", "invalid/archive-truncated", "invalid/missing-model-json", "invalid/archive-missing-model-json",
    "invalid/model-json-not-json", "invalid/model-json-not-utf8", "invalid/nan-in-json", "invalid/document-not-object",
    "invalid/duplicate-layer-name", "invalid/duplicate-input-name", "invalid/duplicate-tensor",
    "invalid/dangling-tensor-reference", "invalid/output-not-produced", "invalid/bundle-absent", "invalid/document-over-64-mib",
}  # fmt: skip
# A subset that keeps the run short: the cases holding a claimed type (for Dense, the dense-* ones), the models
# and graph_features groups (mostly refused) and every negative case.
NODE_PATTERNS = [*sorted(NODE_TYPES - {"Dense"}), "dense-*", "models", "graph_features", "invalid/*"]


def _node_claims(case_folder: Path) -> bool:
    """Independently of the importer: does the bundle use only what the Node importer claims?"""
    with zipfile.ZipFile(case_folder / "model.kif") as archive:
        doc = json.loads(archive.read("model.json"))
    layers = doc["layers"]
    return (
        all(layer["type"] in NODE_TYPES for layer in layers)
        and all(layer["attributes"].get("activation", "linear") in NODE_ACTIVATIONS for layer in layers)
        and all(d["dtype"] == "float32" for d in [*doc["inputs"], *doc["outputs"], *doc["weights"]["tensors"].values()])
        and all(len(layer["inputs"]) == 1 for layer in layers if layer["type"] == "Softmax")
    )


@pytest.fixture(scope="module")
def node_board(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    node = shutil.which("node")
    assert node, "Node.js is required (installed by .ci/run): the process backend is tested with a Node importer"
    out = tmp_path_factory.mktemp("node") / "board.json"
    argv = ["--backend", f"process:{node} {NODE_IMPORTER}", "--jobs", "2", "-q", "--json", str(out), "--suite", str(SUITE)]
    for pattern in NODE_PATTERNS:
        argv += ["-k", pattern]
    code = runner().main(argv)
    board: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    board["exit"] = code
    return board


def test_node_importer_passes_what_it_claims_and_refuses_the_rest(node_board: dict[str, Any]) -> None:
    cases = node_board["cases"]
    folders = {c.id: c.folder for c in runner().discover(SUITE) if c.kind == "model"}
    claimed = {case_id for case_id in cases if case_id in folders and _node_claims(folders[case_id])}
    assert len(claimed) >= 30, sorted(claimed)
    wrong = {k: v for k, v in cases.items() if v["status"] in ("fail", "error")}
    assert not wrong, wrong
    passed = {k for k, v in cases.items() if v["status"] == "pass"}
    assert passed == claimed | NODE_VALIDATES, passed ^ (claimed | NODE_VALIDATES)
    refused = {k: v for k, v in cases.items() if v["status"] == "not-supported"}
    assert set(refused) == set(cases) - passed and len(refused) >= 50
    assert all(v["detail"].startswith("not supported: ") and v["worst"] is None for v in refused.values())
    assert refused["mlp"]["detail"] != "not supported: " and "models/mlp" not in passed
    assert node_board["exit"] == 0, "refusals alone do not fail a run"
    assert node_board["passed"] == len(passed) and node_board["not_supported"] == len(refused)
    assert node_board["failed"] == node_board["errors"] == 0


def test_node_scoreboard_validates_against_the_schema(node_board: dict[str, Any]) -> None:
    board = {k: v for k, v in node_board.items() if k != "exit"}
    Draft202012Validator.check_schema(SCOREBOARD_SCHEMA)
    validator = Draft202012Validator(SCOREBOARD_SCHEMA)
    assert list(validator.iter_errors(board)) == []
    assert board["format"] == "kif-scoreboard/1" and board["backend"].startswith("process:")
    assert {v["level"] for k, v in board["cases"].items() if k.startswith("invalid/")} == {"invalid"}
    assert {v["level"] for k, v in board["cases"].items() if not k.startswith("invalid/")} <= {"core", "extended"}
    assert board["layer_types"]["Dense"]["not_supported"] > 0 and board["layer_types"]["ReLU"]["passed"] > 0
    # The schema rejects what a reader could not interpret.
    for broken in (
        {**board, "format": "kif-scoreboard/2"},
        {k: v for k, v in board.items() if k != "not_supported"},
        {**board, "cases": {"x": {"status": "skipped", "worst": None, "level": "core", "detail": "?"}}},
        {**board, "cases": {"x": {"status": "fail", "worst": None, "level": "core"}}},  # no detail
        {**board, "layer_types": {"Dense": {"passed": 1, "failed": 0}}},
    ):
        assert list(validator.iter_errors(broken)), broken


# ---------------------------------------------------------------- a fake importer, one behaviour per mode

FAKE = """
import json, os, signal, subprocess, sys, time
from pathlib import Path

mode, pids, action, bundle = sys.argv[1], Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
assert os.environ.get("KIF_CONFORMANCE_PROTOCOL") == "2", "protocol version not set"
assert list(Path.cwd().iterdir()) == [] and Path.cwd() != bundle.parent, "not a fresh empty working directory"
if mode == "hang":
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    pids.write_text(f"{os.getpid()} {child.pid}")
    time.sleep(60)
elif mode == "crash":
    raise RuntimeError("the fake importer broke")
elif mode == "signal":
    os.kill(os.getpid(), signal.SIGKILL)
elif mode == "garbage":
    if action == "run":
        Path(sys.argv[6]).write_bytes(b"not safetensors")
    print("<<< not json >>>")
elif mode == "refuse":
    print(json.dumps({"not_supported": "the fake importer implements nothing"}))
    sys.exit(3)
elif mode == "refuse-badly":
    print("no reason given")
    sys.exit(3)
elif mode == "warning" and action == "validate":
    expect = json.loads((bundle.parent / "case.json").read_text())["expect"]
    print(json.dumps({"findings": [{**expect, "severity": "warning"}]}))
elif mode in ("replay", "warning"):
    if action == "run":
        Path(sys.argv[6]).write_bytes((bundle.parent / "expected.safetensors").read_bytes())
    else:
        expect = json.loads((bundle.parent / "case.json").read_text())["expect"]
        print(json.dumps({"findings": [{"code": "other", "pointer": None}, {**expect, "file": "model.json"}]}))
"""


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    script = tmp_path_factory.mktemp("fake") / "fake_importer"
    script.write_text(f"#!{sys.executable}\n" + textwrap.dedent(FAKE), encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def _two_cases() -> list[Any]:
    cases = runner().discover(SUITE, "extended", ["dense-rank3", "invalid/cycle"])
    assert [c.id for c in cases] == ["dense-rank3", "invalid/cycle"]
    return cases


def _run_fake(fake: Path, mode: str, tmp_path: Path, timeout: float = 30.0) -> list[Any]:
    backend = runner().resolve_backend(f"process:{fake} {mode} {tmp_path / 'pids'}", timeout)
    return runner().run_cases(backend, _two_cases(), jobs=1)


@pytest.mark.parametrize(
    ("mode", "statuses", "detail"),
    [
        ("replay", ["pass", "pass"], ""),
        ("refuse", ["not-supported"] * 2, "not supported: the fake importer implements nothing"),
        ("refuse-badly", ["error"] * 2, 'exit status 3 without {"not_supported": "reason"}'),
        ("crash", ["error"] * 2, "RuntimeError: the fake importer broke"),
        ("signal", ["error"] * 2, "killed by signal 9"),
        ("garbage", ["error"] * 2, "not"),  # run: OUTPUT is not safetensors; validate: stdout is not JSON
        ("warning", ["pass", "fail"], ""),  # a warning does not satisfy a negative case
    ],
)
def test_fake_process_importer_is_classified(fake: Path, tmp_path: Path, mode: str, statuses: list[str], detail: str) -> None:
    results = _run_fake(fake, mode, tmp_path)
    assert [r.case.kind for r in results] == ["model", "invalid"]
    assert [r.status for r in results] == statuses, [r.detail for r in results]
    for r in results:
        assert detail in r.detail, r.detail
    if mode == "warning":
        assert "expected error ('graph-cycle', '/layers/0/inputs/0'), received []" in results[1].detail
    if mode == "garbage":
        assert "not a readable safetensors file" in results[0].detail and "stdout is not JSON" in results[1].detail


def _gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie awaiting its reaper counts as exited)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].startswith("Z")
    except FileNotFoundError:
        return True


def test_a_hanging_importer_times_out_and_its_process_group_is_killed(fake: Path, tmp_path: Path) -> None:
    start = time.monotonic()
    results = _run_fake(fake, "hang", tmp_path, timeout=1.5)
    assert time.monotonic() - start < 20
    for r in results:
        assert r.status == "error" and "timed out after 1.5 s" in r.detail, r.detail
    pids = [int(p) for p in (tmp_path / "pids").read_text().split()]
    deadline = time.monotonic() + 10
    while not all(_gone(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(_gone(p) for p in pids), f"processes left running: {pids}"


def test_process_backend_cli_options(fake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Through `kif conformance run`: the summary and the JUnit report count refusals apart from failures."""
    from kif.cli import main

    junit = tmp_path / "junit.xml"
    argv = ["conformance", "run", "--backend", f"process:{fake} refuse {tmp_path / 'p'}", "-k", "dense-rank3", "-k", "invalid/cycle"]
    assert main([*argv, "--junit", str(junit)]) == 0
    out = capsys.readouterr().out
    assert "outcomes: 0 pass, 2 not-supported, 0 fail, 0 error" in out
    assert out.strip().splitlines()[-1] == "0 passed, 0 failed, 2 not supported"
    assert 'skipped="2"' in junit.read_text()
    with pytest.raises(SystemExit, match="process:COMMAND"):
        runner().resolve_backend("process:   ")
    with pytest.raises(SystemExit, match="--timeout"):
        runner().main(["--backend", f"process:{fake}", "--timeout", "0"])


# ---------------------------------------------------------------- in-process backends and levels


class _Refusing:
    """Refuses Dense through the runner's NotSupported, LSTM through the SDK's UnsupportedLayerError, breaks on Add."""

    def load(self, path: str) -> Any:
        inside = os.path.relpath(path, SUITE)  # the case's own path: a checkout under /work/lstm/ must not match
        if "dense" in inside:
            raise runner().NotSupported("Dense is not implemented")
        if "lstm" in inside:
            raise UnsupportedLayerError("LSTM is not implemented", code="layer-unsupported")
        raise ValueError("broken")


def test_in_process_refusals_score_not_supported() -> None:
    module = runner()
    cases = module.discover(SUITE, "extended", ["dense-rank3", "lstm-text-classifier", "add-two"])
    results = {r.case.id: r for r in module.run_cases(_Refusing(), cases, jobs=1)}
    assert results["dense-rank3"].status == "not-supported" and "Dense is not implemented" in results["dense-rank3"].detail
    assert results["lstm-text-classifier"].status == "not-supported"
    assert results["add-two"].status == "error" and "ValueError: broken" in results["add-two"].detail
    board = module.scoreboard("refusing", "extended", list(results.values()), SUITE)
    assert (board["passed"], board["not_supported"], board["failed"], board["errors"]) == (0, 2, 0, 1)
    assert list(Draft202012Validator(SCOREBOARD_SCHEMA).iter_errors(board)) == []


def test_negative_cases_are_at_level_invalid_and_run_with_core() -> None:
    module = runner()
    core = module.discover(SUITE, "core")
    negative = [c for c in core if c.kind == "invalid"]
    assert negative and {c.level for c in negative} == {"invalid"}
    assert len(negative) == len(list((SUITE / "invalid").glob("*/case.json")))
    assert {c.level for c in core if c.kind == "model"} == {"core"}


def test_node_importer_needs_only_the_standard_library() -> None:
    source = NODE_IMPORTER.read_text(encoding="utf-8")
    imports = [line.split(" from ")[-1].strip(' ";') for line in source.splitlines() if line.startswith("import ")]
    assert imports and all(name.startswith("node:") for name in imports), imports
    assert "require(" not in source and os.access(NODE_IMPORTER, os.R_OK)
