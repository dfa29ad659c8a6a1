"""Every layer type of the catalog converts from real Keras 3 files and reproduces Keras.

Each case builds a tiny Keras 3 model (torch backend), gives it random weights (variances positive), and
saves it three ways: a ``.keras`` archive, a legacy ``.h5`` file (Keras 3's ``model.save("x.h5")``) and
``to_json()`` + ``.weights.h5``. Each file is converted with ``kif.keras.convert`` (which reads the files
only), run with ``kif.run`` and compared with ``model.predict``.

Tolerance of a whole model: the largest float32 tolerance class among the KIF types in the converted graph,
times COMPOUND. A type's class bounds one layer's rounding against the exact result; a case chains up to
about five layers on unit-scale values, each adding its own rounding (and Keras-torch sums in another
order than NumPy), so the bound of the worst layer is widened by a small factor, never more.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
from keras import layers as L
from keras import ops

import kif
from kif import catalog
from kif.errors import KifError
from kif.keras import convert

FORMATS = ("keras", "h5", "json")
COMPOUND = 10
# Catalog types with no Keras 3 layer to build them from, and why (none today).
NO_KERAS_EQUIVALENT: dict[str, str] = {}
# types whose Keras-oracle conversion tests live in their own file (TF-written fixtures, many Keras classes per type)
TESTED_IN_OWN_FILE: dict[str, str] = {
    "Augmentation": "layers/test_augmentation.py",
    "AutoContrast": "layers/test_auto_contrast.py",
    "CategoryEncoding": "layers/test_category_encoding.py",
    "ContrastLimitedAdaptiveHistogramEqualization": "layers/test_clahe.py",
    "Discretization": "layers/test_discretization.py",
    "IntegerLookup": "layers/test_integer_lookup.py",
    "MelSpectrogram": "layers/test_spectrogram.py",
    "STFTSpectrogram": "layers/test_spectrogram.py",
    **{t: "text/test_keras_text.py" for t in ("Hashing", "HashedCrossing", "StringLookup")},  # TF-written files
    "TextVectorization": "text/test_text_vectorization.py",
    "LocallyConnected1D": "keras/test_keras2_layers.py",  # tf.keras 2 only: tf_keras-written fixtures
    "LocallyConnected2D": "keras/test_keras2_layers.py",
}

Inputs = list[np.ndarray]
Builder = Callable[[np.random.Generator], tuple[keras.Model, Inputs]]


@dataclass(frozen=True)
class Case:
    name: str
    types: tuple[str, ...]  # catalog types this case covers; each must appear in the converted graph
    build: Builder


CASES: list[Case] = []


def case(name: str, *types: str) -> Callable[[Builder], Builder]:
    def register(build: Builder) -> Builder:
        CASES.append(Case(name, types, build))
        return build

    return register


def floats(rng: np.random.Generator, *shape: int, batch: int = 2) -> np.ndarray:
    return rng.normal(size=(batch, *shape)).astype("float32")


def ids(rng: np.random.Generator, length: int, vocab: int = 10, pad: bool = True) -> np.ndarray:
    """Token ids with trailing zeros (padding) in the second sample when ``pad``."""
    x = rng.integers(1, vocab, size=(2, length)).astype("int32")
    if pad:
        x[1, length // 2 :] = 0
    return x


def sequential(rng: np.random.Generator, shape: tuple[int, ...], *layers: Any) -> tuple[keras.Model, Inputs]:
    return keras.Sequential([keras.Input(shape), *layers]), [floats(rng, *shape)]


def functional(inputs: list[Any], outputs: Any) -> keras.Model:
    return keras.Model(inputs, outputs)


# ---------------------------------------------------------------- core, activations


@case("dense", "Dense")
def _(rng):
    return sequential(rng, (5,), L.Dense(4, activation="relu"), L.Dense(3, use_bias=False), L.Dense(2, activation="sigmoid"))


KERAS_ACTIVATIONS = [
    "linear", "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "sigmoid", "hard_sigmoid", "hard_silu", "silu",
    "tanh", "softmax", "log_softmax", "softplus", "softsign", "exponential", "mish", "swish", "hard_swish",
]  # fmt: skip


@case("activations", "Activation")
def _(rng):
    x = keras.Input((6,))
    return functional([x], [L.Activation(a)(x) for a in KERAS_ACTIVATIONS]), [floats(rng, 6) * 3]


@case("dense_activations", "Dense")
def _(rng):
    x = keras.Input((4,))
    return functional([x], [L.Dense(3, activation=a)(x) for a in ("gelu", "hard_sigmoid", "swish", "softmax")]), [floats(rng, 4)]


@case("activation_layers", "ELU", "LeakyReLU", "PReLU", "ReLU", "Softmax")
def _(rng):
    x = keras.Input((3, 4))
    outs = [
        L.ELU(alpha=0.7)(x),
        L.LeakyReLU(negative_slope=0.1)(x),
        L.LeakyReLU()(x),
        L.PReLU()(x),
        L.PReLU(shared_axes=[1])(x),
        L.ReLU()(x),
        L.ReLU(max_value=1.0, negative_slope=0.1, threshold=0.2)(x),
        L.Softmax()(x),
        L.Softmax(axis=1)(x),
    ]
    return functional([x], outs), [floats(rng, 3, 4)]


@case("einsum_dense", "EinsumDense")
def _(rng):
    x = keras.Input((3, 4))
    outs = [
        L.EinsumDense("abc,cd->abd", output_shape=(None, 5), bias_axes="d", activation="relu")(x),
        L.EinsumDense("abc,cde->abde", output_shape=(None, 2, 3))(x),
        L.EinsumDense("...b,bc->...c", output_shape=2, bias_axes="c")(x),
        L.EinsumDense("abc,bcd->ad", output_shape=(2,), bias_axes="d")(x),
    ]
    return functional([x], outs), [floats(rng, 3, 4)]


@case("embedding", "Embedding")
def _(rng):
    model = keras.Sequential([keras.Input((5,), dtype="int32"), L.Embedding(10, 4)])
    return model, [ids(rng, 5)]


@case("embedding_float_ids", "Embedding", "Flatten", "Dense")
def _(rng):
    # Token ids declared float32 (common in the wild): the graph input becomes int32.
    model = keras.Sequential([keras.Input((5,)), L.Embedding(10, 3), L.Flatten(), L.Dense(2)])
    return model, [ids(rng, 5, pad=False).astype("float32")]


@case(
    "identity_noops",
    "Identity",
    "Dropout",
    "SpatialDropout1D",
    "GaussianNoise",
    "GaussianDropout",
    "AlphaDropout",
    "ActivityRegularization",
)
def _(rng):
    return sequential(
        rng,
        (4, 3),
        L.Identity(),
        L.Dropout(0.5),
        L.SpatialDropout1D(0.3),
        L.GaussianNoise(0.2),
        L.GaussianDropout(0.2),
        L.AlphaDropout(0.2),
        L.ActivityRegularization(l1=0.01, l2=0.01),
    )


@case("spatial_dropout", "SpatialDropout2D", "SpatialDropout3D", "Reshape")
def _(rng):
    x = keras.Input((2, 3, 4))
    y = L.SpatialDropout2D(0.5)(x)
    z = L.SpatialDropout3D(0.5)(L.Reshape((2, 3, 2, 2))(y))
    return functional([x], [y, z]), [floats(rng, 2, 3, 4)]


# ---------------------------------------------------------------- reshaping


@case("shape_ops", "Flatten", "Permute", "RepeatVector", "Reshape")
def _(rng):
    x = keras.Input((2, 3, 4))
    flat = L.Flatten()(x)
    outs = [flat, L.Permute((3, 1, 2))(x), L.RepeatVector(3)(flat), L.Reshape((-1, 6))(x), L.Reshape((4, 6))(x)]
    return functional([x], outs), [floats(rng, 2, 3, 4)]


@case("flatten_channels_first", "Flatten")
def _(rng):
    return sequential(rng, (2, 3, 4), L.Flatten(data_format="channels_first"))


@case("crop_pad_upsample_1d", "Cropping1D", "ZeroPadding1D", "UpSampling1D")
def _(rng):
    return sequential(rng, (6, 2), L.Cropping1D((1, 2)), L.ZeroPadding1D((2, 1)), L.UpSampling1D(3))


@case("crop_pad_upsample_2d", "Cropping2D", "ZeroPadding2D", "UpSampling2D")
def _(rng):
    x = keras.Input((6, 5, 2))
    y = L.ZeroPadding2D(((1, 0), (2, 1)))(L.Cropping2D(((1, 2), (0, 1)))(x))
    outs = [L.UpSampling2D((2, 3))(y), L.UpSampling2D(2, interpolation="bilinear")(y)]
    cf = L.ZeroPadding2D(1, data_format="channels_first")(L.Cropping2D(((1, 1), (0, 0)), data_format="channels_first")(x))
    outs.append(L.UpSampling2D(2, data_format="channels_first")(cf))
    return functional([x], outs), [floats(rng, 6, 5, 2)]


@case("crop_pad_upsample_3d", "Cropping3D", "ZeroPadding3D", "UpSampling3D")
def _(rng):
    return sequential(rng, (4, 5, 4, 2), L.Cropping3D(((1, 0), (1, 1), (0, 2))), L.ZeroPadding3D(1), L.UpSampling3D((1, 2, 2)))


# ---------------------------------------------------------------- convolutions


@case("conv1d", "Conv1D")
def _(rng):
    x = keras.Input((8, 4))
    outs = [
        L.Conv1D(3, 3, strides=2, padding="same", activation="relu")(x),
        L.Conv1D(2, 3, padding="causal", dilation_rate=2)(x),
        L.Conv1D(4, 2, groups=2, use_bias=False)(x),
    ]
    return functional([x], outs), [floats(rng, 8, 4)]


@case("conv2d", "Conv2D")
def _(rng):
    x = keras.Input((7, 6, 4))
    outs = [
        L.Conv2D(3, 3, strides=2, padding="same", activation="tanh")(x),
        L.Conv2D(2, (2, 3), dilation_rate=(2, 1))(x),
        L.Conv2D(4, 1, groups=4)(x),
        L.Conv2D(2, 3, data_format="channels_first", padding="same")(x),
    ]
    return functional([x], outs), [floats(rng, 7, 6, 4)]


@case("conv3d", "Conv3D")
def _(rng):
    x = keras.Input((4, 5, 4, 2))
    outs = [L.Conv3D(3, 2, strides=(1, 2, 1), padding="same")(x), L.Conv3D(2, (2, 3, 2), groups=2, use_bias=False)(x)]
    return functional([x], outs), [floats(rng, 4, 5, 4, 2)]


@case("conv_transpose", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")
def _(rng):
    a, b, c = keras.Input((5, 3)), keras.Input((4, 3, 2)), keras.Input((3, 3, 2, 2))
    outs = [
        L.Conv1DTranspose(2, 3, strides=2, padding="same")(a),
        L.Conv1DTranspose(2, 3, strides=2, output_padding=1, activation="relu")(a),
        L.Conv2DTranspose(3, 3, strides=2, padding="valid", output_padding=1)(b),
        L.Conv2DTranspose(2, (2, 3), strides=(1, 2), padding="same", use_bias=False)(b),
        L.Conv2DTranspose(2, 2, dilation_rate=2)(b),
        L.Conv3DTranspose(2, 2, strides=2, padding="same")(c),
    ]
    return functional([a, b, c], outs), [floats(rng, 5, 3), floats(rng, 4, 3, 2), floats(rng, 3, 3, 2, 2)]


@case("depthwise_separable", "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D")
def _(rng):
    a, b = keras.Input((8, 3)), keras.Input((6, 6, 3))
    outs = [
        L.DepthwiseConv1D(3, depth_multiplier=2, padding="same")(a),
        L.DepthwiseConv1D(2, strides=2, use_bias=False)(a),
        L.DepthwiseConv2D(3, depth_multiplier=2, strides=2, padding="same", activation="relu")(b),
        L.DepthwiseConv2D((2, 3), dilation_rate=2)(b),
        L.SeparableConv1D(4, 3, depth_multiplier=2, padding="same")(a),
        L.SeparableConv2D(4, 3, strides=2, use_bias=False)(b),
        L.SeparableConv2D(2, 2, depth_multiplier=3, activation="relu")(b),
    ]
    return functional([a, b], outs), [floats(rng, 8, 3), floats(rng, 6, 6, 3)]


# ---------------------------------------------------------------- pooling


@case("pooling_1d", "MaxPooling1D", "AveragePooling1D", "GlobalMaxPooling1D", "GlobalAveragePooling1D")
def _(rng):
    x = keras.Input((7, 3))
    outs = [
        L.MaxPooling1D(2)(x),
        L.MaxPooling1D(3, strides=2, padding="same")(x),
        L.AveragePooling1D(3, strides=1)(x),
        L.GlobalMaxPooling1D()(x),
        L.GlobalAveragePooling1D(keepdims=True)(x),
        L.GlobalAveragePooling1D(data_format="channels_first")(x),
    ]
    return functional([x], outs), [floats(rng, 7, 3)]


@case("pooling_2d", "MaxPooling2D", "AveragePooling2D", "GlobalMaxPooling2D", "GlobalAveragePooling2D")
def _(rng):
    x = keras.Input((6, 5, 3))
    outs = [
        L.MaxPooling2D()(x),
        L.MaxPooling2D((3, 2), strides=(2, 1), padding="same")(x),
        L.AveragePooling2D((2, 3), strides=1)(x),
        L.AveragePooling2D(2, data_format="channels_first")(x),
        L.GlobalMaxPooling2D(keepdims=True)(x),
        L.GlobalAveragePooling2D()(x),
    ]
    return functional([x], outs), [floats(rng, 6, 5, 3)]


@case("pooling_3d", "MaxPooling3D", "AveragePooling3D", "GlobalMaxPooling3D", "GlobalAveragePooling3D")
def _(rng):
    x = keras.Input((4, 4, 5, 2))
    outs = [
        L.MaxPooling3D()(x),
        L.MaxPooling3D(2, strides=1, padding="same")(x),
        L.AveragePooling3D((2, 2, 3))(x),
        L.GlobalMaxPooling3D()(x),
        L.GlobalAveragePooling3D(keepdims=True)(x),
    ]
    return functional([x], outs), [floats(rng, 4, 4, 5, 2)]


@case("adaptive_pooling", *(f"Adaptive{k}Pooling{n}D" for k in ("Average", "Max") for n in (1, 2, 3)))
def _(rng):
    x1, x2, x3 = keras.Input((7, 3)), keras.Input((5, 6, 2)), keras.Input((4, 3, 5, 2))
    outs = [
        L.AdaptiveAveragePooling1D(3)(x1),
        L.AdaptiveMaxPooling1D(4, data_format="channels_first")(x1),
        L.AdaptiveAveragePooling2D((2, 4))(x2),
        L.AdaptiveMaxPooling2D(3)(x2),
        L.AdaptiveAveragePooling3D((2, 2, 3), data_format="channels_first")(x3),
        L.AdaptiveMaxPooling3D((3, 2, 2))(x3),
    ]
    return functional([x1, x2, x3], outs), [floats(rng, 7, 3), floats(rng, 5, 6, 2), floats(rng, 4, 3, 5, 2)]


# ---------------------------------------------------------------- normalization, preprocessing


@case("batch_normalization", "BatchNormalization")
def _(rng):
    x = keras.Input((3, 4))
    outs = [L.BatchNormalization()(x), L.BatchNormalization(axis=1, center=False, epsilon=0.01)(x), L.BatchNormalization(scale=False)(x)]
    return functional([x], outs), [floats(rng, 3, 4)]


@case("layer_group_rms_unit_normalization", "LayerNormalization", "GroupNormalization", "RMSNormalization", "UnitNormalization")
def _(rng):
    x = keras.Input((3, 4))
    outs = [
        L.LayerNormalization()(x),
        L.LayerNormalization(axis=[1, 2], center=False, epsilon=1e-5)(x),
        L.LayerNormalization(rms_scaling=True)(x),
        L.GroupNormalization(groups=2)(x),
        L.GroupNormalization(groups=4, axis=-1, scale=False)(x),
        L.RMSNormalization()(x),
        L.RMSNormalization(epsilon=1e-3)(x),
        L.UnitNormalization()(x),
        L.UnitNormalization(axis=[1, 2])(x),
    ]
    return functional([x], outs), [floats(rng, 3, 4)]


@case("normalization_adapted", "Normalization")
def _(rng):
    x = keras.Input((3, 4))
    adapted = L.Normalization()
    adapted.adapt(floats(rng, 3, 4, batch=16) * 2 + 1)
    per_step = L.Normalization(axis=(1, 2))
    per_step.adapt(floats(rng, 3, 4, batch=16))
    outs = [adapted(x), per_step(x)]
    return functional([x], outs), [floats(rng, 3, 4)]


@case("normalization_given", "Normalization")
def _(rng):
    x = keras.Input((3, 4))
    mean, variance = rng.normal(size=4).tolist(), rng.uniform(0.5, 2, size=4).tolist()
    outs = [L.Normalization(mean=mean, variance=variance)(x), L.Normalization(mean=0.5, variance=2.0, invert=True)(x)]
    return functional([x], outs), [floats(rng, 3, 4)]


@case("preprocessing", "Rescaling", "Resizing", "CenterCrop")
def _(rng):
    x = keras.Input((6, 8, 3))
    outs = [
        L.Rescaling(1 / 127.5, offset=-1)(x),
        L.Rescaling([0.5, 1.0, 2.0])(x),
        L.Resizing(4, 5)(x),
        L.Resizing(9, 4, interpolation="nearest")(x),
        L.Resizing(4, 4, crop_to_aspect_ratio=True)(x),
        L.Resizing(5, 5, pad_to_aspect_ratio=True, fill_value=0.5)(x),
        L.CenterCrop(4, 5)(x),
    ]
    return functional([x], outs), [floats(rng, 6, 8, 3)]


# ---------------------------------------------------------------- merging


@case("merge", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot")
def _(rng):
    a, b, c = keras.Input((3, 4)), keras.Input((3, 4)), keras.Input((3, 4))
    outs = [
        L.Add()([a, b, c]),
        L.Subtract()([a, b]),
        L.Multiply()([a, b]),
        L.Average()([a, b, c]),
        L.Maximum()([a, b]),
        L.Minimum()([a, c]),
        L.Concatenate()([a, b]),
        L.Concatenate(axis=1)([a, b, c]),
        L.Dot(axes=2)([a, b]),
        L.Dot(axes=(1, 1), normalize=True)([a, c]),
    ]
    return functional([a, b, c], outs), [floats(rng, 3, 4) for _ in range(3)]


# ---------------------------------------------------------------- recurrent


@case("simple_rnn", "SimpleRNN")
def _(rng):
    x = keras.Input((5, 3))
    outs = [
        L.SimpleRNN(4)(x),
        L.SimpleRNN(3, return_sequences=True, go_backwards=True, activation="relu")(x),
        *L.SimpleRNN(2, return_state=True, use_bias=False)(x),
    ]
    return functional([x], outs), [floats(rng, 5, 3)]


@case("lstm", "LSTM")
def _(rng):
    x = keras.Input((5, 3))
    outs = [
        L.LSTM(4)(x),
        *L.LSTM(3, return_sequences=True, return_state=True, go_backwards=True)(x),
        L.LSTM(2, recurrent_activation="hard_sigmoid", activation="relu", use_bias=False)(x),
    ]
    return functional([x], outs), [floats(rng, 5, 3)]


@case("conv_lstm", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D")
def _(rng):
    x1, x2, x3 = keras.Input((4, 7, 2)), keras.Input((3, 6, 5, 2)), keras.Input((2, 4, 4, 3, 2))
    outs = [
        L.ConvLSTM1D(3, 3, padding="same", dilation_rate=2, return_sequences=True)(x1),
        *L.ConvLSTM2D(2, 3, strides=2, return_state=True, go_backwards=True)(x2),
        L.ConvLSTM2D(2, (2, 3), padding="same", activation="relu", recurrent_activation="hard_sigmoid", use_bias=False)(x2),
        L.ConvLSTM3D(2, 2, return_sequences=True)(x3),
    ]
    return functional([x1, x2, x3], outs), [floats(rng, 4, 7, 2), floats(rng, 3, 6, 5, 2), floats(rng, 2, 4, 4, 3, 2)]


@case("gru", "GRU")
def _(rng):
    x = keras.Input((5, 3))
    outs = [
        L.GRU(4)(x),
        L.GRU(3, reset_after=False, return_sequences=True)(x),
        *L.GRU(2, return_state=True, go_backwards=True, use_bias=False)(x),
        L.GRU(2, reset_after=False, use_bias=False)(x),
    ]
    return functional([x], outs), [floats(rng, 5, 3)]


@case("rnn_initial_state", "SimpleRNN", "LSTM", "GRU", "Dense")
def _(rng):
    x, s = keras.Input((5, 3)), keras.Input((4,))
    h = L.Dense(2, activation="tanh")(s)
    c = L.Dense(2)(s)
    outs = [
        L.SimpleRNN(2)(x, initial_state=h),
        L.LSTM(2, return_sequences=True)(x, initial_state=[h, c]),
        L.GRU(2, reset_after=False)(x, initial_state=[h]),
        L.GRU(2)(x, initial_state=c),
    ]
    return functional([x, s], outs), [floats(rng, 5, 3), floats(rng, 4)]


@case("bidirectional", "Bidirectional")
def _(rng):
    x = keras.Input((5, 3))
    outs = [
        L.Bidirectional(L.LSTM(2))(x),
        L.Bidirectional(L.GRU(2, return_sequences=True), merge_mode="sum")(x),
        L.Bidirectional(L.SimpleRNN(2), merge_mode="mul")(x),
        L.Bidirectional(L.GRU(2, reset_after=False), merge_mode="ave")(x),
        *L.Bidirectional(L.LSTM(2, return_sequences=True), merge_mode=None)(x),
        *L.Bidirectional(L.GRU(2, return_state=True))(x),
        L.Bidirectional(L.LSTM(2, return_sequences=True), backward_layer=L.LSTM(2, return_sequences=True, go_backwards=True))(x),
    ]
    return functional([x], outs), [floats(rng, 5, 3)]


@case("time_distributed", "TimeDistributed")
def _(rng):
    a, b = keras.Input((3, 4)), keras.Input((2, 5, 5, 2))
    outs = [L.TimeDistributed(L.Dense(3, activation="relu"))(a), L.TimeDistributed(L.Conv2D(2, 3, padding="same"))(b)]
    return functional([a, b], outs), [floats(rng, 3, 4), floats(rng, 2, 5, 5, 2)]


# ---------------------------------------------------------------- attention


@case("attention", "Attention", "AdditiveAttention")
def _(rng):
    q, v, k = keras.Input((3, 4)), keras.Input((5, 4)), keras.Input((5, 4))
    outs = [
        L.Attention()([q, v]),
        L.Attention(use_scale=True, score_mode="concat")([q, v, k]),
        *L.Attention()([q, v], return_attention_scores=True),
        L.Attention()([q, q], use_causal_mask=True),
        L.AdditiveAttention()([q, v, k]),
        L.AdditiveAttention(use_scale=False)([q, q], use_causal_mask=True),
    ]
    return functional([q, v, k], outs), [floats(rng, 3, 4), floats(rng, 5, 4), floats(rng, 5, 4)]


@case("multi_head_attention", "MultiHeadAttention")
def _(rng):
    q, v, k = keras.Input((3, 4)), keras.Input((5, 4)), keras.Input((5, 4))
    allowed = keras.Input((3, 5), dtype="bool")
    outs = [
        L.MultiHeadAttention(2, 3)(q, v),
        L.MultiHeadAttention(2, 2, value_dim=3, output_shape=6, use_bias=False)(q, v, k),
        *L.MultiHeadAttention(2, 2)(q, v, key=k, attention_mask=allowed, return_attention_scores=True),
        L.MultiHeadAttention(1, 4)(q, q, use_causal_mask=True),
        L.MultiHeadAttention(2, 2, use_gate=True)(q, v),
        L.MultiHeadAttention(2, 2, sliding_window=2)(q, q),
    ]
    mask = rng.uniform(size=(2, 3, 5)) > 0.3
    mask[:, :, 0] = True
    return functional([q, v, k, allowed], outs), [floats(rng, 3, 4), floats(rng, 5, 4), floats(rng, 5, 4), mask]


@case("multi_head_attention_axes", "MultiHeadAttention")
def _(rng):
    x = keras.Input((2, 3, 4))
    return functional([x], [L.MultiHeadAttention(2, 2, attention_axes=(2,))(x, x)]), [floats(rng, 2, 3, 4)]


@case("group_query_attention", "GroupQueryAttention")
def _(rng):
    q, v = keras.Input((3, 4)), keras.Input((5, 4))
    outs = [
        L.GroupQueryAttention(2, 4, 2)(q, v),
        *L.GroupQueryAttention(3, 2, 1, use_bias=False)(q, v, v, return_attention_scores=True),
        L.GroupQueryAttention(2, 2, 2, use_gate=True, sliding_window=2)(q, q, use_causal_mask=True),
    ]
    return functional([q, v], outs), [floats(rng, 3, 4), floats(rng, 5, 4)]


# ---------------------------------------------------------------- masks


@case("masks_from_embedding", "Embedding", "LSTM", "GRU", "SimpleRNN", "Bidirectional", "GlobalAveragePooling1D", "Dense")
def _(rng):
    i = keras.Input((6,), dtype="int32")
    e = L.Embedding(10, 4, mask_zero=True)(i)
    h = L.LSTM(3, return_sequences=True)(e)
    outs = [
        h,
        L.GRU(2)(h),
        L.SimpleRNN(2, return_sequences=True)(L.Dense(3)(e)),
        L.Bidirectional(L.LSTM(2, return_sequences=True))(e),
        L.Bidirectional(L.GRU(2), merge_mode="sum")(e),
        L.GlobalAveragePooling1D()(h),
    ]
    return functional([i], outs), [ids(rng, 6)]


@case("masks_into_attention", "Embedding", "Attention", "AdditiveAttention", "GlobalAveragePooling1D", "Add")
def _(rng):
    i, j = keras.Input((5,), dtype="int32"), keras.Input((4,), dtype="int32")
    emb = L.Embedding(10, 4, mask_zero=True)
    a, b = emb(i), emb(j)  # a shared layer: two calls, one set of weights
    outs = [
        L.Attention()([a, b]),
        L.AdditiveAttention()([b, a]),
        L.GlobalAveragePooling1D()(L.Add()([a, L.Attention(use_scale=True)([a, a])])),  # Add merges two equal masks
    ]
    return functional([i, j], outs), [ids(rng, 5), ids(rng, 4)]


@case("masks_into_multi_head_attention", "Embedding", "MultiHeadAttention", "GroupQueryAttention", "Add", "GlobalAveragePooling1D")
def _(rng):
    # Keras's MultiHeadAttention.call erases the mask of the tensors it is given, so a layer reading the same
    # tensors after it in Keras's execution order would see none (a Keras side effect, not a semantic):
    # here each attention layer's inputs feed nothing else that reads their mask later.
    i, j = keras.Input((5,), dtype="int32"), keras.Input((4,), dtype="int32")
    a, b = L.Embedding(10, 4, mask_zero=True)(i), L.Embedding(10, 4, mask_zero=True)(j)
    c = L.Embedding(10, 4, mask_zero=True)(i)
    d, e = L.Embedding(10, 4, mask_zero=True)(i), L.Embedding(10, 4, mask_zero=True)(j)
    outs = [
        L.MultiHeadAttention(2, 2)(a, b),
        L.GlobalAveragePooling1D()(L.Add()([c, L.MultiHeadAttention(1, 2)(c, c)])),
        L.GroupQueryAttention(2, 2, 1)(d, e),
    ]
    return functional([i, j], outs), [ids(rng, 5), ids(rng, 4)]


@case("masks_from_masking", "Masking", "LSTM", "SimpleRNN", "Bidirectional", "GRU", "GlobalAveragePooling1D", "GlobalMaxPooling1D")
def _(rng):
    x = keras.Input((6, 3))
    m = L.Masking(mask_value=3.0)(x)
    outs = [
        L.LSTM(2)(m),
        L.SimpleRNN(2, return_sequences=True)(m),
        L.Bidirectional(L.GRU(2, return_sequences=True), merge_mode="ave")(m),
        L.GlobalAveragePooling1D()(m),
        L.GlobalMaxPooling1D()(m),  # Keras's GlobalMaxPooling1D ignores the mask: the masked 3.0 steps win
    ]
    data = floats(rng, 6, 3)
    data[0, 4:] = 3.0
    data[1, 1] = 3.0
    return functional([x], outs), [data]


# ---------------------------------------------------------------- structure


@case("shared_layers", "Dense", "Concatenate")
def _(rng):
    a, b = keras.Input((4,)), keras.Input((4,))
    dense = L.Dense(3, activation="relu")
    top = L.Dense(2)
    y = L.Concatenate()([dense(a), dense(b)])  # dense called twice; top called on two tensors below
    return functional([a, b], [top(y), top(L.Concatenate()([dense(b), dense(a)]))]), [floats(rng, 4), floats(rng, 4)]


@case("nested_models", "Dense", "Conv1D", "GlobalMaxPooling1D", "Add")
def _(rng):
    inner_seq = keras.Sequential([keras.Input((6, 2)), L.Conv1D(3, 2, activation="relu"), L.GlobalMaxPooling1D()], name="inner_seq")
    u = keras.Input((3,))
    inner_fn = functional([u], L.Dense(3)(L.Dense(4, activation="relu")(u)))
    deeper_in = keras.Input((3,))
    deeper = keras.Model(deeper_in, inner_fn(deeper_in), name="deeper")  # Functional inside Functional inside Functional
    x, z = keras.Input((6, 2)), keras.Input((3,))
    h = inner_seq(x)
    outs = [L.Add()([deeper(h), inner_fn(z)]), deeper(z)]
    return functional([x, z], outs), [floats(rng, 6, 2), floats(rng, 3)]


@case("sequential_in_sequential", "Dense", "BatchNormalization")
def _(rng):
    block = keras.Sequential([L.Dense(4, activation="relu"), L.BatchNormalization()], name="block")
    model = keras.Sequential([keras.Input((3,)), block, L.Dense(2)])
    return model, [floats(rng, 3)]


@case(
    "keras_ops",
    "Add",
    "Subtract",
    "Multiply",
    "Maximum",
    "Minimum",
    "Concatenate",
    "Rescaling",
    "Activation",
    "Softmax",
    "Reshape",
    "Permute",
    "ELU",
    "LeakyReLU",
)
def _(rng):
    a, b = keras.Input((4,)), keras.Input((4,))
    outs = [
        a + b,
        a - b,
        a * b,
        ops.maximum(a, b),
        ops.minimum(a, b),
        ops.concatenate([a, b], axis=-1),
        a * 2.0,
        a + 1.5,
        a - 0.5,
        a / 4.0,
        ops.relu(a),
        ops.sigmoid(a),
        ops.tanh(a),
        ops.softmax(a),
        keras.activations.gelu(a),
        ops.gelu(a),
        ops.leaky_relu(a, 0.1),
        ops.elu(a),
        ops.log_softmax(a),
        ops.hard_sigmoid(a),
        ops.exp(a),
        2.0 - a,
        ops.expand_dims(a, 1),
        ops.squeeze(ops.expand_dims(a, -1), -1),
        ops.reshape(a, (-1, 2, 2)),
        ops.transpose(ops.reshape(a, (-1, 2, 2)), (0, 2, 1)),
    ]
    return functional([a, b], outs), [floats(rng, 4), floats(rng, 4)]


CASE_BY_NAME = {c.name: c for c in CASES}


# ---------------------------------------------------------------- machinery


def randomize(model: keras.Model, rng: np.random.Generator) -> None:
    """Random weights on the scale Keras's initialisers use; statistics that must be positive are."""
    for variable in model.weights:
        dtype = np.dtype(variable.dtype)
        if not np.issubdtype(dtype, np.floating):
            continue
        shape = tuple(variable.shape)
        leaf = variable.path.rsplit("/", 1)[-1]
        if leaf in ("moving_variance", "variance", "gamma", "scale", "count"):
            value = rng.uniform(0.5, 1.5, shape)
        elif len(shape) >= 2:
            value = rng.normal(0.0, 1.0 / np.sqrt(max(1, int(np.prod(shape[:-1])))), shape)
        else:
            value = rng.normal(0.0, 0.3, shape)
        variable.assign(value.astype(dtype))


@dataclass
class Built:
    files: dict[str, tuple[Path, Path | None]]
    input_names: list[str]
    inputs: Inputs
    expected: list[np.ndarray]


def _as_list(value: Any) -> list[np.ndarray]:
    return [np.asarray(v) for v in value] if isinstance(value, (list, tuple)) else [np.asarray(value)]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Built]:
    cache: dict[str, Built] = {}

    def get(name: str) -> Built:
        if name not in cache:
            rng = np.random.default_rng(zlib.crc32(name.encode()))
            keras.utils.set_random_seed(zlib.crc32(name.encode()) % 2**31)
            model, inputs = CASE_BY_NAME[name].build(rng)
            randomize(model, rng)
            folder = tmp_path_factory.mktemp(name)
            model.save(folder / "model.keras")
            model.save(folder / "model.h5")
            (folder / "model.json").write_text(model.to_json())
            model.save_weights(folder / "model.weights.h5")
            files = {
                "keras": (folder / "model.keras", None),
                "h5": (folder / "model.h5", None),
                "json": (folder / "model.json", folder / "model.weights.h5"),
            }
            expected = _as_list(model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0))
            names = [t._keras_history.operation.name for t in model.inputs]  # the InputLayer names
            cache[name] = Built(files, names, inputs, expected)
        return cache[name]

    return get


def graph_types(model: kif.Model) -> set[str]:
    """KIF types in the graph, including layers nested in wrappers."""
    found = set()
    for layer in model.layers:
        found.add(layer.type)
        for value in layer.attributes.values():
            if isinstance(value, dict) and isinstance(value.get("type"), str):
                found.add(value["type"])
    return found


def model_tolerance(types: set[str]) -> tuple[float, float]:
    classes = [catalog.get(t).tolerance["float32"] for t in types]
    return max(c["rtol"] for c in classes) * COMPOUND, max(c["atol"] for c in classes) * COMPOUND


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", [c.name for c in CASES])
def test_conversion_matches_keras(name: str, fmt: str, built: Callable[[str], Built], tmp_path: Path) -> None:
    art = built(name)
    src, weights = art.files[fmt]
    model = kif.load(convert(src, tmp_path / "model.kif", weights=weights))
    types = graph_types(model)
    missing = set(CASE_BY_NAME[name].types) - types
    assert not missing, f"the converted graph lacks {sorted(missing)}"
    assert [spec.name for spec in model.inputs] == art.input_names, "graph inputs keep the Keras input names and order"
    # Token ids declared float32 become an int32 graph input (the converter's rule): feed them as ints.
    feed = {
        spec.name: x.astype(spec.dtype) if spec.dtype.startswith("int") else x for spec, x in zip(model.inputs, art.inputs, strict=True)
    }
    outputs = list(kif.run(model, feed).values())
    assert len(outputs) == len(art.expected), "graph outputs keep the model's outputs"
    rtol, atol = model_tolerance(types)
    for index, (got, want) in enumerate(zip(outputs, art.expected, strict=True)):
        assert got.shape == want.shape, f"output {index}: shape {got.shape} != Keras {want.shape}"
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=f"{name}/{fmt} output {index}")


def test_cases_cover_the_catalog() -> None:
    covered = {t for c in CASES for t in c.types}
    layer_types = {t for t in catalog.catalog() if not t.startswith("op.")}  # primitive ops: python-sdk/tests/ops/
    assert covered | set(NO_KERAS_EQUIVALENT) | set(TESTED_IN_OWN_FILE) == layer_types
    assert not covered & set(NO_KERAS_EQUIVALENT)
    tests = Path(__file__).resolve().parents[1]
    for layer_type, test_file in TESTED_IN_OWN_FILE.items():
        assert layer_type in (tests / test_file).read_text(encoding="utf-8"), (layer_type, test_file)


def test_converter_never_imports_keras(built: Callable[[str], Built], tmp_path: Path) -> None:
    """The converter reads files with json, zipfile and h5py only."""
    art = built("masks_from_embedding")
    script = (
        "import sys; from kif.keras import convert; "
        f"convert({str(art.files['keras'][0])!r}, {str(tmp_path / 'm.kif')!r}); "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('keras', 'tensorflow', 'torch')); "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", script], check=True, env={k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"})
    assert (tmp_path / "m.kif").is_file()


# ---------------------------------------------------------------- refused op nodes


REFUSED_OPS: dict[str, Callable[[Any], Any]] = {
    "Max": lambda x: ops.max(x, axis=-1, keepdims=True, initial=0.5),
    "Argsort": lambda x: ops.cast(ops.argsort(x, axis=-1), "float32"),
    "Cumsum": lambda x: ops.cumsum(x, axis=-1, dtype="float64"),
    "Round": lambda x: ops.round(x, decimals=2),
    "Cumprod": lambda x: ops.cumprod(x, axis=-1),
}


@pytest.mark.parametrize("op", sorted(REFUSED_OPS))
def test_unmapped_keras_op_is_refused_naming_the_layer(op: str, tmp_path: Path) -> None:
    x = keras.Input((4,))
    model = functional([x], L.Dense(2)(REFUSED_OPS[op](x)) if op != "Matmul" else REFUSED_OPS[op](x))
    src = tmp_path / "model.keras"
    model.save(src)
    layer = next(lay for lay in json.loads(model.to_json())["config"]["layers"] if lay["class_name"] not in ("InputLayer", "Dense"))
    with pytest.raises(KifError) as caught:
        convert(src, tmp_path / "model.kif")
    message = str(caught.value)
    assert layer["config"]["name"] in message and "op" in message, message
    assert not (tmp_path / "model.kif").exists()
