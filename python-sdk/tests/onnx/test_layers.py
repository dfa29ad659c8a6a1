"""One-layer bundles exported to ONNX, checked (full_check) and run in ONNX Runtime, against Keras 3 (torch backend).

Weights come from Keras-initialised layers, then randomised (Keras's initial biases and BN statistics
are trivial). Where Keras-torch departs from the KIF definition (average pooling with padding="same")
the oracle is a hand-derived NumPy value instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from tests.onnx.helpers import feeds_for, one_layer, run_onnx, tolerance

L = keras.layers
RNG = np.random.default_rng(7)


def f32(*shape: int) -> np.ndarray:
    return RNG.normal(size=shape).astype("float32")


def randomise(layer: Any, seed: int = 0) -> list[np.ndarray]:
    """Random weights (variances kept positive); returns them in Keras's get_weights order."""
    rng = np.random.default_rng(seed)
    values = []
    for var, w in zip(layer.weights, layer.get_weights(), strict=True):
        v = rng.uniform(0.5, 1.5, w.shape) if "variance" in var.path else rng.normal(0, 0.5, w.shape)
        values.append(v.astype("float32"))
    layer.set_weights(values)
    return values


def compare(kif_type: str, layer: Any, inputs: Sequence[np.ndarray], attrs: dict[str, Any], roles: Sequence[str], tmp_path: Path) -> None:
    layer(*inputs)  # build
    weights = dict(zip(roles, randomise(layer), strict=True))
    expected = keras.ops.convert_to_numpy(layer(*inputs))
    (got,) = run_onnx(one_layer(kif_type, inputs, weights, **attrs), feeds_for(inputs), tmp_path)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, **tolerance(kif_type))


K = Callable[[], Any]
CASES: list[tuple[str, str, K, tuple[int, ...], dict[str, Any], list[str]]] = [
    ("dense-gelu", "Dense", lambda: L.Dense(5, activation="gelu"), (3, 4), {"units": 5, "activation": "gelu"}, ["kernel", "bias"]),
    ("dense-rank3-silu", "Dense", lambda: L.Dense(3, activation="silu"), (2, 4, 6), {"units": 3, "activation": "silu"}, ["kernel", "bias"]),
    (
        "dense-nobias-hsig",
        "Dense",
        lambda: L.Dense(3, use_bias=False, activation="hard_sigmoid"),
        (2, 6),
        {"units": 3, "use_bias": False, "activation": "hard_sigmoid"},
        ["kernel"],
    ),
    (
        "conv1d-causal-dilated-groups",
        "Conv1D",
        lambda: L.Conv1D(6, 3, padding="causal", dilation_rate=2, groups=2),
        (2, 9, 4),
        {"filters": 6, "kernel_size": [3], "padding": "causal", "dilation_rate": [2], "groups": 2},
        ["kernel", "bias"],
    ),
    (
        "conv2d-same-stride2-odd",
        "Conv2D",
        lambda: L.Conv2D(4, 3, strides=2, padding="same", activation="relu"),
        (2, 7, 8, 3),
        {"filters": 4, "kernel_size": [3, 3], "strides": [2, 2], "padding": "same", "activation": "relu"},
        ["kernel", "bias"],
    ),
    (
        "conv2d-same-even-kernel",
        "Conv2D",
        lambda: L.Conv2D(4, 2, padding="same"),
        (2, 5, 5, 3),
        {"filters": 4, "kernel_size": [2, 2], "padding": "same"},
        ["kernel", "bias"],
    ),
    (
        "conv2d-channels-first",
        "Conv2D",
        lambda: L.Conv2D(4, 3, data_format="channels_first", dilation_rate=2),
        (2, 3, 8, 8),
        {"filters": 4, "kernel_size": [3, 3], "data_format": "channels_first", "dilation_rate": [2, 2]},
        ["kernel", "bias"],
    ),
    (
        "conv3d-same",
        "Conv3D",
        lambda: L.Conv3D(3, 2, strides=2, padding="same"),
        (1, 5, 4, 5, 2),
        {"filters": 3, "kernel_size": [2, 2, 2], "strides": [2, 2, 2], "padding": "same"},
        ["kernel", "bias"],
    ),
    (
        "depthwise2d",
        "DepthwiseConv2D",
        lambda: L.DepthwiseConv2D(3, depth_multiplier=2, padding="same"),
        (2, 6, 6, 3),
        {"kernel_size": [3, 3], "depth_multiplier": 2, "padding": "same"},
        ["depthwise_kernel", "bias"],
    ),
    (
        "separable2d",
        "SeparableConv2D",
        lambda: L.SeparableConv2D(5, 3, depth_multiplier=2, strides=2),
        (2, 7, 7, 3),
        {"filters": 5, "kernel_size": [3, 3], "depth_multiplier": 2, "strides": [2, 2]},
        ["depthwise_kernel", "pointwise_kernel", "bias"],
    ),
    (
        "separable1d",
        "SeparableConv1D",
        lambda: L.SeparableConv1D(4, 3, padding="same"),
        (2, 8, 3),
        {"filters": 4, "kernel_size": [3], "padding": "same"},
        ["depthwise_kernel", "pointwise_kernel", "bias"],
    ),
    (
        "conv2dT-same-s2",
        "Conv2DTranspose",
        lambda: L.Conv2DTranspose(4, 3, strides=2, padding="same"),
        (2, 4, 5, 3),
        {"filters": 4, "kernel_size": [3, 3], "strides": [2, 2], "padding": "same"},
        ["kernel", "bias"],
    ),
    (
        "conv2dT-valid-outpad",
        "Conv2DTranspose",
        lambda: L.Conv2DTranspose(4, 3, strides=2, output_padding=1),
        (2, 4, 5, 3),
        {"filters": 4, "kernel_size": [3, 3], "strides": [2, 2], "output_padding": [1, 1]},
        ["kernel", "bias"],
    ),
    (
        "conv1dT-stride-gt-kernel",
        "Conv1DTranspose",
        lambda: L.Conv1DTranspose(3, 2, strides=3),
        (2, 5, 4),
        {"filters": 3, "kernel_size": [2], "strides": [3]},
        ["kernel", "bias"],
    ),
    (
        "conv3dT-same",
        "Conv3DTranspose",
        lambda: L.Conv3DTranspose(2, 3, strides=2, padding="same"),
        (1, 3, 4, 3, 2),
        {"filters": 2, "kernel_size": [3, 3, 3], "strides": [2, 2, 2], "padding": "same"},
        ["kernel", "bias"],
    ),
    (
        "maxpool2d-same",
        "MaxPooling2D",
        lambda: L.MaxPooling2D(3, strides=2, padding="same"),
        (2, 7, 6, 3),
        {"pool_size": [3, 3], "strides": [2, 2], "padding": "same"},
        [],
    ),
    (
        "maxpool1d-cf",
        "MaxPooling1D",
        lambda: L.MaxPooling1D(2, data_format="channels_first"),
        (2, 3, 7),
        {"pool_size": [2], "data_format": "channels_first"},
        [],
    ),
    ("avgpool2d-valid", "AveragePooling2D", lambda: L.AveragePooling2D(2), (2, 6, 7, 3), {"pool_size": [2, 2]}, []),
    ("avgpool3d-valid", "AveragePooling3D", lambda: L.AveragePooling3D(2), (1, 4, 4, 4, 2), {"pool_size": [2, 2, 2]}, []),
    ("gap2d-keepdims", "GlobalAveragePooling2D", lambda: L.GlobalAveragePooling2D(keepdims=True), (2, 4, 5, 3), {"keepdims": True}, []),
    ("gmp1d", "GlobalMaxPooling1D", lambda: L.GlobalMaxPooling1D(), (2, 6, 3), {}, []),
    (
        "batchnorm",
        "BatchNormalization",
        lambda: L.BatchNormalization(epsilon=1e-3),
        (3, 4, 5),
        {"epsilon": 1e-3},
        ["gamma", "beta", "moving_mean", "moving_variance"],
    ),
    (
        "batchnorm-axis1",
        "BatchNormalization",
        lambda: L.BatchNormalization(axis=1),
        (3, 4, 5),
        {"axis": 1},
        ["gamma", "beta", "moving_mean", "moving_variance"],
    ),
    ("layernorm-last", "LayerNormalization", lambda: L.LayerNormalization(), (2, 5, 6), {}, ["gamma", "beta"]),
    ("layernorm-axes12", "LayerNormalization", lambda: L.LayerNormalization(axis=[1, 2]), (2, 5, 6), {"axis": [1, 2]}, ["gamma", "beta"]),
    ("rmsnorm", "RMSNormalization", lambda: L.RMSNormalization(), (2, 5, 6), {}, ["scale"]),
    ("groupnorm", "GroupNormalization", lambda: L.GroupNormalization(groups=2), (2, 5, 6), {"groups": 2}, ["gamma", "beta"]),
    ("unitnorm", "UnitNormalization", lambda: L.UnitNormalization(), (2, 5, 6), {}, []),
    ("prelu-shared", "PReLU", lambda: L.PReLU(shared_axes=[1]), (2, 5, 6), {"shared_axes": [1]}, ["alpha"]),
    (
        "relu-full",
        "ReLU",
        lambda: L.ReLU(max_value=1.0, negative_slope=0.1, threshold=0.2),
        (3, 8),
        {"max_value": 1.0, "negative_slope": 0.1, "threshold": 0.2},
        [],
    ),
    ("leakyrelu", "LeakyReLU", lambda: L.LeakyReLU(0.2), (3, 8), {"negative_slope": 0.2}, []),
    ("elu", "ELU", lambda: L.ELU(0.5), (3, 8), {"alpha": 0.5}, []),
    ("softmax-axes", "Softmax", lambda: L.Softmax(axis=[1, 2]), (2, 3, 4), {"axis": [1, 2]}, []),
    (
        "einsum-dense",
        "EinsumDense",
        lambda: L.EinsumDense("abc,cd->abd", output_shape=(None, 5), bias_axes="d"),
        (2, 3, 4),
        {"equation": "abc,cd->abd", "output_shape": [None, 5], "bias_axes": "d"},
        ["kernel", "bias"],
    ),
    ("flatten-cf", "Flatten", lambda: L.Flatten(data_format="channels_first"), (2, 3, 4, 5), {"data_format": "channels_first"}, []),
    ("reshape", "Reshape", lambda: L.Reshape((4, -1)), (2, 3, 4, 2), {"target_shape": [4, -1]}, []),
    ("permute", "Permute", lambda: L.Permute((3, 1, 2)), (2, 3, 4, 5), {"dims": [3, 1, 2]}, []),
    ("repeat", "RepeatVector", lambda: L.RepeatVector(3), (2, 4), {"n": 3}, []),
    ("zeropad2d", "ZeroPadding2D", lambda: L.ZeroPadding2D(((1, 0), (2, 1))), (2, 3, 4, 2), {"padding": [[1, 0], [2, 1]]}, []),
    ("crop1d", "Cropping1D", lambda: L.Cropping1D((1, 2)), (2, 6, 3), {"cropping": [1, 2]}, []),
    (
        "crop2d-cf",
        "Cropping2D",
        lambda: L.Cropping2D(((1, 1), (0, 2)), data_format="channels_first"),
        (2, 3, 5, 6),
        {"cropping": [[1, 1], [0, 2]], "data_format": "channels_first"},
        [],
    ),
    ("upsampling2d", "UpSampling2D", lambda: L.UpSampling2D((2, 3)), (2, 3, 4, 2), {"size": [2, 3]}, []),
    ("upsampling1d", "UpSampling1D", lambda: L.UpSampling1D(3), (2, 3, 2), {"size": 3}, []),
    ("dropout", "Dropout", lambda: L.Dropout(0.5), (2, 5), {"rate": 0.5}, []),
]


@pytest.mark.parametrize(("kif_type", "factory", "shape", "attrs", "roles"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_layer_matches_keras(
    kif_type: str, factory: K, shape: tuple[int, ...], attrs: dict[str, Any], roles: list[str], tmp_path: Path
) -> None:
    compare(kif_type, factory(), [f32(*shape)], attrs, roles, tmp_path)


ACTIVATIONS = ["relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "sigmoid", "hard_sigmoid", "hard_silu", "silu", "tanh",
               "softmax", "log_softmax", "softplus", "softsign", "exponential", "mish", "linear"]  # fmt: skip


def test_activations_match_keras(tmp_path: Path) -> None:
    x = f32(3, 7)
    for name in ACTIVATIONS:
        expected = keras.ops.convert_to_numpy(L.Activation(name)(x))
        (got,) = run_onnx(one_layer("Activation", [x], activation=name), {"in0": x}, tmp_path)
        np.testing.assert_allclose(got, expected, **tolerance("Activation"), err_msg=name)
    expected = keras.ops.convert_to_numpy(keras.activations.gelu(x, approximate=True))
    (got,) = run_onnx(one_layer("Activation", [x], activation="gelu_tanh"), {"in0": x}, tmp_path)
    np.testing.assert_allclose(got, expected, **tolerance("Activation"))


@pytest.mark.parametrize("kind", ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"])
def test_merges_match_keras(kind: str, tmp_path: Path) -> None:
    xs = [f32(2, 3, 4) for _ in range(2 if kind == "Subtract" else 3)]
    expected = keras.ops.convert_to_numpy(getattr(L, kind)()(xs))
    (got,) = run_onnx(one_layer(kind, xs), feeds_for(xs), tmp_path)
    np.testing.assert_allclose(got, expected, **tolerance(kind))


def test_dot_normalize_matches_keras(tmp_path: Path) -> None:
    xs = [f32(2, 3, 4), f32(2, 5, 4)]
    expected = keras.ops.convert_to_numpy(L.Dot(axes=(2, 2), normalize=True)(xs))
    (got,) = run_onnx(one_layer("Dot", xs, axes=[2, 2], normalize=True), feeds_for(xs), tmp_path)
    np.testing.assert_allclose(got, expected, **tolerance("Dot"))


def _hand_average_pool_same(x: np.ndarray, k: int, s: int) -> np.ndarray:
    """TensorFlow "same" average pooling on [N, L, C]: extra padding at the end, padded cells not counted."""
    n = x.shape[1]
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    start = -(total // 2)
    rows = []
    for i in range(out):
        lo, hi = max(start + i * s, 0), min(start + i * s + k, n)
        rows.append(x[:, lo:hi].mean(axis=1))
    return np.stack(rows, axis=1)


@pytest.mark.parametrize(("k", "s", "n"), [(3, 1, 5), (4, 3, 7), (2, 2, 5)])
def test_average_pooling_same_excludes_padding(k: int, s: int, n: int, tmp_path: Path) -> None:
    x = f32(2, n, 3)
    (got,) = run_onnx(one_layer("AveragePooling1D", [x], static=True, pool_size=[k], strides=[s], padding="same"), {"in0": x}, tmp_path)
    np.testing.assert_allclose(got, _hand_average_pool_same(x, k, s), rtol=1e-6, atol=1e-6)


def test_average_pooling_2d_same_hand_value(tmp_path: Path) -> None:
    # 3x3 of 1..9, pool 2, stride 2, "same": windows {1,2,4,5} {3,6} {7,8} {9}
    x = np.arange(1, 10, dtype="float32").reshape(1, 3, 3, 1)
    model = one_layer("AveragePooling2D", [x], static=True, pool_size=[2, 2], padding="same")
    (got,) = run_onnx(model, {"in0": x}, tmp_path)
    np.testing.assert_array_equal(got[0, :, :, 0], [[3.0, 4.5], [7.5, 9.0]])


def test_global_average_pooling_1d_with_mask(tmp_path: Path) -> None:
    x, mask = f32(2, 5, 3), np.array([[True, False, True, True, False], [False, True, True, False, True]])
    expected = keras.ops.convert_to_numpy(L.GlobalAveragePooling1D()(x, mask=mask))
    (got,) = run_onnx(one_layer("GlobalAveragePooling1D", [x, mask]), feeds_for([x, mask]), tmp_path)
    np.testing.assert_allclose(got, expected, **tolerance("GlobalAveragePooling1D"))


def test_embedding_mask_zero_and_masking(tmp_path: Path) -> None:
    ids = np.array([[3, 0, 5, 1], [0, 0, 2, 7]], dtype="int32")
    layer = L.Embedding(8, 3, mask_zero=True)
    layer(ids)
    (table,) = randomise(layer)
    expected = keras.ops.convert_to_numpy(layer(ids))
    y, mask = run_onnx(one_layer("Embedding", [ids], {"embeddings": table}, num_outputs=2, input_dim=8, output_dim=3, mask_zero=True),
                       {"in0": ids}, tmp_path)  # fmt: skip
    np.testing.assert_array_equal(y, expected)
    np.testing.assert_array_equal(mask, ids != 0)
    x = f32(2, 4, 3)
    x[0, 1] = 0.0
    x[1, 3] = 0.0
    y, keep = run_onnx(one_layer("Masking", [x], num_outputs=2, mask_value=0.0), {"in0": x}, tmp_path)
    np.testing.assert_array_equal(y, keras.ops.convert_to_numpy(L.Masking(0.0)(x)))
    np.testing.assert_array_equal(keep, np.any(x != 0, axis=-1))


@pytest.mark.parametrize("rms_scaling", [False, True])
def test_layer_normalization_inner_axis_hand_value(rms_scaling: bool, tmp_path: Path) -> None:
    """Keras-torch cannot normalise a non-trailing axis; the NumPy formula of spec/layers/LayerNormalization.md is the oracle."""
    x, gamma, beta = f32(2, 5, 6), f32(5), f32(5)
    mean = x.mean(axis=1, keepdims=True)
    inv = 1.0 / np.sqrt(((x - mean) ** 2).mean(axis=1, keepdims=True) + 1e-3)
    expected = x * inv * gamma[:, None] if rms_scaling else (x - mean) * inv * gamma[:, None] + beta[:, None]
    weights = {"gamma": gamma} if rms_scaling else {"gamma": gamma, "beta": beta}
    model = one_layer("LayerNormalization", [x], weights, axis=1, rms_scaling=rms_scaling, center=not rms_scaling)
    (got,) = run_onnx(model, {"in0": x}, tmp_path)
    np.testing.assert_allclose(got, expected, **tolerance("LayerNormalization"))


@pytest.mark.parametrize(
    ("kif_attrs", "keras_kwargs"),
    [
        ({"height": 5, "width": 9, "interpolation": "bilinear"}, {"interpolation": "bilinear"}),
        ({"height": 3, "width": 4, "interpolation": "nearest"}, {"interpolation": "nearest"}),
        ({"height": 4, "width": 4, "interpolation": "bilinear", "crop_to_aspect_ratio": True}, {"crop_to_aspect_ratio": True}),
        ({"height": 3, "width": 5, "interpolation": "bilinear", "antialias": True}, {"antialias": True}),
    ],
    ids=["up-bilinear", "down-nearest", "crop-aspect", "antialias"],
)
def test_resizing_matches_keras(kif_attrs: dict[str, Any], keras_kwargs: dict[str, Any], tmp_path: Path) -> None:
    x = f32(2, 6, 7, 3)
    expected = keras.ops.convert_to_numpy(L.Resizing(kif_attrs["height"], kif_attrs["width"], **keras_kwargs)(x))
    (got,) = run_onnx(one_layer("Resizing", [x], static=True, **kif_attrs), {"in0": x}, tmp_path)
    np.testing.assert_allclose(got, expected, **tolerance("Resizing"))


@pytest.mark.parametrize("size", [(4, 5), (8, 9)], ids=["crop", "smaller-resize"])
def test_center_crop_matches_keras(size: tuple[int, int], tmp_path: Path) -> None:
    x = f32(2, 6, 7, 3)
    expected = keras.ops.convert_to_numpy(L.CenterCrop(*size)(x))
    (got,) = run_onnx(one_layer("CenterCrop", [x], static=True, height=size[0], width=size[1]), {"in0": x}, tmp_path)
    np.testing.assert_allclose(got, expected, **tolerance("CenterCrop"))


def test_upsampling2d_bilinear_matches_keras(tmp_path: Path) -> None:
    x = f32(2, 3, 4, 2)
    expected = keras.ops.convert_to_numpy(L.UpSampling2D((2, 3), interpolation="bilinear")(x))
    (got,) = run_onnx(one_layer("UpSampling2D", [x], static=True, size=[2, 3], interpolation="bilinear"), {"in0": x}, tmp_path)
    np.testing.assert_allclose(got, expected, **tolerance("UpSampling2D"))
