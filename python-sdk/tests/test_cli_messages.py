"""What the CLI says about wrong inputs, and its exit codes (0 ok, 1 failed check, 2 unreadable input or usage).

Each wrong input gets one line that names what the file is (decided by content: every file is named
``model.bin``) and the command that would work; never a traceback.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kif
from kif.cli import build_parser, main
from kif.sniff import KINDS
from tests.format_files import K3, WRITERS, _kif_model

CORPUS = Path(__file__).resolve().parents[2] / "conformance" / "invalid"
# Formats kif convert does not read, with a word of the advice it gives.
NOT_CONVERTED = {
    "keras-weights-h5": "--weights",
    "pytorch": "model.save('model.keras')",
    "torchscript": "model.save('model.keras')",
    "pickle": "model.save('model.keras')",
    "onnx": "original Keras model",
    "tflite": "model.save('model.keras')",
    "savedmodel-pb": "SavedModel directory",
    "safetensors": "original Keras model",
    "npz": "--inputs",
    "npy": "--inputs",
    "hdf5": "model.save('model.keras')",
    "json": "model.to_json()",
    "kif-document": "kif validate",
    "empty": "no content",
}
# Formats the bundle commands refuse, with a word of the advice.
NOT_BUNDLES = {
    "keras-zip": "kif convert",
    "keras-h5": "kif convert",
    "keras-json": "--weights",
    "keras-weights-h5": "architecture.json",
    "pytorch": "kif convert",
    "onnx": "kif convert",
    "tflite": "kif convert",
    "savedmodel-pb": "kif convert",
    "safetensors": "kif convert",
    "npz": "--inputs",
    "kif-document": "directory",
}


def _main(*args: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main([str(a) for a in args])
        except SystemExit as exc:  # argparse
            status = int(exc.code or 0)
    return status, out.getvalue(), err.getvalue()


def _one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "Traceback" not in text
    return lines[0]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("formats")
    out = {}
    for kind, write in WRITERS.items():
        (root / kind).mkdir()
        out[kind] = root / kind / "model.bin"
        write(out[kind])
    out["bundle"] = kif.save(_kif_model(), root / "m.kif")
    np.savez(root / "x.npz", x=np.ones((2, 3), "float32"))
    out["inputs"] = root / "x.npz"
    return out


@pytest.mark.parametrize("kind", sorted(NOT_CONVERTED))
def test_convert_names_the_format(files: dict[str, Path], kind: str, tmp_path: Path) -> None:
    status, out, err = _main("convert", files[kind], tmp_path / "out.kif")
    line = _one_line(err)
    assert status == 2 and out == ""
    assert KINDS[kind] in line and str(files[kind]) in line and NOT_CONVERTED[kind] in line
    assert not (tmp_path / "out.kif").exists()


def test_convert_a_kif_bundle_points_at_validate_inspect_run(files: dict[str, Path], tmp_path: Path) -> None:
    status, _, err = _main("convert", files["bundle"], tmp_path / "again.kif")
    line = _one_line(err)
    assert status == 2 and "is already a KIF bundle" in line and "kif validate" in line and "kif inspect" in line


def test_onnx_export_wants_a_bundle(files: dict[str, Path], tmp_path: Path) -> None:
    status, _, err = _main("convert", files["keras-h5"], tmp_path / "m.onnx")
    line = _one_line(err)
    assert status == 2 and KINDS["keras-h5"] in line and "Expected a KIF bundle" in line and "convert it to .kif first" in line


def test_convert_weights_must_be_keras_weights(files: dict[str, Path], tmp_path: Path) -> None:
    status, _, err = _main("convert", files["keras-json"], tmp_path / "o.kif", "--weights", files["npz"])
    assert status == 2 and KINDS["npz"] in _one_line(err) and "--weights expects" in err


def test_convert_savedmodel_directory_is_named(tmp_path: Path) -> None:
    from kif.cli_input import savedmodel_supported

    saved = tmp_path / "saved"
    (saved / "variables").mkdir(parents=True)
    WRITERS["savedmodel-pb"](saved / "saved_model.pb")
    status, _, err = _main("convert", saved, tmp_path / "o.kif")
    assert status == 2 and "Traceback" not in err
    if not savedmodel_supported():  # until the SavedModel reader is hooked in, the message says what to do
        assert KINDS["savedmodel"] in _one_line(err) and "model.save('model.keras')" in err


@pytest.mark.parametrize("command", ["validate", "inspect", "run"])
@pytest.mark.parametrize("kind", sorted(NOT_BUNDLES))
def test_bundle_commands_name_the_format(files: dict[str, Path], kind: str, command: str, tmp_path: Path) -> None:
    extra = ["--inputs", files["inputs"], "--output", tmp_path / "o.npz"] if command == "run" else []
    status, out, err = _main(command, files[kind], *extra)
    line = _one_line(out + err)
    assert status == 2
    assert KINDS[kind] in line and "not a KIF bundle" in line and NOT_BUNDLES[kind] in line


@pytest.mark.parametrize("command", ["validate", "inspect", "run"])
def test_missing_bundle_is_named_once_and_exits_2(files: dict[str, Path], command: str, tmp_path: Path) -> None:
    extra = ["--inputs", files["inputs"], "--output", tmp_path / "o.npz"] if command == "run" else []
    status, out, err = _main(command, tmp_path / "nope.kif", *extra)
    line = _one_line(out + err)
    assert status == 2 and "does not exist" in line and "INVALID" not in line
    assert line.count("nope.kif") == 1


def test_inspect_invalid_prints_each_finding_once() -> None:
    status, out, err = _main("inspect", CORPUS / "cycle" / "bundle")
    line = _one_line(out + err)
    assert status == 1 and line.count("[graph-cycle]") == 1


def test_real_process_wrong_input_has_no_traceback(files: dict[str, Path], tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kif.cli", "convert", str(files["pytorch"]), str(tmp_path / "o.kif")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert _one_line(done.stderr).startswith("kif convert: [input-format] ")


# -- exit codes, per subcommand ------------------------------------------------------------------


def test_help_promises_the_codes_tested_here() -> None:
    epilog = build_parser().epilog or ""
    assert epilog.startswith("Exit codes: 0 ok; 1 invalid bundle or failed check")
    assert "2 missing, unreadable or wrong-format input" in epilog and "usage error" in epilog


@pytest.mark.parametrize("command", ["validate", "inspect", "run", "convert", "layers", "conformance"])
def test_usage_error_exits_2(command: str) -> None:
    status, _, err = _main(command, "--no-such-option")
    assert status == 2 and "usage:" in err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["validate", "{bundle}"], 0),
        (["validate", "{cycle}"], 1),
        (["validate", "{missing}"], 2),
        (["inspect", "{bundle}"], 0),
        (["inspect", "{cycle}"], 1),
        (["inspect", "{missing}"], 2),
        (["run", "{bundle}", "--inputs", "{inputs}", "--output", "{tmp}/o.npz"], 0),
        (["run", "{cycle}", "--inputs", "{inputs}", "--output", "{tmp}/o.npz"], 1),
        (["run", "{bundle}", "--inputs", "{missing}", "--output", "{tmp}/o.npz"], 2),
        (["convert", "{keras}", "{tmp}/c.kif"], 0),
        (["convert", "{missing}", "{tmp}/c.kif"], 2),
        (["layers"], 0),
    ],
)
def test_exit_codes(files: dict[str, Path], tmp_path: Path, args: list[str], expected: int) -> None:
    values = {
        "bundle": files["bundle"],
        "cycle": CORPUS / "cycle" / "bundle",
        "missing": tmp_path / "missing.kif",
        "inputs": files["inputs"],
        "keras": K3 / "model.keras",
        "tmp": tmp_path,
    }
    status, _, err = _main(*(a.format(**values) for a in args))
    assert status == expected, err


def test_validate_several_paths_exit_with_the_worst(files: dict[str, Path], tmp_path: Path) -> None:
    good, bad = files["bundle"], CORPUS / "cycle" / "bundle"
    assert _main("validate", good, good)[0] == 0
    status, out, _ = _main("validate", good, bad)
    assert status == 1 and out.count(": valid") == 1 and out.count(": INVALID") == 1
    status, out, _ = _main("validate", "--json", good, bad, tmp_path / "missing.kif")
    reports = json.loads(out)
    assert status == 2
    assert [r["valid"] for r in reports] == [True, False, False]
    assert reports[2]["findings"][0]["code"] == "bundle-not-found"


def test_numeric_without_self_test_says_not_checked(files: dict[str, Path]) -> None:
    status, out, _ = _main("validate", "--level", "numeric", files["bundle"])
    assert status == 0 and "numbers not checked: no self-test" in out
    report = json.loads(_main("validate", "--json", "--level", "numeric", files["bundle"])[1])
    assert report["valid"] is True and report["self_test"] == "absent"


def test_numeric_with_self_test_passes(tmp_path: Path) -> None:
    model = _kif_model()
    x = np.ones((1, 3), "float32")
    model.self_test = kif.SelfTest({"x": x}, {"d": x @ np.ones((3, 2), "float32")}, 1e-6, 1e-6)
    path = kif.save(model, tmp_path / "st.kif")
    status, out, _ = _main("validate", "--level", "numeric", path)
    assert status == 0 and "not checked" not in out
    assert json.loads(_main("validate", "--json", "--level", "numeric", path)[1])["self_test"] == "passed"


# -- kif run: output suffixes, dtypes, order of checks -------------------------------------------

KERNEL = np.ones((3, 2), "float32")  # _kif_model's Dense kernel, no bias


def test_run_npy_output_is_a_real_npy(files: dict[str, Path], tmp_path: Path) -> None:
    status, _, err = _main("run", files["bundle"], "--inputs", files["inputs"], "--output", tmp_path / "o.npy")
    assert status == 0, err
    out = np.load(tmp_path / "o.npy", allow_pickle=False)  # np.load of an npz would give an NpzFile, not an array
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, np.ones((2, 3), "float32") @ KERNEL, rtol=1e-6)


def test_run_npy_refused_for_several_outputs_before_running(tmp_path: Path) -> None:
    b = kif.GraphBuilder("two")
    x = b.input("x", "float32", (None, 3))
    b.output(b.add("ReLU", x, name="a"))
    b.output(b.add("ReLU", x, name="b"))
    path = kif.save(b.build(), tmp_path / "two.kif")
    np.savez(tmp_path / "x.npz", x=np.ones((1, 3), "float32"))
    status, out, err = _main("run", path, "--inputs", tmp_path / "x.npz", "--output", tmp_path / "o.npy")
    line = _one_line(err)
    assert status == 2 and "2 outputs (a, b)" in line and ".npz" in line and out == ""
    assert not (tmp_path / "o.npy").exists()


@pytest.mark.parametrize("name", ["o.txt", "o.keras", "missing_dir/o.npz"])
def test_run_refuses_an_output_it_cannot_write(files: dict[str, Path], tmp_path: Path, name: str) -> None:
    status, _, err = _main("run", files["bundle"], "--inputs", files["inputs"], "--output", tmp_path / name)
    line = _one_line(err)
    assert status == 2 and ("Expected --output" in line or "output folder does not exist" in line)
    assert ".kif-tmp" not in line


def test_run_float64_is_refused_naming_input_and_dtype(files: dict[str, Path], tmp_path: Path) -> None:
    np.savez(tmp_path / "f64.npz", x=np.full((1, 3), 0.1, "float64"))
    status, _, err = _main("run", files["bundle"], "--inputs", tmp_path / "f64.npz", "--output", tmp_path / "o.npz")
    line = _one_line(err)
    assert status == 2 and "'x' is float64" in line and "expects float32" in line and "--cast" in line
    assert not (tmp_path / "o.npz").exists()


def test_run_cast_casts_and_says_so(files: dict[str, Path], tmp_path: Path) -> None:
    x = np.full((1, 3), 0.1, "float64")
    np.savez(tmp_path / "f64.npz", x=x)
    status, _, err = _main("run", files["bundle"], "--inputs", tmp_path / "f64.npz", "--output", tmp_path / "o.npz", "--cast")
    assert status == 0 and "cast from float64 to float32" in _one_line(err)
    with np.load(tmp_path / "o.npz") as out:
        np.testing.assert_allclose(out["d"], x.astype("float32") @ KERNEL, rtol=1e-6)


def test_run_widening_cast_is_silent(files: dict[str, Path], tmp_path: Path) -> None:
    np.savez(tmp_path / "f16.npz", x=np.ones((1, 3), "float16"))
    status, _, err = _main("run", files["bundle"], "--inputs", tmp_path / "f16.npz", "--output", tmp_path / "o.npz")
    assert status == 0 and err == ""


def test_run_checks_inputs_before_checksums(tmp_path: Path) -> None:
    # The bundle's checksum is wrong, and the inputs are missing: the inputs are what is reported.
    status, _, err = _main(
        "run", CORPUS / "checksum-mismatch" / "bundle", "--inputs", tmp_path / "absent.npz", "--output", tmp_path / "o.npz"
    )
    line = _one_line(err)
    assert status == 2 and "run-inputs" in line and "does not exist" in line and "checksum" not in line


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("bundle-not-found", 2),
        ("input-format", 2),
        ("convert-unreadable", 2),
        ("convert-usage", 2),
        ("dependency-missing", 2),
        ("run-inputs", 2),
        ("usage", 2),
        ("graph-cycle", 1),
        ("convert-unsupported", 1),
        ("convert-unsafe", 1),
        ("run-failed", 1),
    ],
)
def test_exit_code_classes(code: str, expected: int) -> None:
    from kif.cli import exit_code

    assert exit_code(code) == expected
