"""ONNX export of a bundle declaring huge dimensions ends in a kif error or a faithful model, never a crash."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest

import kif
import kif.limits


def _huge_bundle(tmp_path: Path, dim: int) -> Path:
    builder = kif.GraphBuilder("huge")
    builder.output(builder.add("ReLU", builder.input("x", "float32", [None, 4])))
    path = tmp_path / "huge"
    kif.save(builder.build(), path)
    document = json.loads((path / "model.json").read_text())
    document["inputs"][0]["shape"] = [None, dim]
    document["outputs"][0]["shape"] = [None, dim]
    (path / "model.json").write_text(json.dumps(document))
    return path


@pytest.mark.parametrize("dim", [2**40, 2**62])
def test_huge_dimension_is_refused_with_a_kif_error_and_nothing_written(tmp_path: Path, dim: int) -> None:
    import kif.onnx

    bundle = _huge_bundle(tmp_path, dim)
    with pytest.raises(kif.KifError) as caught:
        kif.onnx.export(bundle, tmp_path / "out.onnx")
    assert caught.value.code == "limit-exceeded"
    assert not (tmp_path / "out.onnx").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".kif-")]


def test_huge_dimension_within_raised_limits_exports_the_declared_dimension(tmp_path: Path) -> None:
    import kif.onnx

    bundle = _huge_bundle(tmp_path, 2**40)
    with kif.limits.override(max_tensor_bytes=2**60, max_tensor_elements=2**60, max_layer_ops=2**62):
        kif.onnx.export(bundle, tmp_path / "out.onnx")
    model = onnx.load(str(tmp_path / "out.onnx"))
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims[1] == 2**40
