"""The ``kif`` command line: the main paths as a real process (``python -m kif.cli``),
the rest through ``kif.cli.main`` in-process to keep the file fast.

Exit codes: 0 success/valid, 1 invalid bundle, 2 unreadable input or usage error.
``kif inspect --json`` gives ``inputs``/``outputs`` as lists of {name, dtype, shape, meta}
in graph order: a stable contract for scripts (schemas/inspect.schema.json; tests/test_inspect.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

import kif
from kif.cli import main

CORPUS = Path(__file__).resolve().parents[2] / "conformance" / "invalid"
RNG = np.random.default_rng(3)
KERNEL = RNG.normal(size=(3, 4)).astype("float32")
BIAS = RNG.normal(size=4).astype("float32")


def _kif(*args: str | Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "kif.cli", *map(str, args)], capture_output=True, text=True, check=False, timeout=60)
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    return done


def _main(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """``main`` in-process, shaped like a finished process (argparse exits by SystemExit)."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main([str(a) for a in args])
        except SystemExit as exc:
            status = int(exc.code or 0)
    return subprocess.CompletedProcess(list(args), status, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli")
    # Two inputs, two outputs, declared so that graph order differs from alphabetical order.
    b = kif.GraphBuilder("pair")
    right = b.input("right", "float32", (None, 3))
    left = b.input("left", "float32", (None, 3))
    h = b.add("Dense", right, name="shared", units=4, activation="relu", weights={"kernel": KERNEL, "bias": BIAS})
    h2 = b.reuse("shared", left, name="shared_again")
    b.output(b.add("Add", [h, h2], name="sum"))
    b.output(h)
    pair = kif.save(b.build(), root / "pair.kif")
    b = kif.GraphBuilder("single")
    b.output(b.add("Dense", b.input("x", "float32", (None, 3)), name="dense", units=4, weights={"kernel": KERNEL, "bias": BIAS}))
    single = kif.save(b.build(), root / "single")
    return {"pair": pair, "single": single, "root": root}


def _dense_relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x @ KERNEL + BIAS, 0)


def test_version() -> None:
    done = _kif("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"kif {kif.__version__} (spec {kif.SPEC_VERSION})"


@pytest.mark.parametrize("command", [None, "validate", "inspect", "run", "convert", "layers"])
def test_help(command: str | None) -> None:
    done = _main(command, "--help") if command else _kif("--help")
    assert done.returncode == 0
    assert done.stdout.startswith(f"usage: kif{' ' + command if command else ''}")
    if command is None:
        assert all(name in done.stdout for name in ("validate", "inspect", "run", "layers", "Exit codes"))


def test_no_command_prints_help_and_exits_2() -> None:
    done = _kif()
    assert done.returncode == 2 and done.stdout.startswith("usage: kif")


def test_unknown_option_is_a_usage_error() -> None:
    assert _main("validate", "--frobnicate", "x").returncode == 2


def test_validate_text(bundles: dict[str, Path]) -> None:
    done = _kif("validate", bundles["pair"])
    assert done.returncode == 0
    assert done.stdout.strip().endswith(": valid (0 errors, 0 warnings)")
    bad = _kif("validate", CORPUS / "cycle" / "bundle")
    assert bad.returncode == 1
    assert "[graph-cycle]" in bad.stdout and "/layers/0/inputs/0" in bad.stdout and "INVALID" in bad.stdout


def test_validate_json(bundles: dict[str, Path]) -> None:
    ok = json.loads(_main("validate", "--json", bundles["single"]).stdout)
    assert ok == {"path": str(bundles["single"]), "valid": True, "errors": 0, "warnings": 0, "findings": []}
    done = _kif("validate", "--json", CORPUS / "checksum-mismatch" / "bundle")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["valid"] is False and report["errors"] == 1
    (finding,) = report["findings"]
    assert set(finding) == {"code", "message", "file", "pointer", "severity"}
    assert (finding["code"], finding["pointer"], finding["severity"]) == ("weights-checksum-mismatch", "/weights/files/0/sha256", "error")


@pytest.mark.parametrize("json_flag", [False, True])
def test_validate_unreadable_exits_2(bundles: dict[str, Path], json_flag: bool) -> None:
    flags = ["--json"] if json_flag else []
    run = _kif if json_flag else _main
    assert run("validate", *flags, bundles["root"] / "missing.kif").returncode == 2
    assert _main("validate", *flags, CORPUS / "not-a-zip" / "bundle.kif").returncode == 2


def test_validate_no_verify_skips_checksums() -> None:
    assert _main("validate", "--no-verify", CORPUS / "checksum-mismatch" / "bundle").returncode == 0


def test_inspect_text(bundles: dict[str, Path]) -> None:
    done = _kif("inspect", bundles["pair"])
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert lines[0].startswith("pair  (KIF 0.2.0")  # kif.save's per-tensor digests are a 0.2.0 feature
    assert lines[lines.index("Inputs:") + 1 : lines.index("Outputs:")] == ["  right: float32 [?, 3]", "  left: float32 [?, 3]"]
    assert "Parameters: 16" in done.stdout
    assert all(line == line.rstrip() for line in lines)


def test_inspect_json_contract(bundles: dict[str, Path]) -> None:
    info = json.loads(_kif("inspect", "--json", bundles["pair"]).stdout)
    assert info["inputs"] == [
        {"name": "right", "dtype": "float32", "shape": [None, 3], "meta": {}},
        {"name": "left", "dtype": "float32", "shape": [None, 3], "meta": {}},
    ]
    assert info["outputs"] == [
        {"name": "sum", "dtype": "float32", "shape": [None, 4], "meta": {}},
        {"name": "shared", "dtype": "float32", "shape": [None, 4], "meta": {}},
    ]
    assert [layer["name"] for layer in info["layers"]] == ["shared", "shared_again", "sum"]
    assert info["parameters"] == 3 * 4 + 4  # the shared weights count once
    assert info["weight_bytes"] == 16 * 4


def test_inspect_invalid_and_missing(bundles: dict[str, Path]) -> None:
    bad = _main("inspect", CORPUS / "cycle" / "bundle")
    assert bad.returncode == 1 and "graph-cycle" in bad.stderr
    assert _main("inspect", bundles["root"] / "missing").returncode == 2


def test_run_npz_two_inputs(bundles: dict[str, Path]) -> None:
    root = bundles["root"]
    left, right = RNG.normal(size=(2, 3)).astype("float32"), RNG.normal(size=(2, 3)).astype("float32")
    np.savez(root / "in.npz", left=left, right=right)
    done = _kif("run", bundles["pair"], "--inputs", root / "in.npz", "--output", root / "out.npz")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["sum: float32 [2, 4]", "shared: float32 [2, 4]"]  # graph order
    with np.load(root / "out.npz") as out:
        assert out.files == ["sum", "shared"]
        np.testing.assert_allclose(out["sum"], _dense_relu(right) + _dense_relu(left), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(out["shared"], _dense_relu(right), rtol=1e-5, atol=1e-6)


def test_run_safetensors(bundles: dict[str, Path]) -> None:
    root = bundles["root"]
    left, right = RNG.normal(size=(1, 3)).astype("float32"), RNG.normal(size=(1, 3)).astype("float32")
    save_file({"left": left, "right": right}, str(root / "in.safetensors"))
    done = _kif("run", bundles["pair"], "--inputs", root / "in.safetensors", "--output", root / "out.safetensors")
    assert done.returncode == 0, done.stderr
    out = load_file(str(root / "out.safetensors"))
    assert sorted(out) == ["shared", "sum"]
    np.testing.assert_allclose(out["shared"], _dense_relu(right), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("suffix", [".npz", ".npy"])
def test_run_single_array_for_single_input_model(bundles: dict[str, Path], suffix: str) -> None:
    root = bundles["root"]
    x = RNG.normal(size=(5, 3)).astype("float32")
    source = root / f"x{suffix}"
    np.savez(source, x) if suffix == ".npz" else np.save(source, x)  # an unnamed array
    run = _kif if suffix == ".npz" else _main
    done = run("run", bundles["single"], "--inputs", source, "--output", root / f"single_out{suffix}.npz")  # never replaced without --force
    assert done.returncode == 0, done.stderr
    with np.load(root / f"single_out{suffix}.npz") as out:
        np.testing.assert_allclose(out["dense"], x @ KERNEL + BIAS, rtol=1e-5, atol=1e-6)


def test_run_wrong_inputs_exits_2(bundles: dict[str, Path]) -> None:
    root = bundles["root"]
    np.savez(root / "wrong.npz", nope=np.zeros((1, 3), "float32"))
    done = _main("run", bundles["pair"], "--inputs", root / "wrong.npz", "--output", root / "never.npz")
    assert done.returncode == 2 and "run-inputs" in done.stderr
    assert not (root / "never.npz").exists()


def test_layers_json() -> None:
    done = _kif("layers", "--json")
    assert done.returncode == 0
    rows = json.loads(done.stdout)
    dense = next(r for r in rows if r["type"] == "Dense")
    assert dense == {"type": "Dense", "since": "0.1.0", "tolerance": dense["tolerance"], "runtime": True}
    assert set(dense["tolerance"]) == {"float32", "float16"}
    assert [r["type"] for r in rows] == sorted(r["type"] for r in rows)
    text = _main("layers").stdout.splitlines()
    assert text[0].split() == ["type", "since", "float32", "tolerance", "runtime"]
    assert len(text) == len(rows) + 2


@pytest.mark.parametrize("name", ["bad.npz", "bad.safetensors", "bad.npy", "inputs.csv", "absent.npz"])
def test_run_unreadable_inputs_exit_2(bundles: dict[str, Path], name: str) -> None:
    source = bundles["root"] / name
    if name != "absent.npz":
        source.write_bytes(b"not an array file")
    done = _main("run", bundles["single"], "--inputs", source, "--output", bundles["root"] / "never.npz")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("kif run: ")
