"""Whole-model cases: small versions of the architectures importers meet in practice.

``python conformance/generators/models.py [OUT_ROOT]`` rewrites ``cases/models/``. Tolerances are the
loosest catalog class among the model's layer types (the reference runtime stays within 1% of it on
every model); only the mixed-float16 model is widened, and its case states why.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import _suite as s
import numpy as np
from _suite import Case
from _suite import keras as K

L = K.layers


def deep(rtol: float, atol: float, why: str) -> dict[str, Any]:
    return {"rtol": rtol, "atol": atol, "reason": f"whole model: {why}"}


def mlp() -> Any:
    x = K.Input((8,), name="features")
    h = L.Dense(16, activation="relu")(x)
    h = L.Dropout(0.2)(h)
    h = L.Dense(8, activation="gelu")(h)
    return K.Model(x, L.Dense(3, activation="softmax")(h), name="mlp")


def small_cnn() -> Any:
    x = K.Input((12, 12, 3), name="image")
    h = L.Conv2D(6, 3, activation="relu")(x)
    h = L.MaxPooling2D()(h)
    h = L.Conv2D(8, 3, padding="same", activation="relu")(h)
    h = L.BatchNormalization()(h)
    h = L.GlobalAveragePooling2D()(h)
    return K.Model(x, L.Dense(4, activation="softmax")(h), name="small_cnn")


def resnet_blocks() -> Any:
    x = K.Input((8, 8, 4), name="image")
    h = L.Conv2D(8, 3, padding="same")(x)
    for filters, stride in [(8, 1), (8, 1), (12, 2)]:
        y = L.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(h)
        y = L.BatchNormalization()(y)
        y = L.ReLU()(y)
        y = L.Conv2D(filters, 3, padding="same", use_bias=False)(y)
        y = L.BatchNormalization()(y)
        shortcut = h if stride == 1 and filters == h.shape[-1] else L.Conv2D(filters, 1, strides=stride)(h)
        h = L.Activation("relu")(L.Add()([y, shortcut]))
    return K.Model(x, L.Dense(5)(L.GlobalAveragePooling2D()(h)), name="resnet_blocks")


def mobilenet() -> Any:
    x = K.Input((16, 16, 3), name="image")
    h = L.Rescaling(1 / 127.5, offset=-1)(x)
    h = L.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(h)
    h = L.ReLU(max_value=6.0)(L.BatchNormalization()(h))
    for filters, stride in [(12, 1), (16, 2), (16, 1)]:
        h = L.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(h)
        h = L.ReLU(max_value=6.0)(L.BatchNormalization()(h))
        h = L.Conv2D(filters, 1, use_bias=False)(h)
        h = L.ReLU(max_value=6.0)(L.BatchNormalization()(h))
    h = L.GlobalAveragePooling2D(keepdims=True)(h)
    h = L.Conv2D(4, 1)(L.Dropout(0.1)(h))
    return K.Model(x, L.Softmax()(L.Reshape((4,))(h)), name="mobilenet_style")


def unet() -> Any:
    x = K.Input((16, 16, 2), name="image")
    e1 = L.Conv2D(4, 3, padding="same", activation="relu")(x)
    p1 = L.MaxPooling2D()(e1)
    e2 = L.Conv2D(8, 3, padding="same", activation="relu")(p1)
    p2 = L.MaxPooling2D()(e2)
    b = L.Conv2D(12, 3, padding="same", activation="relu")(p2)
    u2 = L.Conv2DTranspose(8, 2, strides=2, padding="same")(b)
    d2 = L.Conv2D(8, 3, padding="same", activation="relu")(L.Concatenate()([u2, e2]))
    u1 = L.Conv2DTranspose(4, 2, strides=2, padding="same")(d2)
    d1 = L.Conv2D(4, 3, padding="same", activation="relu")(L.Concatenate()([u1, e1]))
    return K.Model(x, L.Conv2D(1, 1, activation="sigmoid")(d1), name="unet")


def text_classifier(rnn: Any) -> Any:
    def build() -> Any:
        ids = K.Input((10,), dtype="int32", name="tokens")
        h = L.Embedding(30, 8, mask_zero=True)(ids)
        h = rnn()(h)
        return K.Model(ids, L.Dense(2, activation="softmax")(L.Dense(6, activation="relu")(h)), name="text_classifier")

    return build


def tagger() -> Any:
    ids = K.Input((10,), dtype="int32", name="tokens")
    h = L.Embedding(30, 8, mask_zero=True)(ids)
    h = L.Bidirectional(L.LSTM(6, return_sequences=True))(h)
    return K.Model(ids, L.TimeDistributed(L.Dense(5, activation="softmax"))(h), name="bilstm_tagger")


def transformer() -> Any:
    ids = K.Input((8,), dtype="int32", name="tokens")
    h = L.Embedding(40, 16)(ids)
    for _ in range(2):
        a = L.MultiHeadAttention(num_heads=2, key_dim=8)(h, h)
        h = L.LayerNormalization(epsilon=1e-6)(L.Add()([h, L.Dropout(0.1)(a)]))
        f = L.Dense(16)(L.Dense(32, activation="gelu")(h))
        h = L.LayerNormalization(epsilon=1e-6)(L.Add()([h, f]))
    return K.Model(ids, L.Dense(3, activation="softmax")(L.GlobalAveragePooling1D()(h)), name="transformer_encoder")


def multi_io() -> Any:
    image = K.Input((8, 8, 1), name="image")
    meta = K.Input((5,), name="meta")
    i = L.Flatten()(L.MaxPooling2D()(L.Conv2D(4, 3, activation="relu")(image)))
    m = L.Dense(6, activation="relu")(meta)
    h = L.Concatenate()([i, m])
    h = L.Dense(12, activation="relu")(h)
    label = L.Dense(3, activation="softmax", name="label")(h)
    score = L.Dense(1, name="score")(h)
    return K.Model([image, meta], [label, score], name="multi_io")


def autoencoder() -> Any:
    x = K.Input((12, 12, 1), name="image")
    h = L.Conv2D(4, 3, strides=2, padding="same", activation="relu")(x)
    h = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(h)
    code = L.Dense(6, name="code")(L.Flatten()(h))
    h = L.Reshape((3, 3, 8))(L.Dense(72, activation="relu")(code))
    h = L.Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu")(h)
    h = L.Conv2DTranspose(1, 3, strides=2, padding="same", activation="sigmoid")(h)
    return K.Model(x, [h, code], name="autoencoder")


def mixed_float16() -> Any:
    """float16 weights and compute in the middle of a float32 model (a Keras dtype per layer)."""
    x = K.Input((6,), name="x")
    h = L.Dense(8, activation="relu")(x)
    h = L.Dense(8, activation="tanh", dtype="float16")(h)
    h = L.Dense(4, dtype="float16")(h)
    return K.Model(x, L.Activation("softmax", dtype="float32")(h), name="mixed_float16")


def ids(cid: str, vocab: int, steps: int, lengths: tuple[int, int] | None = None) -> np.ndarray:
    out = s.rng_for(cid, "ids").integers(1, vocab, size=(2, steps)).astype("int32")
    if lengths:
        for row, n in enumerate(lengths):
            out[row, n:] = 0
    return out


def cases() -> Iterator[Case]:
    def normals(cid: str, *shapes: tuple[int, ...]) -> list[np.ndarray]:
        rng = s.rng_for(cid, "inputs")
        return [s.normal(rng, 2, *shp) for shp in shapes]

    def case(cid: str, desc: str, build: Any, inputs: list[np.ndarray], **kw: Any) -> Case:
        return Case(cid, desc, build, inputs, sections=["spec/graph.md"], **kw)

    yield case("mlp", "MLP classifier with dropout", mlp, normals("mlp", (8,)))
    yield case("small-cnn", "Small CNN with batch normalization", small_cnn, normals("small-cnn", (12, 12, 3)))
    yield case(
        "resnet-blocks",
        "ResNet-style residual block stack",
        resnet_blocks,
        normals("resnet-blocks", (8, 8, 4)),
    )
    yield case(
        "mobilenet-style",
        "MobileNet-style depthwise separable net",
        mobilenet,
        normals("mobilenet-style", (16, 16, 3)),
    )
    yield case(
        "unet",
        "U-Net-style encoder/decoder with skip concatenations",
        unet,
        normals("unet", (16, 16, 2)),
    )
    yield case(
        "lstm-text-classifier", "LSTM text classifier over padded ids", text_classifier(lambda: L.LSTM(8)), [ids("lstm", 30, 10, (7, 3))]
    )
    yield case(
        "gru-text-classifier", "GRU text classifier over padded ids", text_classifier(lambda: L.GRU(8)), [ids("gru", 30, 10, (10, 4))]
    )
    yield case("bidirectional-tagger", "Bidirectional LSTM sequence tagger", tagger, [ids("tagger", 30, 10, (6, 9))])
    yield case(
        "transformer-encoder",
        "Two-block transformer encoder classifier",
        transformer,
        [ids("transformer", 40, 8)],
    )
    yield case("multi-input-output", "Image and metadata in, label and score out", multi_io, normals("multi-input-output", (8, 8, 1), (5,)))
    yield case(
        "autoencoder",
        "Convolutional autoencoder with a code output",
        autoencoder,
        normals("autoencoder", (12, 12, 1)),
    )
    yield case(
        "mixed-float16",
        "float16 layers inside a float32 model",
        mixed_float16,
        normals("mixed-float16", (6,)),
        tolerance=deep(1e-2, 1e-3, "float16 weights: KIF computes them in the input's float32, Keras rounds activations to float16"),
    )


if __name__ == "__main__":
    s.main("models", cases)
