"""The conformance suite (conformance/): the reference runtime passes it, it covers the catalog,
it catches a broken backend, its runner needs neither kif nor anything beyond numpy and safetensors,
and its generators are reproducible."""

from __future__ import annotations

import filecmp
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np
import pytest

import kif
from kif import catalog
from kif.cli import main
from kif.conformance import ReferenceBackend, runner, suite_dir
from kif.conformance.check import check_suite
from kif.layers import kernels
from kif.runtime import register_custom

SUITE = suite_dir()
RUNNER = SUITE / "runner" / "kif_conformance.py"
GENERATORS = SUITE / "generators"


def _case_files() -> list[Path]:
    return sorted((SUITE / "cases").glob("*/*/case.json"))


def _cases_with(layer_type: str) -> set[str]:
    return {p.parent.name for p in _case_files() if layer_type in json.loads(p.read_text())["layer_types"]}


@pytest.fixture(scope="module")
def reference_results() -> list[Any]:
    module = runner()
    return module.run_cases(ReferenceBackend(), module.discover(SUITE))


def test_reference_runtime_passes_every_case(reference_results: list[Any]) -> None:
    failures = [f"{r.case.id}: {r.status} {r.detail}" for r in reference_results if r.status != "pass"]
    assert not failures, failures
    kinds = {r.case.kind for r in reference_results}
    assert kinds == {"model", "invalid"}, "the reference backend also runs the validator cases"


def test_suite_size_and_shape() -> None:
    cases = _case_files()
    assert len(cases) >= 300, len(cases)
    groups = {p.parent.parent.name for p in cases}
    assert {"models", "graph_features"} <= groups
    assert len(list((SUITE / "cases" / "models").iterdir())) >= 12
    size = sum(f.stat().st_size for f in SUITE.rglob("*") if f.is_file())
    assert size < 20 * 2**20, f"suite is {size / 2**20:.1f} MB"


def test_every_catalog_layer_type_has_a_case() -> None:
    covered: set[str] = set()
    for path in _case_files():
        covered.update(json.loads(path.read_text())["layer_types"])
    missing = sorted(set(catalog.catalog()) - covered)
    assert not missing, f"layer types without a conformance case: {missing}"


def test_suite_checks_itself() -> None:
    assert check_suite(SUITE) == []


def test_check_reports_problems(tmp_path: Path) -> None:
    """The self-check finds a bad description, a duplicate id and a missing version."""
    (tmp_path / "cases" / "g").mkdir(parents=True)
    (tmp_path / "invalid").mkdir()
    (tmp_path / "case.schema.json").write_text((SUITE / "case.schema.json").read_text())
    source = next(p.parent for p in _case_files() if p.parent.name == "dense-rank3")
    for name in ("one", "two"):
        folder = tmp_path / "cases" / "g" / name
        folder.mkdir()
        for f in ("model.kif", "inputs.safetensors", "expected.safetensors"):
            (folder / f).write_bytes((source / f).read_bytes())
        spec = json.loads((source / "case.json").read_text())
        spec.update(id="one", group="g", description="Dense should work")
        (folder / "case.json").write_text(json.dumps(spec))
    problems = "\n".join(check_suite(tmp_path, validate_bundles=False))
    assert "VERSION" in problems
    assert "should" in problems
    assert "id 'one' also used" in problems
    assert "differs from the folder name" in problems
    assert "description 'Dense should work' also used" in problems
    assert "catalog layer types without a case" in problems


def _copy_invalid(suite: Path, case_id: str, fields: dict[str, Any] | None = None, **expect: Any) -> None:
    import shutil

    shutil.copytree(SUITE / "invalid" / case_id, suite / "invalid" / case_id, symlinks=True)
    path = suite / "invalid" / case_id / "case.json"
    spec = json.loads(path.read_text())
    spec["expect"].update(expect)
    for key, value in (fields or {}).items():
        if value is None:
            spec.pop(key, None)
        else:
            spec[key] = value
    path.write_text(json.dumps(spec))


def test_check_lints_negative_cases_against_the_code_list_and_the_validator(tmp_path: Path) -> None:
    """A wrong code, a severity the code does not have, a pointer the validator does not report, a warning case whose
    bundle has errors, and codes no case asserts (read from the spec's exemption table) are all reported."""
    suite = tmp_path / "conformance"
    (suite / "invalid").mkdir(parents=True)
    (suite / "cases").mkdir()
    (suite / "VERSION").write_text("0.2.0\n")
    (suite / "case.schema.json").write_text((SUITE / "case.schema.json").read_text())
    (tmp_path / "spec").mkdir()
    errors_md = (SUITE.parent / "spec" / "errors.md").read_text()
    table = "| Code | Asserted by | Reason |\n|---|---|---|\n"
    assert table in errors_md  # the exemption table, empty today: exempt one code to see it read
    (tmp_path / "spec" / "errors.md").write_text(errors_md.replace(table, table + "| `graph-cycle` | a test | a reason |\n"))
    _copy_invalid(suite, "unused-layer")  # sound: a warning at /layers/2
    _copy_invalid(suite, "archive-absolute-path", code="archive-unsafe-paths")
    _copy_invalid(suite, "newer-minor-version", severity="error")
    _copy_invalid(suite, "unreferenced-tensor", pointer="/weights/tensors/other")
    _copy_invalid(suite, "archive-deflated-member", code="bundle-unlisted-file", pointer=None, severity="warning")
    _copy_invalid(suite, "bundle-absent")  # sound
    _copy_invalid(suite, "document-over-64-mib")  # sound
    _copy_invalid(suite, "self-test-mismatch", {"validation_level": None})  # only a numeric validation finds it
    _copy_invalid(suite, "archive-duplicate-member", {"pad_document_to": 10**6})  # an archive cannot be padded
    _copy_invalid(suite, "duplicate-layer-name", {"pad_document_to": 64})  # smaller than the document already
    problems = check_suite(suite)
    text = "\n".join(problems)
    assert "invalid/self-test-mismatch: kif.validate does not report self-test-mismatch at '/outputs~1softmax'" in text
    assert "invalid/archive-duplicate-member: pad_document_to needs a bundle/ directory" in text
    assert "invalid/duplicate-layer-name: model.json is already larger than pad_document_to" in text
    assert not any(p.startswith(("invalid/bundle-absent", "invalid/document-over-64-mib")) for p in problems), problems
    assert "invalid/archive-absolute-path: expect.code 'archive-unsafe-paths' is not a finding code" in text
    assert "invalid/newer-minor-version: version-newer-minor is a warning; expect.severity is 'error'" in text
    assert "invalid/unreferenced-tensor: kif.validate does not report weights-unreferenced at '/weights/tensors/other'" in text
    assert "invalid/archive-deflated-member: a warning case must hold an otherwise valid bundle" in text
    assert not any(p.startswith("invalid/unused-layer") for p in problems)
    (uncovered,) = [p for p in problems if p.startswith("finding codes without a negative case")]
    assert "graph-cycle" not in uncovered  # exempted in the spec's table
    assert "graph-unused-layer" not in uncovered and "document-too-large" not in uncovered  # asserted by cases
    assert "archive-corrupt" in uncovered


class _Perturbing:
    """The reference runtime with one layer type's output scaled and shifted by 5e-2."""

    name = "broken"

    def __init__(self, layer_type: str) -> None:
        self.layer_type = layer_type
        inner = kernels()[layer_type]

        class Broken:
            infer = staticmethod(inner.infer)

            @staticmethod
            def run(attrs: dict[str, Any], inputs: list[Any], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
                out = inner.run(attrs, inputs, weights)
                return [out[0] * np.asarray(1.05, out[0].dtype) + np.asarray(0.05, out[0].dtype), *out[1:]]

        register_custom(f"test.broken:{layer_type}", Broken)

    def load(self, path: str) -> Callable[[dict[str, np.ndarray]], Any]:
        model = kif.load(path)
        for layer in model.layers:
            if layer.type == self.layer_type:
                layer.type = f"test.broken:{self.layer_type}"
        return lambda inputs: list(kif.run(model, inputs).values())  # a sequence in graph order is allowed too


@pytest.mark.parametrize("layer_type", ["LayerNormalization", "Conv2DTranspose"])
def test_a_broken_backend_is_caught(layer_type: str, capsys: pytest.CaptureFixture[str]) -> None:
    module = runner()
    code = module.main(["-k", "*", "-q", "--suite", str(SUITE)], backend=_Perturbing(layer_type))
    out = capsys.readouterr().out
    assert code == 1
    failed = {line.split(":")[0] for line in out.splitlines() if ": FAIL" in line}
    assert failed == _cases_with(layer_type), failed ^ _cases_with(layer_type)
    passed, failed_count = out.strip().splitlines()[-1].replace(" passed,", "").replace(" failed", "").split()
    assert int(failed_count) == len(_cases_with(layer_type)) and int(passed) > 400
    coverage = next(line for line in out.splitlines() if f"  {layer_type} " in line)
    assert f"{layer_type} 0/" in coverage


def test_cli_run_writes_scoreboard_and_junit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    board, junit = tmp_path / "board.json", tmp_path / "junit.xml"
    code = main(
        ["conformance", "run", "--backend", "reference", "--level", "core", "-k", "models", "--json", str(board), "--junit", str(junit)]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert out.strip().splitlines()[-1] == "12 passed, 0 failed"
    row = json.loads(board.read_text())
    # spec_version: the latest kif_version among the cases run (the models are 0.1.0 documents); the suite tracks the spec
    assert row["backend"] == "reference" and row["spec_version"] == "0.1.0" and row["suite_version"] == kif.SPEC_VERSION
    assert row["passed"] == 12 and row["failed"] == 0
    assert row["layer_types"]["Conv2DTranspose"] == {"passed": 2, "failed": 0, "errors": 0, "not_supported": 0}
    assert set(row["cases"]) >= {"unet", "transformer-encoder", "mixed-float16"}
    assert all(0 <= c["worst"] <= 1 for c in row["cases"].values())
    tree = ElementTree.parse(junit).getroot()
    assert tree.get("tests") == "12" and tree.get("failures") == "0"


def test_cli_check_and_level(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conformance", "run", "--backend", "reference", "--level", "core", "-k", "float16", "-q"]) == 0
    out = capsys.readouterr().out
    assert "extended" not in out and out.strip().endswith("passed, 0 failed")
    core = runner().discover(SUITE, "core")
    every = runner().discover(SUITE, "extended")
    assert 0 < len(core) < len(every)
    assert all(c.level in ("core", "invalid") for c in core) and any(c.level == "invalid" for c in core)
    no_lstm = runner().discover(SUITE, "extended", exclude="LSTM")
    assert not any("LSTM" in c.layer_types for c in no_lstm) and len(no_lstm) < len(every)


def test_runner_standalone_without_kif(tmp_path: Path) -> None:
    """The runner in a subprocess where importing kif fails, with a replay backend written by a 'third party'."""
    (tmp_path / "replay_backend.py").write_text(
        textwrap.dedent(
            """
            import json
            from pathlib import Path
            import numpy as np
            from safetensors.numpy import load_file

            class Replay:
                name = "replay"
                def load(self, bundle_path):
                    folder = Path(bundle_path).parent
                    expected = load_file(str(folder / "expected.safetensors"))
                    if (folder / "expected.json").is_file():  # string outputs: {name: {shape, values}}
                        for name, t in json.loads((folder / "expected.json").read_text("utf-8")).items():
                            expected[name] = np.array(t["values"], dtype=object).reshape(t["shape"])
                    return lambda inputs: expected
            """
        )
    )
    driver = textwrap.dedent(
        f"""
        import runpy, sys
        class NoKif:
            def find_spec(self, name, path=None, target=None):
                if name == "kif" or name.startswith("kif."):
                    raise ImportError("kif is not installed here")
        sys.meta_path.insert(0, NoKif())
        row = {str(tmp_path / "row.json")!r}
        sys.argv = ["kif_conformance", "--backend", "replay_backend:Replay", "--level", "core", "-q", "--json", row]
        try:
            runpy.run_path({str(RUNNER)!r}, run_name="__main__")
        finally:
            assert not any(m == "kif" or m.startswith("kif.") for m in sys.modules), "the runner imported kif"
        """
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", driver], capture_output=True, text=True, env=env, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    last = done.stdout.strip().splitlines()[-1]
    assert last.endswith(" passed, 0 failed"), last
    row = json.loads((tmp_path / "row.json").read_text())
    assert row["backend"] == "replay" and row["failed"] == 0
    assert not any(case_id.startswith("invalid/") for case_id in row["cases"]), "no validate(): negative cases are not run"


def test_runner_reports_errors_and_wrong_outputs(capsys: pytest.CaptureFixture[str]) -> None:
    class Wrong:
        def load(self, path: str) -> Callable[[dict[str, np.ndarray]], Any]:
            if "dense-rank3" in path:
                raise RuntimeError("cannot load")
            return lambda inputs: {"nope": np.zeros(1)}

    assert runner().main(["-k", "dense-rank*", "--suite", str(SUITE)], backend=Wrong()) == 1
    out = capsys.readouterr().out
    assert "RuntimeError: cannot load" in out and "missing outputs" in out
    assert out.strip().splitlines()[-1] == "0 passed, 2 failed"


def _generate(stem: str, out: Path, pattern: str) -> None:
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    done = subprocess.run(
        [sys.executable, "-W", "ignore", str(GENERATORS / f"{stem}.py"), str(out), "-k", pattern],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]


def test_generators_are_deterministic(tmp_path: Path) -> None:
    """Regenerate two cases into tmp (one converted from Keras, one built with the builder and a NumPy oracle):
    byte-identical to the committed ones."""
    for stem, pattern in [("graph_features", "embedding-mask-global")]:
        _generate(stem, tmp_path, pattern)
        written = sorted((tmp_path / stem).iterdir())
        assert written, stem
        for folder in written:
            committed = SUITE / "cases" / stem / folder.name
            names = sorted(p.name for p in folder.iterdir())
            assert names == sorted(p.name for p in committed.iterdir())
            _, mismatch, errors = filecmp.cmpfiles(folder, committed, names, shallow=False)
            assert not mismatch and not errors, (folder.name, mismatch, errors)


def test_a_warning_case_needs_the_warning_and_no_error() -> None:
    module = runner()
    (case,) = module.discover(SUITE, "extended", ["invalid/unused-layer"])
    warning = {"code": "graph-unused-layer", "pointer": "/layers/2", "severity": "warning"}

    class Validator:
        def __init__(self, findings: list[dict[str, Any]]) -> None:
            self.findings = findings

        def load(self, path: str) -> Any:
            raise AssertionError("not a model case")

        def validate(self, path: str) -> list[dict[str, Any]]:
            return self.findings

    (alone,) = module.run_cases(Validator([warning]), [case], jobs=1)
    (with_error,) = module.run_cases(Validator([warning, {"code": "graph-cycle", "pointer": ""}]), [case], jobs=1)
    (as_error,) = module.run_cases(Validator([{**warning, "severity": "error"}]), [case], jobs=1)
    assert (alone.status, with_error.status, as_error.status) == ("pass", "fail", "fail")
    assert "no error, received errors [('graph-cycle', '')]" in with_error.detail
