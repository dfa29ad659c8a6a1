"""The export driver: opset and checker, external data, atomic refusal, dynamic sizes, the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

import kif
import kif.onnx
from kif.cli import main
from kif.errors import UnsupportedLayerError
from kif.graph import Layer
from tests.onnx.helpers import one_layer, run_onnx

RNG = np.random.default_rng(3)


def _mlp() -> kif.Model:
    b = kif.GraphBuilder("mlp")
    x = b.input("x", "float32", (None, 6))
    h = b.add(
        "Dense",
        x,
        name="hidden",
        units=300,
        activation="relu",
        weights={"kernel": RNG.normal(size=(6, 300)).astype("f4"), "bias": np.ones(300, "f4")},
    )
    y = b.add("Dense", h, name="head", units=2, weights={"kernel": RNG.normal(size=(300, 2)).astype("f4"), "bias": np.zeros(2, "f4")})
    b.output(y)
    return b.build()


def _hand_mlp(model: kif.Model, x: np.ndarray) -> np.ndarray:
    w = model.weights
    h = np.maximum(x @ w["hidden/kernel"] + w["hidden/bias"], 0)
    return h @ w["head/kernel"] + w["head/bias"]


def test_opset_ir_and_metadata(tmp_path: Path) -> None:
    path = kif.onnx.export(_mlp(), tmp_path / "m.onnx")
    proto = onnx.load(str(path))
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", kif.onnx.OPSET)] and kif.onnx.OPSET == 21
    assert proto.producer_name == "kif"
    assert {p.key: p.value for p in proto.metadata_props}["kif_version"] == "0.1.0"  # the MLP needs only 0.1.0
    assert not list(tmp_path.glob(".kif-onnx-*")), "the staging directory is removed"


def test_external_data_over_the_threshold(tmp_path: Path) -> None:
    model = _mlp()
    x = RNG.normal(size=(4, 6)).astype("f4")
    (got,) = run_onnx(model, {"x": x}, tmp_path, external_data_threshold=1000)  # ~10 KB of weights: over the lowered threshold
    data = tmp_path / "model.onnx.data"
    assert data.is_file() and data.stat().st_size >= 300 * 6 * 4
    proto = onnx.load(str(tmp_path / "model.onnx"), load_external_data=False)
    assert any(t.data_location == onnx.TensorProto.EXTERNAL for t in proto.graph.initializer)
    np.testing.assert_allclose(got, _hand_mlp(model, x), rtol=1e-5, atol=1e-4)
    # under the default threshold everything stays in one file
    (tmp_path / "small").mkdir()
    run_onnx(model, {"x": x}, tmp_path / "small")
    assert not (tmp_path / "small" / "model.onnx.data").exists()


def test_unsupported_type_is_refused_before_writing(tmp_path: Path) -> None:
    model = _mlp()
    model.layers.append(Layer("mystery", "acme.tools:Warp", {}, [model.outputs[0].name], ["warped"]))
    target = tmp_path / "m.onnx"
    with pytest.raises(UnsupportedLayerError, match=r"'mystery' has type 'acme.tools:Warp'") as info:
        kif.onnx.export(model, target)
    assert info.value.code == "layer-unsupported" and info.value.pointer == "mystery"
    assert list(tmp_path.iterdir()) == []


def test_refused_variant_names_the_layer_and_leaves_no_file(tmp_path: Path) -> None:
    # padding="same" with stride 2 on an unknown spatial size: the pads cannot be static
    x = np.zeros((1, 7, 3), "f4")
    model = one_layer(
        "Conv1D",
        [x],
        {"kernel": np.zeros((3, 3, 2), "f4"), "bias": np.zeros(2, "f4")},
        filters=2,
        kernel_size=[3],
        strides=[2],
        padding="same",
    )
    model.inputs[0].shape = (None, None, 3)
    with pytest.raises(UnsupportedLayerError, match=r"layer 'layer' \(Conv1D\).*static spatial sizes"):
        kif.onnx.export(model, tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


def test_dynamic_batch_and_sequence_length(tmp_path: Path) -> None:
    """One export serves several batch sizes and sequence lengths (stride-1 'same' pads do not depend on the length)."""
    kernel = RNG.normal(size=(3, 2, 4)).astype("f4")
    x = np.zeros((1, 5, 2), "f4")
    model = one_layer("Conv1D", [x], {"kernel": kernel, "bias": np.zeros(4, "f4")}, filters=4, kernel_size=[3], padding="same")
    model.inputs[0].shape = (None, None, 2)
    path = kif.onnx.export(model, tmp_path / "m.onnx")
    import onnxruntime as ort

    session = ort.InferenceSession(str(path))
    for n, t in ((1, 4), (3, 9)):
        xi = RNG.normal(size=(n, t, 2)).astype("f4")
        padded = np.pad(xi, [(0, 0), (1, 1), (0, 0)])
        hand = sum(padded[:, i : i + t] @ kernel[i] for i in range(3))
        np.testing.assert_allclose(session.run(None, {"in0": xi})[0], hand, rtol=1e-5, atol=1e-5)


def test_cli_convert_to_onnx(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = _mlp()
    kif.save(model, tmp_path / "m.kif")
    assert main(["convert", str(tmp_path / "m.kif"), str(tmp_path / "m.onnx")]) == 0
    assert "m.onnx" in capsys.readouterr().out
    onnx.checker.check_model(str(tmp_path / "m.onnx"), full_check=True)
    import onnxruntime as ort

    x = RNG.normal(size=(2, 6)).astype("f4")
    got = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"x": x})[0]
    np.testing.assert_allclose(got, _hand_mlp(model, x), rtol=1e-5, atol=1e-4)
    # a non-KIF source for an .onnx destination is a usage error, and nothing is written
    (tmp_path / "notes.txt").write_text("not a bundle")
    assert main(["convert", str(tmp_path / "notes.txt"), str(tmp_path / "x.onnx")]) != 0
    assert not (tmp_path / "x.onnx").exists()
    assert "Expected a KIF bundle" in capsys.readouterr().err
