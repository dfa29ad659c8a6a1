"""tf.keras files written by TensorFlow (tests/fixtures/tf_op_lambda, generate.py there) whose TFOpLambda nodes
(TensorFlow functions on Keras tensors) convert and reproduce TensorFlow's recorded outputs in the reference
runtime, the torch importer and ONNX Runtime. TensorFlow itself is not needed: its outputs are in the .npz files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

import kif
from kif.errors import KifError
from kif.keras import convert

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tf_op_lambda"
# fixture → (rtol, atol) against TensorFlow's float32 outputs (MobileNetV3: 50 layers deep, logits of scale 10)
TOLERANCES = {"mobilenet_v3_small": (1e-4, 1e-4), "tf_structure": (1e-6, 1e-6), "tf_reductions": (1e-5, 1e-6)}


def _functions(src: Path) -> set[str]:
    with h5py.File(src, "r") as f:
        config = json.loads(f.attrs["model_config"])
    return {layer["config"]["function"] for layer in config["config"]["layers"] if layer["class_name"].endswith("OpLambda")}


def _outputs(bundle: Path, backend: str, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
    if backend == "runtime":
        return [np.asarray(v) for v in kif.run(kif.load(bundle), feed).values()]
    module = pytest.importorskip(f"kif.{backend}")
    return [np.asarray(v) for v in module.conformance_backend.load(bundle)(feed).values()]


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each fixture converted once (and validated) for all three backends."""
    out = {}
    for name in TOLERANCES:
        src = FIXTURES / f"{name}.h5"
        assert _functions(src), f"{name} has TFOpLambda nodes"
        out[name] = convert(src, tmp_path_factory.mktemp(name) / f"{name}.kif")
        report = kif.validate(out[name])
        assert report.ok, [str(f) for f in report.errors]
    return out


@pytest.mark.parametrize("backend", ["runtime", "torch", "onnx"])
@pytest.mark.parametrize("name", sorted(TOLERANCES))
def test_tf_keras_file_converts_and_matches_tensorflow(name: str, backend: str, bundles: dict[str, Path]) -> None:
    bundle = bundles[name]
    recorded = np.load(FIXTURES / f"{name}.npz")
    model = kif.load(bundle)
    keys = ["x"] if len(model.inputs) == 1 else [f"x{i}" for i in range(len(model.inputs))]
    feed = {spec.name: recorded[key] for spec, key in zip(model.inputs, keys, strict=True)}
    got = _outputs(bundle, backend, feed)
    want = [recorded[f"y{i}"] for i in range(len(got))]
    assert f"y{len(got)}" not in recorded.files, "every recorded output is produced"
    rtol, atol = TOLERANCES[name]
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g.shape == w.shape and g.dtype == w.dtype, f"{backend} output {i}: {g.dtype}{g.shape} != {w.dtype}{w.shape}"
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"{backend} output {i}")


def test_mobilenet_v3_op_nodes_become_layers(tmp_path: Path) -> None:
    """hard_sigmoid is ReLU(6)(x + 3) * (1/6): the two TFOpLambda nodes become Rescaling layers."""
    src = FIXTURES / "mobilenet_v3_small.h5"
    assert _functions(src) == {"__operators__.add", "math.multiply"}
    model = kif.load(convert(src, tmp_path / "m.kif"))
    adds = [layer for layer in model.layers if layer.name.startswith("tf.__operators__.add")]
    muls = [layer for layer in model.layers if layer.name.startswith("tf.math.multiply")]
    assert adds and muls and {layer.type for layer in adds + muls} == {"Rescaling"}
    assert {(a.attributes["scale"], a.attributes["offset"]) for a in adds} == {(1.0, 3.0)}
    assert {m.attributes["offset"] for m in muls} == {0.0}
    np.testing.assert_allclose([m.attributes["scale"] for m in muls], 1 / 6, rtol=1e-7)


def _with_function(tmp_path: Path, function: str) -> Path:
    """The MobileNetV3 file with its first TFOpLambda's TensorFlow function replaced."""
    src = tmp_path / "odd.h5"
    shutil.copyfile(FIXTURES / "mobilenet_v3_small.h5", src)
    with h5py.File(src, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        layer = next(layer for layer in config["config"]["layers"] if layer["class_name"] == "TFOpLambda")
        layer["config"]["function"] = function
        f.attrs["model_config"] = json.dumps(config)
    return src


def test_unmappable_tf_function_in_a_real_file_is_one_error_naming_the_node(tmp_path: Path) -> None:
    src = _with_function(tmp_path, "image.rgb_to_hsv")
    with pytest.raises(KifError, match=r"'tf\.__operators__\.add' \(TFOpLambda\).*image\.rgb_to_hsv"):
        convert(src, tmp_path / "odd.kif")
    assert not (tmp_path / "odd.kif").exists()
    env = {**os.environ, "PYTHONPATH": str(Path(kif.__file__).parents[1])}
    done = subprocess.run(
        [sys.executable, "-m", "kif", "convert", str(src), str(tmp_path / "cli.kif")], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode != 0 and "Traceback" not in done.stderr and "image.rgb_to_hsv" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_structural_functions_become_ops(bundles: dict[str, Path]) -> None:
    model = kif.load(bundles["tf_structure"])
    kinds = {layer.type for layer in model.layers}
    assert kinds >= {"op.concatenate", "op.stack", "op.take", "op.pad", "op.tile", "op.strided_slice", "op.squeeze", "op.transpose"}
    assert all(kind.startswith("op.") or kind == "Rescaling" for kind in kinds), kinds
    pads = sorted(layer.attributes["mode"] for layer in model.layers if layer.type == "op.pad")
    assert pads == ["constant", "reflect", "symmetric"]
