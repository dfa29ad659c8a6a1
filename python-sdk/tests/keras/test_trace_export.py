"""``kif.keras.export`` derives composites from custom layers whose ``call`` uses only keras.ops (kif.keras.trace).

The oracle is the live Keras model (KERAS_BACKEND=torch); the bundle is read with no custom code: the reference
runtime, the torch importer and the ONNX exporter run in ONNX Runtime.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kif
import kif.keras
from kif.errors import KifError

keras = pytest.importorskip("keras")
ops = keras.ops


@keras.saving.register_keras_serializable(package="seed")
class MyCustomLayer(keras.layers.Layer):  # type: ignore[misc]
    """The seed question's layer: call is relu."""

    def call(self, x: Any) -> Any:
        return ops.relu(x)


@keras.saving.register_keras_serializable(package="seed")
class Heavy(keras.layers.Layer):  # type: ignore[misc]
    """Own weight, a sub-layer, ops, slicing and a concatenation."""

    def __init__(self, units: int = 3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = units
        self.proj = keras.layers.Dense(units, name="proj")

    def build(self, shape: tuple[int, ...]) -> None:
        self.w = self.add_weight(name="w", shape=(shape[-1],), initializer="random_normal")
        self.proj.build((shape[0], shape[1] - 1, shape[2]))

    def call(self, x: Any) -> Any:
        h = ops.relu(x * self.w)[:, 1:, :]
        return ops.concatenate([self.proj(h), ops.mean(ops.square(h), axis=-1, keepdims=True), h[..., :2]], axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="seed")
class Outer(keras.layers.Layer):  # type: ignore[misc]
    """A custom layer calling another: the inner one becomes a nested composite."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.inner = MyCustomLayer(name="inner")

    def call(self, x: Any) -> Any:
        return ops.tanh(self.inner(x)) + x


@keras.saving.register_keras_serializable(package="seed")
class UsesNumpy(keras.layers.Layer):  # type: ignore[misc]
    def call(self, x: Any) -> Any:
        return ops.convert_to_tensor(np.tanh(ops.convert_to_numpy(x)))

    def compute_output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return shape


def _model() -> Any:
    keras.utils.set_random_seed(5)
    x = keras.Input((5, 4))
    h = MyCustomLayer(name="seed")(x)
    h = Heavy(name="heavy")(h)
    h = keras.layers.Dense(4, name="dense")(h)
    h = Heavy(units=2, name="heavy2")(h)
    return keras.Model(x, Outer(name="outer")(h))


def test_custom_layers_are_traced_and_every_reader_reproduces_them(tmp_path: Path) -> None:
    model = _model()
    bundle = kif.keras.export(model, tmp_path / "m.kif")
    assert kif.validate(bundle).ok
    loaded = kif.load(bundle)
    types = [layer.type for layer in loaded.layers]
    traced = [f"keras.traced.seed:{name}" for name in ("MyCustomLayer", "Heavy", "Heavy_2", "Outer")]
    assert types == [*traced[:2], "Dense", *traced[2:]]
    assert loaded.composites["keras.traced.seed:MyCustomLayer"]["layers"][0]["attributes"] == {"activation": "relu"}
    assert "keras.traced.seed:MyCustomLayer" in {inner["type"] for inner in loaded.composites["keras.traced.seed:Outer"]["layers"]}
    assert set(loaded.layers[1].weights) == {"w", "proj/kernel", "proj/bias"}
    np.testing.assert_array_equal(np.asarray(loaded.weights["heavy/w"]), ops.convert_to_numpy(model.get_layer("heavy").w))
    x = np.random.default_rng(0).normal(size=(3, 5, 4)).astype("float32")
    expected = np.asarray(model.predict(x, verbose=0))
    np.testing.assert_allclose(next(iter(kif.run(loaded, x).values())), expected, rtol=1e-5, atol=1e-5)
    torch = pytest.importorskip("torch")
    kif_torch = pytest.importorskip("kif.torch")
    with torch.no_grad():
        got = kif_torch.load(loaded)(torch.from_numpy(x))
    got = next(iter(got.values())) if isinstance(got, dict) else got[0] if isinstance(got, (list, tuple)) else got
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-5)
    ort = pytest.importorskip("onnxruntime")
    kif_onnx = pytest.importorskip("kif.onnx")
    path = kif_onnx.export(bundle, tmp_path / "m.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {loaded.inputs[0].name: x})[0], expected, rtol=1e-5, atol=1e-5)


def test_the_seed_layer_alone(tmp_path: Path) -> None:
    x = keras.Input((3,))
    model = keras.Model(x, MyCustomLayer(name="seed")(x))
    loaded = kif.load(kif.keras.export(model, tmp_path / "seed.kif"))
    data = np.array([[-1.0, 0.0, 2.5]], "float32")
    np.testing.assert_array_equal(next(iter(kif.run(loaded, data).values())), np.maximum(data, 0))


def test_an_untraceable_call_is_one_error_saying_what_to_do(tmp_path: Path) -> None:
    x = keras.Input((3,))
    model = keras.Model(x, UsesNumpy(name="np_layer")(x))
    with pytest.raises(KifError) as caught:
        kif.keras.export(model, tmp_path / "bad.kif")
    message = str(caught.value)
    for word in ("np_layer", "UsesNumpy", "keras.ops", "custom=", "--custom", "allow_custom"):
        assert word in message
    assert not (tmp_path / "bad.kif").exists()
    kept = kif.load(kif.keras.export(model, tmp_path / "opaque.kif", allow_custom=True))
    assert kept.layers[0].type == "keras.custom:UsesNumpy"


def test_given_definitions_win_over_tracing(tmp_path: Path) -> None:
    x = keras.Input((3,))
    model = keras.Model(x, UsesNumpy(name="np_layer")(x))
    body = [{"name": "t", "type": "Activation", "attributes": {"activation": "tanh"}, "inputs": ["x"], "outputs": ["y"], "weights": {}}]
    tanh = {"inputs": ["x"], "outputs": ["y"], "layers": body}
    custom = {"UsesNumpy": {"type": "acme:Tanh", "definition": tanh}}
    loaded = kif.load(kif.keras.export(model, tmp_path / "given.kif", custom=custom))
    data = np.array([[-1.0, 0.0, 2.5]], "float32")
    np.testing.assert_allclose(next(iter(kif.run(loaded, data).values())), model.predict(data, verbose=0), rtol=1e-6)
