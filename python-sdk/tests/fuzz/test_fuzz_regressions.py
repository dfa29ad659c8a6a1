"""Every input the fuzzer (benchmarks/fuzz.py) found failing stays fixed.

Each folder under regressions/ is a saved failing input (the fuzzer's layout: target.txt
names the target, the other files are the input) plus case.json with the kif error code
the input must now end in (null: a valid input that once hung must now pass with no error).
The folder is replayed through the same target the fuzzer ran, which may raise nothing
but a KifError, and then probed for that code.
"""

from __future__ import annotations

import importlib
import json
import shutil
import struct
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

import kif
from kif.errors import KifError

HERE = Path(__file__).resolve().parent
BENCHMARKS = HERE.parents[2] / "benchmarks"
CASES = sorted(p for p in (HERE / "regressions").iterdir() if (p / "target.txt").is_file())


def _targets() -> dict[str, object]:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        return importlib.import_module("fuzz").TARGETS
    finally:
        sys.path.remove(str(BENCHMARKS))


def _raised_code(call: Callable[[], object]) -> set[str]:
    try:
        call()
    except KifError as exc:
        return {exc.code}
    return set()


def _codes(target: str, root: Path) -> set[str]:
    """The kif error codes the input ends in, asked of the SDK directly (not through the harness)."""
    if target == "npz":
        from kif.cli_run import _read_arrays

        return _raised_code(lambda: _read_arrays(root / "inputs.npz"))
    if target == "safetensors":
        from kif.bundle.safetensors_io import parse_header

        blob = (root / "weights.safetensors").read_bytes()
        return _raised_code(lambda: parse_header(blob, len(blob), "weights.safetensors"))
    if target == "json":
        return {f.code for f in kif.validate(root / "bundle").errors} if (root / "bundle").exists() else set()
    meta = json.loads((root / "meta.json").read_text()) if (root / "meta.json").exists() else {}
    if target == "writers" and not meta.get("dst", "").startswith("occupied"):  # then the ONNX export is what failed
        from kif.onnx.export import build

        return _raised_code(lambda: build(kif.load(root / "bundle")))
    if target == "writers":  # the save into the folder that holds a user's file
        occupied = root / "occupied"
        occupied.mkdir()
        (occupied / "keep.txt").write_bytes(b"user data")
        codes = _raised_code(lambda: kif.save(kif.load(root / "bundle"), occupied))
        assert (occupied / "keep.txt").read_bytes() == b"user data"
        return codes
    if target.startswith("keras"):
        from kif.keras import convert

        src = next(root / n for n in ("model.h5", "model.keras", "architecture.json") if (root / n).exists())
        weights = root / "weights.h5" if src.name == "architecture.json" else None
        return _raised_code(lambda: convert(src, root / "out.kif", weights=weights))
    bundle = root / ("bundle.kif" if (root / "bundle.kif").exists() else "bundle")
    return {f.code for f in kif.validate(bundle, level=meta.get("level", "full")).errors}


@pytest.mark.parametrize("case", CASES, ids=[p.name for p in CASES])
def test_saved_failing_input_now_ends_in_its_kif_error(case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = (case / "target.txt").read_text().strip()
    # A private temporary directory: the targets report files left in it, and other processes write to the shared one.
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    expected = json.loads((case / "case.json").read_text())
    for name in ("replay", "probe"):
        shutil.copytree(case, tmp_path / name)
    _targets()[target].execute(tmp_path / "replay")  # type: ignore[attr-defined]
    codes = _codes(target, tmp_path / "probe")
    assert codes == set() if expected["code"] is None else expected["code"] in codes, codes


def test_every_regression_folder_is_collected() -> None:
    folders = [p for p in (HERE / "regressions").iterdir() if p.is_dir()]
    assert folders and all((p / "target.txt").is_file() and (p / "case.json").is_file() for p in folders)


def _header(raw: bytes) -> bytes:
    return struct.pack("<Q", len(raw)) + raw


# first found by benchmarks/fuzz.py as RecursionError @ kif/strict_json.py:loads (json and safetensors targets)
DEEP_LIST = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 5_000 + b"1" + b"}" * 5_000


@pytest.mark.parametrize("raw", [DEEP_LIST, DEEP_OBJECT], ids=["list", "object"])
def test_deeply_nested_safetensors_header_is_a_header_error(raw: bytes) -> None:
    from kif.bundle.safetensors_io import parse_header

    blob = _header(raw)
    with pytest.raises(KifError) as caught:
        parse_header(blob, len(blob), "weights.safetensors")
    assert caught.value.code == "weights-header-invalid"


@pytest.mark.parametrize("raw", [DEEP_LIST, DEEP_OBJECT], ids=["list", "object"])
def test_deeply_nested_model_json_is_a_document_error(raw: bytes, tmp_path: Path) -> None:
    from .strategies import members, seed_bundles

    for name, body in members(seed_bundles()["models/mlp"]).items():
        (tmp_path / name).write_bytes(body)
    doc = (tmp_path / "model.json").read_bytes()
    (tmp_path / "model.json").write_bytes(doc.replace(b'"metadata": {', b'"metadata": {"deep": ' + raw + b", ", 1))
    assert [f.code for f in kif.validate(tmp_path).errors] == ["document-invalid-json"]
    with pytest.raises(KifError):
        kif.load(tmp_path)


@pytest.mark.parametrize("mode", ["max", "average"])
@pytest.mark.parametrize("pool_size", [[1_000_000, 3, 3], [2, 1_000_000, 2], [3, 65536, 1]])
def test_pooling_window_far_larger_than_input_matches_a_cell_by_cell_oracle(mode: str, pool_size: list[int]) -> None:
    """The fuzzer's hang (regressions/*-pooling-window-1e6): a window of 10^6 over 4 cells, padding same, strides 1."""
    import numpy as np

    from kif.layers.pooling import pool, pool_geometry

    x = np.random.default_rng(4).standard_normal((1, 4, 4, 4, 2)).astype(np.float32)
    got = pool(x, pool_size, [1, 1, 1], "same", mode)
    # Oracle: each output cell reduces the real input cells its window covers (padded cells never take part).
    geometry = [pool_geometry(4, k, 1, "same") for k in pool_size]
    want = np.empty(got.shape, dtype=np.float64)
    for index in np.ndindex(*got.shape[1:4]):
        ranges = [slice(max(o - lo, 0), min(o - lo + k, 4)) for o, (_, lo, _), k in zip(index, geometry, pool_size, strict=True)]
        cells = x[(0, *ranges)].reshape(-1, 2).astype(np.float64)
        want[(0, *index)] = cells.max(0) if mode == "max" else cells.mean(0)
    assert got.shape == (1, 4, 4, 4, 2)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
