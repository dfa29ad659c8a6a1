"""The built-in composites for well-known third-party classes (kif.keras.builtin_composites), with no ``--custom``.

Keras's own ConvNeXt LayerScale/StochasticDepth run as the oracle; tensorflow_addons does not install with current
TensorFlow, so its normalisations are stood in for by classes registered under its ``Addons`` package whose call is
tfa's formula written out here: per sample and group, ``(x - mean) / sqrt(var + epsilon) * gamma + beta``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kif
from kif.errors import KifError
from kif.keras import convert

keras = pytest.importorskip("keras")
ops = keras.ops


def _tfa_group_norm(name: str) -> Any:
    @keras.saving.register_keras_serializable(package="Addons", name=name)
    class TfaGroupNorm(keras.layers.Layer):  # type: ignore[misc]
        def __init__(self, groups: int = -1, axis: int = -1, epsilon: float = 1e-3, center: bool = True, scale: bool = True, **kw: Any):
            super().__init__(**kw)
            self.groups, self.axis, self.epsilon, self.center, self.scale = groups, axis, epsilon, center, scale

        def build(self, shape: tuple[int, ...]) -> None:
            if self.scale:
                self.gamma = self.add_weight(name="gamma", shape=(shape[-1],), initializer="random_normal")
            if self.center:
                self.beta = self.add_weight(name="beta", shape=(shape[-1],), initializer="random_normal")

        def call(self, x: Any) -> Any:
            channels = x.shape[-1]
            groups = channels if self.groups == -1 else self.groups
            g = ops.reshape(x, (-1, *x.shape[1:-1], groups, channels // groups))
            axes = (*range(1, len(x.shape) - 1), len(x.shape))
            mean, var = ops.mean(g, axis=axes, keepdims=True), ops.var(g, axis=axes, keepdims=True)
            y = ops.reshape((g - mean) / ops.sqrt(var + self.epsilon), (-1, *x.shape[1:]))
            y = y * self.gamma if self.scale else y
            return y + self.beta if self.center else y

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "groups": self.groups, "axis": self.axis, "epsilon": self.epsilon,
                    "center": self.center, "scale": self.scale}  # fmt: skip

    return TfaGroupNorm


INSTANCE = _tfa_group_norm("InstanceNormalization")
GROUP = _tfa_group_norm("GroupNormalization")


def _check(model: Any, tmp_path: Path, x: np.ndarray, types: set[str]) -> kif.Model:
    path = tmp_path / "m.keras"
    model.save(path)
    target = convert(path, tmp_path / "m.kif")
    assert kif.validate(target).ok
    loaded = kif.load(target)
    assert {layer.type for layer in loaded.layers} >= types
    np.testing.assert_allclose(next(iter(kif.run(loaded, x).values())), model.predict(x, verbose=0), rtol=1e-4, atol=1e-4)
    return loaded


@pytest.mark.parametrize(("center", "scale"), [(True, True), (True, False), (False, True), (False, False)])
def test_tfa_instance_and_group_normalization_with_every_weight_variant(tmp_path: Path, center: bool, scale: bool) -> None:
    keras.utils.set_random_seed(1)
    x = keras.Input((6, 5, 8))
    h = INSTANCE(groups=8, epsilon=0.01, center=center, scale=scale, name="inorm")(x)
    y = GROUP(groups=2, center=center, scale=scale, name="gnorm")(h)
    data = np.random.default_rng(0).normal(2.0, 3.0, size=(2, 6, 5, 8)).astype("float32")
    loaded = _check(keras.Model(x, y), tmp_path, data, set())
    types = [layer.type for layer in loaded.layers]
    suffix = {(True, True): "", (True, False): "_beta_only", (False, True): "_gamma_only", (False, False): "_no_affine"}[(center, scale)]
    assert types == [f"tfa.layers:InstanceNormalization{suffix}", f"tfa.layers:GroupNormalization{suffix}"]


def test_convnext_layer_scale_and_stochastic_depth(tmp_path: Path) -> None:
    from keras.src.applications.convnext import LayerScale, StochasticDepth

    keras.utils.set_random_seed(2)
    x = keras.Input((4, 4, 6))
    h = keras.layers.Conv2D(6, 1, name="conv")(x)
    h = LayerScale(init_values=0.5, projection_dim=6, name="scale")(h)
    h = StochasticDepth(0.3, name="drop")(h)
    y = keras.layers.Add(name="add")([x, h])
    model = keras.Model(x, y)
    layer = model.get_layer("scale")
    layer.gamma.assign(np.linspace(-1, 1, 6).astype("float32"))  # not the initial constant, so a wrong binding shows
    data = np.random.default_rng(1).normal(size=(2, 4, 4, 6)).astype("float32")
    _check(model, tmp_path, data, {"keras.applications:LayerScale", "keras.applications:StochasticDepth"})


def test_keras_contrib_instance_normalization_is_refused_naming_what_is_missing(tmp_path: Path) -> None:
    @keras.saving.register_keras_serializable(package="keras_contrib", name="InstanceNormalization")
    class ContribInstanceNorm(keras.layers.Layer):  # type: ignore[misc]
        def call(self, x: Any) -> Any:
            return x

    x = keras.Input((4, 3))
    model = keras.Model(x, ContribInstanceNorm(name="cin")(x))
    path = tmp_path / "c.keras"
    model.save(path)
    with pytest.raises(KifError) as caught:
        convert(path, tmp_path / "c.kif")
    assert "cin" in str(caught.value) and "--custom" in str(caught.value)
