"""Bidirectional and TimeDistributed against Keras 3 (torch backend); wrapper validation."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kif
from kif.layers.wrappers import nested_layer
from tests.layers.harness import assert_close, keras_output, run_layer
from tests.layers.test_recurrent import N_STATES, as_list, kif_weights, sequence

MERGE_MODES = ["concat", "sum", "mul", "ave", None]


def keras_bidirectional(layer_type: str, merge_mode: str | None, features: int = 4, **config: Any) -> Any:
    import keras

    layer = keras.layers.Bidirectional(getattr(keras.layers, layer_type)(3, **config), merge_mode=merge_mode)
    layer.build((None, None, features))
    rng = np.random.default_rng(3)
    layer.set_weights([rng.normal(scale=0.5, size=w.shape).astype("float32") for w in layer.get_weights()])
    return layer


def inner_config(layer: Any) -> dict[str, Any]:
    """The KIF {type, attributes} of a Keras RNN as Bidirectional runs it (zero_output_for_mask forced by Keras)."""
    names = ("return_sequences", "return_state", "go_backwards", "zero_output_for_mask")
    attributes = {name: getattr(layer, name) for name in names}
    if hasattr(layer.cell, "reset_after"):
        attributes["reset_after"] = layer.cell.reset_after
    return nested_layer(type(layer).__name__, units=layer.cell.units, **attributes)


def bidirectional_weights(layer: Any) -> dict[str, np.ndarray]:
    return {**kif_weights(layer.forward_layer, "forward_"), **kif_weights(layer.backward_layer, "backward_")}


def outputs_of(layer_type: str, merge_mode: str | None, return_state: bool) -> int:
    return (2 if merge_mode is None else 1) + (2 * N_STATES[layer_type] if return_state else 0)


@pytest.mark.parametrize("merge_mode", MERGE_MODES)
@pytest.mark.parametrize("layer_type", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_matches_keras(merge_mode: str | None, layer_type: str, return_sequences: bool) -> None:
    layer = keras_bidirectional(layer_type, merge_mode, return_sequences=return_sequences)
    x = sequence()
    expected = as_list(keras_output(layer, x))
    got = as_list(
        run_layer(
            "Bidirectional", x, bidirectional_weights(layer), num_outputs=outputs_of(layer_type, merge_mode, False),
            merge_mode=merge_mode, forward=inner_config(layer.forward_layer), backward=inner_config(layer.backward_layer),
        )
    )  # fmt: skip
    for g, e in zip(got, expected, strict=True):
        assert_close(g, e, "Bidirectional")


@pytest.mark.parametrize("merge_mode", ["concat", None])
@pytest.mark.parametrize(("layer_type", "extra"), [("LSTM", {}), ("GRU", {"reset_after": False}), ("SimpleRNN", {})])
def test_bidirectional_with_states_and_mask_matches_keras(merge_mode: str | None, layer_type: str, extra: dict[str, Any]) -> None:
    import keras

    layer = keras_bidirectional(layer_type, merge_mode, return_sequences=True, return_state=True, **extra)
    x = sequence()
    rng = np.random.default_rng(5)
    states = [rng.normal(size=(3, 3)).astype("float32") for _ in range(2 * N_STATES[layer_type])]
    mask = np.array([[1, 1, 1, 1, 0, 0], [0, 1, 1, 0, 1, 1], [1, 1, 1, 1, 1, 1]], dtype=bool)
    expected = as_list(keras_output(layer, x, initial_state=states, mask=keras.ops.convert_to_tensor(mask)))
    got = run_layer(
        "Bidirectional", [x, *states, mask], bidirectional_weights(layer), num_outputs=outputs_of(layer_type, merge_mode, True),
        merge_mode=merge_mode, forward=inner_config(layer.forward_layer), backward=inner_config(layer.backward_layer),
    )  # fmt: skip
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert_close(g, e, "Bidirectional")


def test_bidirectional_with_different_inner_types_matches_keras() -> None:
    import keras

    forward = keras.layers.LSTM(3, return_sequences=True)
    backward = keras.layers.GRU(2, return_sequences=True, go_backwards=True, reset_after=False)
    layer = keras.layers.Bidirectional(forward, backward_layer=backward)
    layer.build((None, None, 4))
    rng = np.random.default_rng(4)
    layer.set_weights([rng.normal(scale=0.5, size=w.shape).astype("float32") for w in layer.get_weights()])
    x = sequence()
    got = run_layer(
        "Bidirectional", x, bidirectional_weights(layer),
        forward=inner_config(layer.forward_layer), backward=inner_config(layer.backward_layer),
    )  # fmt: skip
    assert got.shape == (3, 6, 5)
    assert_close(got, keras_output(layer, x), "Bidirectional")


def test_time_distributed_dense_matches_keras() -> None:
    import keras

    layer = keras.layers.TimeDistributed(keras.layers.Dense(5, activation="relu"))
    layer.build((None, 4, 3))
    rng = np.random.default_rng(0)
    layer.layer.bias.assign(rng.normal(size=5).astype("float32"))
    weights = {"kernel": keras.ops.convert_to_numpy(layer.layer.kernel), "bias": keras.ops.convert_to_numpy(layer.layer.bias)}
    x = rng.normal(size=(2, 4, 3)).astype("float32")
    got = run_layer("TimeDistributed", x, weights, layer=nested_layer("Dense", units=5, activation="relu"))
    assert_close(got, keras_output(layer, x), "Dense")


def test_time_distributed_conv2d_matches_keras() -> None:
    import keras

    layer = keras.layers.TimeDistributed(keras.layers.Conv2D(4, 3, strides=2, padding="same"))
    layer.build((None, 3, 7, 7, 2))
    rng = np.random.default_rng(1)
    layer.layer.bias.assign(rng.normal(size=4).astype("float32"))
    weights = {"kernel": keras.ops.convert_to_numpy(layer.layer.kernel), "bias": keras.ops.convert_to_numpy(layer.layer.bias)}
    x = rng.normal(size=(2, 3, 7, 7, 2)).astype("float32")
    inner = nested_layer("Conv2D", filters=4, kernel_size=[3, 3], strides=[2, 2], padding="same")
    got = run_layer("TimeDistributed", x, weights, layer=inner)
    assert got.shape == (2, 3, 4, 4, 4)
    assert_close(got, keras_output(layer, x), "Conv2D")


def _findings(layer_type: str, attributes: dict[str, Any], weights: dict[str, np.ndarray], shape: tuple[int | None, ...]) -> list[Any]:
    """Validate a one-layer bundle written as given (outputs declared, so no shape inference at build time)."""
    b = kif.GraphBuilder("wrapper_test")
    x = b.input("x", "float32", shape)
    y = b.add(layer_type, x, name="layer", weights=weights, **attributes)
    b.output(y, dtype="float32", shape=shape)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.kif"
        kif.save(b.build(), path, check=False)  # invalid on purpose: the validator is under test
        return list(kif.validate(path).findings)


def test_validator_checks_the_wrapped_layer() -> None:
    dense = {"kernel": np.zeros((3, 5), "float32")}
    inner = nested_layer("Dense", units=5, use_bias=False)
    assert not [f for f in _findings("TimeDistributed", {"layer": inner}, dense, (None, 4, 3)) if f.code.startswith("layer-")]
    missing_bias = _findings("TimeDistributed", {"layer": nested_layer("Dense", units=5)}, dense, (None, 4, 3))
    assert any(f.code == "layer-weight-missing" and f.pointer.endswith("/weights/bias") for f in missing_bias)
    unknown = _findings("TimeDistributed", {"layer": {"type": "Dens", "attributes": {}}}, {}, (None, 4, 3))
    assert any(f.code == "layer-type-unknown" and f.pointer.endswith("/attributes/layer/type") for f in unknown)
    partial = {"type": "Dense", "attributes": {"units": 5, "use_bias": False}}
    incomplete = _findings("TimeDistributed", {"layer": partial}, dense, (None, 4, 3))
    assert any(f.code == "layer-attribute-missing" and f.pointer.endswith("/attributes/layer/attributes/activation") for f in incomplete)


def test_validator_checks_bidirectional_inner_attributes_and_roles() -> None:
    forward = nested_layer("GRU", units=2)
    backward = nested_layer("GRU", units=2, go_backwards=True)
    del backward["attributes"]["reset_after"]
    weights = {f"{side}_{role}": np.zeros(shape, "float32") for side in ("forward", "backward")
               for role, shape in (("kernel", (3, 6)), ("recurrent_kernel", (2, 6)), ("bias", (6,)))}  # fmt: skip
    found = _findings("Bidirectional", {"forward": forward, "backward": backward}, weights, (None, 5, 3))
    codes = {(f.code, f.pointer.split("/layers/0")[-1]) for f in found}
    assert ("layer-attribute-invalid", "/attributes/backward/attributes") in codes  # reset_after missing (nested 'required')
    assert ("layer-weight-missing", "/weights/forward_recurrent_bias") in codes  # forward GRU is reset_after
