"""Hostile Keras files: every case is one `kif` error naming the place, with nothing read outside the input,
nothing allocated beyond the limits, nothing written and no temporary file left behind."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from pathlib import Path
from typing import Any

import pytest

from kif import limits
from kif.cli import main
from kif.keras.config_check import json_depth, load_json
from kif.keras.errors import ConversionError

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "hostile_keras"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras"
EXPECTED: dict[str, dict[str, Any]] = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))
SRC = Path(__file__).resolve().parents[2] / "src"


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("hostile_keras_generate", CORPUS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _generator()


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """$TMPDIR for the conversion: empty before, checked empty after."""
    directory = tmp_path / "tmpdir"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


def _refused(capsys: pytest.CaptureFixture[str], argv: list[str], out: Path, tmpdir: Path, **env: str) -> str:
    overrides = {key[len("KIF_") :].lower(): limits.parse_size(value) for key, value in env.items()}
    with limits.override(**overrides):
        code = main(argv)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code != 0
    assert len(lines) == 1, f"expected one line, got:\n{err}"
    assert "Traceback" not in err
    assert not out.exists(), "nothing may be written under the output name"
    assert not [p.name for p in out.parent.iterdir() if p.name.startswith((".kif-tmp", ".kif-old"))]
    assert not list(tmpdir.iterdir()), "no temporary file may be left behind"
    return lines[0]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_case_is_one_kif_error(name: str, tmp_path: Path, private_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = EXPECTED[name]
    out = tmp_path / "out.kif"
    line = _refused(capsys, ["convert", str(CORPUS / case["file"]), str(out)], out, private_tmp, **case.get("env", {}))
    assert f"[{case['code']}]" in line
    assert case["fragment"] in line
    assert case["file"] in line, "the message names the file"


def test_corpus_files_are_what_the_generator_writes(tmp_path: Path) -> None:
    expected = gen.generate(tmp_path)
    assert expected == EXPECTED
    for case in expected.values():
        assert (tmp_path / case["file"]).read_bytes() == (CORPUS / case["file"]).read_bytes(), case["file"]


def test_corpus_covers_every_class() -> None:
    codes = {case["code"] for case in EXPECTED.values()}
    assert {"convert-unsafe", "convert-too-large", "convert-config", "convert-unreadable"} <= codes
    assert len(EXPECTED) >= 50


# ---------------------------------------------------------------- nothing outside the input is opened

_AUDITED = textwrap.dedent(
    """
    import json, os, sys
    outside, files, out = sys.argv[1], sys.argv[2:-1], sys.argv[-1]
    opened = []
    def hook(event, args):
        if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
            opened.append(os.fsdecode(args[0]))
    import kif.cli, kif.keras.convert, h5py  # imports open module files: done before the hook
    sys.addaudithook(hook)
    results = []
    for index, path in enumerate(files):
        code = kif.cli.main(["convert", path, os.path.join(out, f"out{index}.kif")])
        results.append(code)
    print(json.dumps({"codes": results, "opened": opened}))
    """
)


def _fifo(path: Path) -> Path:
    os.mkfifo(path)  # if HDF5 (in C, unseen by audit hooks) opened it for reading, the child would block here
    return path


def test_external_data_is_refused_before_any_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret, linked, source = _fifo(outside / "secret.bin"), _fifo(outside / "linked.h5"), _fifo(outside / "source.h5")
    work = tmp_path / "work"
    work.mkdir()
    cases = [
        gen.legacy_h5(work / "external_storage.h5", mutate=gen.external_storage(str(secret))),
        gen.legacy_h5(
            work / "external_link.h5",
            mutate=lambda f: f.__setitem__("model_weights/dense/dense/x", gen.h5py.ExternalLink(str(linked), "/")),
        ),
        gen.legacy_h5(work / "virtual.h5", mutate=gen.virtual_kernel(str(source))),
        gen.keras_zip(work / "external_storage.keras", **{"model.weights.h5": gen.weights_h5(lambda f: _external_var(f, str(secret)))}),
    ]
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    env = {**os.environ, "TMPDIR": str(tmpdir), "PYTHONPATH": str(SRC)}
    result = subprocess.run(
        [sys.executable, "-c", _AUDITED, str(outside), *map(str, cases), str(work)], capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert all(code != 0 for code in report["codes"])
    assert result.stderr.count("[convert-unsafe]") == len(cases), result.stderr
    assert not [p for p in report["opened"] if p.startswith(str(outside))], "a file outside the input was opened"
    assert not [p for p in report["opened"] if p.startswith(str(tmpdir))], "the .keras weights were extracted"
    assert {p for p in report["opened"] if p.startswith(str(work))} <= {str(p) for p in cases}
    assert not list(tmpdir.iterdir()) and not list(work.glob("out*"))


def _external_var(f: Any, target: str) -> None:
    del f["layers/dense/vars/0"]
    f.create_dataset("layers/dense/vars/0", shape=(3, 2), dtype="<f4", external=[(target, 0, 24)])


# ---------------------------------------------------------------- valid files still convert, in place


def test_base_files_of_the_corpus_convert(tmp_path: Path, private_tmp: Path) -> None:
    import kif
    from kif.keras import convert

    for source in (gen.legacy_h5(tmp_path / "ok.h5"), gen.keras_zip(tmp_path / "ok.keras")):
        target = convert(source, tmp_path / f"{source.stem}{source.suffix[1:]}.kif")
        model = kif.load(target)
        assert [layer.type for layer in model.layers] == ["Dense"]
        assert model.weights["dense/kernel"].tolist() == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    assert not list(private_tmp.iterdir())


def test_a_deflated_keras_file_converts_like_the_stored_one(tmp_path: Path, private_tmp: Path) -> None:
    import numpy as np

    import kif
    from kif.keras import convert

    stored = FIXTURES / "keras3" / "mlp_activations" / "model.keras"
    deflated = tmp_path / "deflated.keras"
    with zipfile.ZipFile(stored) as src, zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    a, b = kif.load(convert(stored, tmp_path / "a.kif")), kif.load(convert(deflated, tmp_path / "b.kif"))
    assert sorted(a.weights) == sorted(b.weights)
    assert all(np.array_equal(np.asarray(a.weights[n]), np.asarray(b.weights[n])) for n in a.weights)
    assert not list(private_tmp.iterdir()), "the inflated copy is anonymous and gone"


# ---------------------------------------------------------------- JSON nesting and text


def test_ten_thousand_nested_lists_are_a_kif_error_not_a_recursion_error() -> None:
    with pytest.raises(ConversionError, match="max_nesting_depth=64"):
        load_json(b"[" * 10000 + b"]" * 10000, "x.json")


@pytest.mark.parametrize(
    ("text", "depth"),
    [(b"1", 0), (b"[]", 1), (b'{"a": [1, {"b": []}]}', 4), (b'["[[[[", "]]"]', 1), (b'["\\"[[["]', 1), (b'[{"\\\\": [[]]}]', 4)],
)
def test_json_depth_counts_brackets_outside_strings(text: bytes, depth: int) -> None:
    assert json_depth(text) == depth


def test_nesting_limit_is_the_central_one() -> None:
    with limits.override(max_nesting_depth=3), pytest.raises(ConversionError, match="max_nesting_depth=3"):
        load_json(b"[[[[1]]]]", "x.json")
    assert load_json(b"[[[1]]]", "x.json") == [[[1]]]


def test_lone_surrogates_are_refused_with_their_pointer() -> None:
    with pytest.raises(ConversionError) as caught:
        load_json(b'{"config": {"layers": [{"name": "a\\udc80"}]}}', "x.json")
    assert caught.value.pointer == "/config/layers/0/name"
    assert "surrogate" in caught.value.message
    str(caught.value).encode("utf-8")  # the message itself is writable as UTF-8
