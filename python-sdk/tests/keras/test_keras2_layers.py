"""tf.keras 2 classes Keras 3 removed (ThresholdedReLU, LocallyConnected1D and LocallyConnected2D): the tf_keras-written fixtures in
tests/fixtures/tf_keras2 convert without TensorFlow and reproduce TensorFlow's outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import kif
from kif.errors import KifError
from kif.keras import convert

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tf_keras2"


def _run(path: Path, tmp_path: Path) -> tuple[kif.Model, np.ndarray]:
    bundle = convert(path, tmp_path / "model.kif")
    report = kif.validate(bundle)
    assert report.ok, [str(f) for f in report.errors]
    model = kif.load(bundle)
    x = np.load(path.with_suffix(".npz"))["x"]
    return model, next(iter(kif.run(model, {model.inputs[0].name: x}).values()))


@pytest.mark.parametrize("suffix", [".h5", ".keras"])
def test_thresholded_relu_is_relu_with_threshold(suffix: str, tmp_path: Path) -> None:
    path = FIXTURES / f"thresholded_relu{suffix}"
    model, got = _run(path, tmp_path)
    assert [layer.type for layer in model.layers] == ["ReLU", "ReLU"]
    x = np.load(path.with_suffix(".npz"))["x"]
    np.testing.assert_array_equal(got, np.load(path.with_suffix(".npz"))["y"])  # TensorFlow's output
    theta = np.float32(0.7)  # tf_keras casts theta to floatx
    np.testing.assert_array_equal(got, np.where(x > theta, x, 0).astype(np.float32))  # hand-derived: x if x > theta
    assert got[0, 3] == 0 and got[0, 4] == x[0, 4], "x = theta gives 0; the next float32 above it passes"


def test_thresholded_relu_refuses_a_negative_theta(tmp_path: Path) -> None:
    import h5py

    src = FIXTURES / "thresholded_relu.h5"
    dst = tmp_path / "bad.h5"
    dst.write_bytes(src.read_bytes())
    with h5py.File(dst, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        config["config"]["layers"][1]["config"]["theta"] = -1.0
        f.attrs["model_config"] = json.dumps(config)
    with pytest.raises(KifError, match=r"ThresholdedReLU.*theta=-1.0"):
        convert(dst, tmp_path / "out.kif")


LC_CASES = sorted(p.stem for p in FIXTURES.glob("lc*.h5"))


@pytest.mark.parametrize("name", LC_CASES)
def test_locally_connected_reproduces_tensorflow(name: str, tmp_path: Path) -> None:
    model, got = _run(FIXTURES / f"{name}.h5", tmp_path)
    assert [layer.type for layer in model.layers] == [f"LocallyConnected{name[2]}D"]
    np.testing.assert_allclose(got, np.load(FIXTURES / f"{name}.npz")["y"], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["lc1d_impl2_last_same_k3s1", "lc2d_impl3_first_same"])
def test_locally_connected_from_tf_keras_zip(name: str, tmp_path: Path) -> None:
    _, got = _run(FIXTURES / f"{name}.keras", tmp_path)
    np.testing.assert_allclose(got, np.load(FIXTURES / f"{name}.npz")["y"], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("name", "shape", "match"), [
    ("lc1d_impl3_last_same_k3s1", (5,), "connected kernel entries"),
    ("lc1d_impl2_last_valid_k3s1", (9, 3, 6, 4), "kernel of shape"),
    ("lc2d_impl1_last_valid", (2, 2, 2), "kernel of shape"),
])  # fmt: skip
def test_locally_connected_refuses_a_kernel_that_does_not_fit(name: str, shape: tuple[int, ...], match: str, tmp_path: Path) -> None:
    import h5py

    dst = tmp_path / "bad.h5"
    dst.write_bytes((FIXTURES / f"{name}.h5").read_bytes())
    with h5py.File(dst, "r+") as f:
        group = f["model_weights"][next(k for k in f["model_weights"] if k.startswith("locally"))]
        path = next(p for p in _datasets(group) if p.endswith("kernel:0"))
        del group[path]
        group.create_dataset(path, data=np.zeros(shape, "float32"))
    with pytest.raises(KifError, match=match):
        convert(dst, tmp_path / "out.kif")


def _datasets(group: object) -> list[str]:
    import h5py

    found: list[str] = []
    group.visititems(lambda name, obj: found.append(name) if isinstance(obj, h5py.Dataset) else None)  # type: ignore[attr-defined]
    return found


REBUILT = ["lc1d_impl3_first_same_k2s2", "lc1d_impl1_last_valid_k3s1", "lc2d_impl2_first_same", "lc2d_impl1_last_valid"]


@pytest.mark.parametrize("name", REBUILT)
def test_locally_connected_to_keras_reproduces_tensorflow(name: str, tmp_path: Path) -> None:
    """to_keras rebuilds the type as the kif> Keras layer of the same name (Keras 3 has none); run by Keras-torch it
    gives TensorFlow's outputs, and kif.keras.export maps it back to the same layer."""
    from kif.keras import export, to_keras

    model, _ = _run(FIXTURES / f"{name}.h5", tmp_path)
    data = np.load(FIXTURES / f"{name}.npz")
    rebuilt = to_keras(model)
    np.testing.assert_allclose(np.asarray(rebuilt.predict(data["x"], verbose=0)), data["y"], rtol=1e-5, atol=1e-5)
    again = kif.load(export(rebuilt, tmp_path / "again.kif"))
    assert [(layer.type, layer.attributes) for layer in again.layers] == [(layer.type, layer.attributes) for layer in model.layers]
