"""The coverage_gaps cases and what they need from the tooling: the runner's own safetensors reader (bfloat16,
which safetensors.numpy cannot hold), model.kif as a directory and as a ZIP64 archive (the runner and
``kif conformance check`` accept both), and a reproducible generator."""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from kif.conformance import ReferenceBackend, runner, suite_dir
from kif.conformance.check import check_suite

SUITE = suite_dir()
GAPS = SUITE / "cases" / "coverage_gaps"


def _reader():  # the runner imports kif_tensors from its own folder
    runner()
    return sys.modules["kif_tensors"]


def test_reader_decodes_hand_written_bfloat16(tmp_path: Path) -> None:
    header = json.dumps({"w": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]}}).encode()
    path = tmp_path / "bf16.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + bytes.fromhex("803f00c0c03f"))  # 1.0, -2.0, 1.5
    got = _reader().load_tensors(path)["w"]
    assert got.dtype == np.dtype(ml_dtypes.bfloat16)
    assert got.astype(np.float64).tolist() == [1.0, -2.0, 1.5]


def test_reader_agrees_with_safetensors_and_round_trips(tmp_path: Path) -> None:
    tensors = {
        "f": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([True, False]), "i": np.array([-7], dtype=np.int64),
        "u": np.array(200, dtype=np.uint8), "h": np.array([0.5], dtype=np.float16),
    }  # fmt: skip
    save_file(tensors, str(tmp_path / "lib.safetensors"))
    reader = _reader()
    ours = reader.load_tensors(tmp_path / "lib.safetensors")
    theirs = load_file(str(tmp_path / "lib.safetensors"))
    assert ours.keys() == theirs.keys()
    for name in ours:
        assert ours[name].dtype == theirs[name].dtype and np.array_equal(ours[name], theirs[name])
    reader.save_tensors({**tensors, "bf": np.array([1.0, 3.0], dtype=ml_dtypes.bfloat16)}, tmp_path / "ours.safetensors")
    back = reader.load_tensors(tmp_path / "ours.safetensors")
    assert back["u"].shape == () and back["bf"].dtype == np.dtype(ml_dtypes.bfloat16)
    assert load_file(str(tmp_path / "lib.safetensors"))["f"].tolist() == back["f"].tolist()


def test_reader_rejects_offsets_that_do_not_fit(tmp_path: Path) -> None:
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}).encode()
    path = tmp_path / "bad.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 4)
    with pytest.raises(ValueError, match="do not fit"):
        _reader().load_tensors(path)


def test_gap_cases_have_the_forms_they_claim() -> None:
    assert (GAPS / "directory-form-dense" / "model.kif" / "model.json").is_file()
    data = (GAPS / "zip64-form-dense" / "model.kif").read_bytes()
    assert b"PK\x06\x06" in data and b"PK\x06\x07" in data  # zip64 end record and locator
    with zipfile.ZipFile(GAPS / "zip64-form-dense" / "model.kif") as archive:
        assert all(info.extract_version == 45 for info in archive.infolist())
    doc = json.loads(zipfile.ZipFile(GAPS / "sharded-weights-mlp" / "model.kif").read("model.json"))
    assert len(doc["weights"]["files"]) >= 2
    assert "self_test" in json.loads((GAPS / "directory-form-sharded-self-test" / "model.kif" / "model.json").read_text())
    expected = {p.parent.name: _reader().load_tensors(p) for p in GAPS.glob("*/expected.safetensors")}
    kinds = {a.dtype.name for tensors in expected.values() for a in tensors.values()}
    assert {"bfloat16", "int32", "bool", "uint8"} <= kinds


def test_reference_passes_and_a_wrong_dtype_fails() -> None:
    module = runner()
    cases = [c for c in module.discover(SUITE, pattern="coverage_gaps") if c.kind == "model"]
    assert len(cases) >= 30
    results = module.run_cases(ReferenceBackend(), cases)
    assert [r.case.id for r in results if r.status != "pass"] == []

    class Float32:  # right values, wrong dtype: bfloat16 outputs must come back as bfloat16
        def load(self, path: str):
            expected = module.load_file(str(Path(path).parent / "expected.safetensors"))
            return lambda inputs: {k: v.astype(np.float32) for k, v in expected.items()}

    bf16 = [c for c in cases if c.id.startswith("bf16-")]
    assert all("dtype float32" in r.detail for r in module.run_cases(Float32(), bf16))


def test_check_accepts_directory_and_zip64_and_names_a_hollow_directory(tmp_path: Path) -> None:
    suite = tmp_path / "conformance"  # a suite holding only the coverage_gaps cases (check_suite reads spec/ beside it)
    for name in ("VERSION", "case.schema.json"):
        (suite / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SUITE / name, suite / name)
    shutil.copytree(GAPS, suite / "cases" / "coverage_gaps")
    shutil.copytree(SUITE.parent / "spec", tmp_path / "spec")
    problems = check_suite(suite)
    assert not [p for p in problems if "coverage_gaps" in p], problems
    shutil.rmtree(suite / "cases" / "coverage_gaps" / "directory-form-dense" / "model.kif")
    (suite / "cases" / "coverage_gaps" / "directory-form-dense" / "model.kif").mkdir()
    assert any("directory-form-dense: missing model.kif" in p for p in check_suite(suite))


def test_generator_is_reproducible(tmp_path: Path) -> None:
    for pattern in ("zip64-form-sharded", "directory-form-sharded-self-test", "bf16-dense"):
        done = subprocess.run(
            [sys.executable, "-W", "ignore", str(SUITE / "generators" / "coverage_gaps.py"), str(tmp_path), "-k", pattern],
            capture_output=True, text=True, env={**os.environ, "KERAS_BACKEND": "torch"}, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
    for folder in sorted((tmp_path / "coverage_gaps").iterdir()):
        comparison = filecmp.dircmp(folder, GAPS / folder.name)
        assert not comparison.diff_files and not comparison.left_only and not comparison.right_only, folder.name
        if (folder / "model.kif").is_dir():
            inner = filecmp.dircmp(folder / "model.kif", GAPS / folder.name / "model.kif")
            assert not inner.diff_files and not inner.left_only and not inner.right_only, folder.name
        else:
            assert filecmp.cmp(folder / "model.kif", GAPS / folder.name / "model.kif", shallow=False)
