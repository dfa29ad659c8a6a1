"""ConvLSTM1D/2D/3D against Keras 3 (torch backend), the torch importer against Keras, and refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kif.errors import KifError
from kif.layers.conv_lstm import infer_conv_lstm
from kif.layers.registry import ShapeError, TensorType
from tests.layers.harness import assert_close, keras_output, run_layer

# (rank, per-step input shape channels_last, kernel size)
RANKS = {1: ((7, 3), 3), 2: ((6, 5, 3), 3), 3: ((5, 4, 4, 2), 2)}
VARIANTS = {
    "valid": {},
    "same": {"padding": "same"},
    "strides": {"strides": 2},
    "same-strides": {"padding": "same", "strides": 2},
    "dilation": {"dilation_rate": 2, "padding": "same"},
    "sequences-state-backwards": {"return_sequences": True, "return_state": True, "go_backwards": True},
    "nobias-relu-hard-sigmoid": {"use_bias": False, "activation": "relu", "recurrent_activation": "hard_sigmoid"},
    "channels-first": {"data_format": "channels_first", "return_sequences": True, "return_state": True},
}


def keras_layer(rank: int, x_shape: tuple[int, ...], filters: int = 3, seed: int = 0, **config: Any) -> Any:
    import keras

    layer = getattr(keras.layers, f"ConvLSTM{rank}D")(filters, RANKS[rank][1], **config)
    layer.build(x_shape)
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(scale=0.4, size=w.shape).astype("float32") for w in layer.get_weights()])
    return layer


def kif_attrs(rank: int, filters: int = 3, **config: Any) -> dict[str, Any]:
    per_axis = {k: [v] * rank for k, v in config.items() if k in ("strides", "dilation_rate")}
    return {"filters": filters, "kernel_size": [RANKS[rank][1]] * rank, **config, **per_axis}


def weights_of(layer: Any) -> dict[str, np.ndarray]:
    import keras

    return {w.path.rsplit("/", 1)[-1]: np.asarray(keras.ops.convert_to_numpy(w)) for w in layer.weights}


def x_for(rank: int, steps: int = 4, channels_first: bool = False, seed: int = 1) -> np.ndarray:
    step = RANKS[rank][0]
    if channels_first:
        step = (step[-1], *step[:-1])
    return np.random.default_rng(seed).normal(size=(2, steps, *step)).astype("float32")


def as_list(value: Any) -> list[np.ndarray]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


@pytest.mark.parametrize("rank", sorted(RANKS))
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_matches_keras(rank: int, variant: str) -> None:
    config = VARIANTS[variant]
    x = x_for(rank, channels_first=config.get("data_format") == "channels_first")
    layer = keras_layer(rank, x.shape, **config)
    want = as_list(keras_output(layer, x))
    got = as_list(run_layer(f"ConvLSTM{rank}D", x, weights_of(layer), num_outputs=len(want), **kif_attrs(rank, **config)))
    for g, w in zip(got, want, strict=True):
        assert_close(g, w, f"ConvLSTM{rank}D")


def test_mask_and_initial_states_match_keras() -> None:
    import keras

    x = x_for(2, steps=5)
    layer = keras_layer(2, x.shape, padding="same", return_sequences=True, return_state=True)
    rng = np.random.default_rng(3)
    h0, c0 = (rng.normal(size=(2, 6, 5, 3)).astype("float32") for _ in range(2))
    mask = np.array([[True, True, False, True, False], [False, True, True, True, True]])
    want = [keras.ops.convert_to_numpy(t) for t in layer(x, initial_state=[h0, c0], mask=mask)]
    attrs = kif_attrs(2, padding="same", return_sequences=True, return_state=True)
    got = run_layer("ConvLSTM2D", [x, h0, c0, mask], weights_of(layer), num_outputs=3, **attrs)
    for g, w in zip(got, want, strict=True):
        assert_close(g, w, "ConvLSTM2D")


def test_hand_derived_single_step() -> None:
    # 1 filter, kernel 1, one step, zero states: z = x*k + b per gate; c = sig(z_i) tanh(z_c); h = sig(z_o) tanh(c).
    x = np.array([[[[0.5], [-1.0]]]], dtype="float32")  # [N=1, T=1, W=2, C=1]
    k = np.array([1.0, 2.0, 3.0, 4.0], dtype="float32")
    b = np.array([0.1, 0.2, 0.3, 0.4], dtype="float32")
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    z = x[0, 0] * k + b  # [2, 4]
    c = sig(z[:, 0]) * np.tanh(z[:, 2])
    h = sig(z[:, 3]) * np.tanh(c)
    weights = {"kernel": k.reshape(1, 1, 4), "recurrent_kernel": np.full((1, 1, 4), 7.0, "float32"), "bias": b}
    got = run_layer("ConvLSTM1D", x, weights, filters=1, kernel_size=[1])
    assert_close(got, h.reshape(1, 2, 1), "ConvLSTM1D")


@pytest.mark.parametrize("variant", ["same-strides", "sequences-state-backwards", "channels-first"])
def test_torch_importer_matches_keras(variant: str) -> None:
    from tests.torch.harness import run_torch

    config = VARIANTS[variant]
    x = x_for(2, channels_first=config.get("data_format") == "channels_first")
    layer = keras_layer(2, x.shape, **config)
    want = as_list(keras_output(layer, x))
    got = as_list(run_torch("ConvLSTM2D", x, weights_of(layer), num_outputs=len(want), **kif_attrs(2, **config)))
    for g, w in zip(got, want, strict=True):
        assert_close(g, w, "ConvLSTM2D")


def test_torch_importer_with_mask_matches_keras() -> None:
    import keras

    from tests.torch.harness import run_torch

    x = x_for(1, steps=5)
    layer = keras_layer(1, x.shape, return_sequences=True)
    mask = np.array([[True, False, True, True, False], [True, True, True, False, True]])
    want = keras.ops.convert_to_numpy(layer(x, mask=mask))
    got = run_torch("ConvLSTM1D", [x, None, None, mask], weights_of(layer), **kif_attrs(1, return_sequences=True))
    assert_close(got, want, "ConvLSTM1D")


@pytest.mark.parametrize("variant", ["same-strides", "sequences-state-backwards", "channels-first", "dilation"])
def test_onnx_export_matches_keras(variant: str, tmp_path: Path) -> None:
    from tests.onnx.helpers import feeds_for, one_layer, run_onnx

    config = VARIANTS[variant]
    x = x_for(2, channels_first=config.get("data_format") == "channels_first")
    layer = keras_layer(2, x.shape, **config)
    want = as_list(keras_output(layer, x))
    model = one_layer("ConvLSTM2D", [x], weights_of(layer), num_outputs=len(want), **kif_attrs(2, **config))
    for g, w in zip(run_onnx(model, feeds_for([x]), tmp_path), want, strict=True):
        assert_close(g, w, "ConvLSTM2D")


def test_onnx_export_with_mask_and_initial_states_matches_keras(tmp_path: Path) -> None:
    import keras

    from tests.onnx.helpers import feeds_for, one_layer, run_onnx

    x = x_for(3, steps=4)
    layer = keras_layer(3, x.shape, return_sequences=True, return_state=True)
    rng = np.random.default_rng(5)
    h0, c0 = (rng.normal(size=(2, 4, 3, 3, 3)).astype("float32") for _ in range(2))
    mask = np.array([[True, False, True, True], [False, True, True, False]])
    want = [keras.ops.convert_to_numpy(t) for t in layer(x, initial_state=[h0, c0], mask=mask)]
    inputs = [x, h0, c0, mask]
    model = one_layer("ConvLSTM3D", inputs, weights_of(layer), num_outputs=3, **kif_attrs(3, return_sequences=True, return_state=True))
    for g, w in zip(run_onnx(model, feeds_for(inputs), tmp_path), want, strict=True):
        assert_close(g, w, "ConvLSTM3D")


def test_shape_rule_rejects_bad_inputs() -> None:
    from kif import catalog

    defaults = {k: v.get("default") for k, v in catalog.get("ConvLSTM2D").attributes.items()}
    attrs = {**defaults, **kif_attrs(2)}
    with pytest.raises(ShapeError, match="rank 5"):
        infer_conv_lstm(attrs, [TensorType("float32", (2, 4, 6, 3))], {})
    with pytest.raises(ShapeError, match="output spatial size"):
        infer_conv_lstm(attrs, [TensorType("float32", (2, 4, 2, 5, 3))], {})
    with pytest.raises(ShapeError, match="kernel of shape"):
        infer_conv_lstm(attrs, [TensorType("float32", (2, 4, 6, 5, 3))], {"kernel": (3, 3, 2, 12)})
    with pytest.raises(ShapeError, match="both initial states"):
        infer_conv_lstm(attrs, [TensorType("float32", (2, 4, 6, 5, 3)), TensorType("float32", (2, 4, 3, 3))], {})


def _saved(tmp_path: Path, **config: Any) -> Path:
    import keras

    model = keras.Sequential([keras.Input((3, 5, 5, 2)), keras.layers.ConvLSTM2D(2, 3, **config)])
    path = tmp_path / "model.h5"
    model.save(path)
    return path


def test_stateful_is_refused_naming_layer_and_option(tmp_path: Path) -> None:
    import h5py

    from kif.keras import convert

    path = _saved(tmp_path)
    with h5py.File(path, "r+") as f:  # Keras 3 cannot build a stateful layer without a fixed batch; edit the config
        config = json.loads(f.attrs["model_config"])
        config["config"]["layers"][-1]["config"]["stateful"] = True
        f.attrs["model_config"] = json.dumps(config)
    with pytest.raises(KifError, match=r"conv_lstm2d.*ConvLSTM2D.*stateful=True"):
        convert(path, tmp_path / "out.kif")


def test_unknown_option_is_refused(tmp_path: Path) -> None:
    import h5py

    from kif.keras import convert

    path = _saved(tmp_path)
    with h5py.File(path, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        config["config"]["layers"][-1]["config"]["padding"] = "causal"
        f.attrs["model_config"] = json.dumps(config)
    with pytest.raises(KifError, match=r"ConvLSTM2D.*padding"):
        convert(path, tmp_path / "out.kif")
