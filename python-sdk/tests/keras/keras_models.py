"""Small Keras 3 models (torch backend) with random weights, shared by the live-export and to_keras tests.

Each builder returns (model, inputs): inputs keyed by the model's input names, in input order.
Weights are randomised (not Keras's initial values, which leave biases and BN statistics trivial).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np

L = keras.layers


def randomise(model: Any, seed: int = 0) -> Any:
    """Random weights; variances stay positive and moving statistics plausible."""
    rng = np.random.default_rng(seed)
    for var in model.weights:
        if "int" in str(var.dtype) or var.name == "count":
            continue
        shape = tuple(var.shape)
        value = rng.uniform(0.5, 1.5, shape) if var.name in ("moving_variance", "variance") else rng.normal(0, 0.4, shape)
        var.assign(value.astype("float32"))
    for layer in model.layers:
        if hasattr(layer, "finalize_state"):
            layer.finalize_state()  # Normalization caches its statistics
    return model


def _rng(seed: int = 1) -> np.random.Generator:
    return np.random.default_rng(seed)


def mlp() -> tuple[Any, dict[str, np.ndarray]]:
    inp = keras.Input((12,), name="features")
    h = L.Dense(16, activation="relu")(inp)
    h = L.Dropout(0.3)(h)
    h = L.Dense(8, activation="gelu")(h)
    h = L.BatchNormalization()(h)
    out = L.Dense(4, activation="softmax")(h)
    return keras.Model(inp, out, name="mlp"), {"features": _rng().normal(size=(3, 12)).astype("float32")}


def sequential_mlp() -> tuple[Any, dict[str, np.ndarray]]:
    model = keras.Sequential([keras.Input((6,), name="x"), L.Dense(5, activation="tanh"), L.LeakyReLU(0.1), L.Dense(2)], name="seq")
    return model, {"x": _rng().normal(size=(4, 6)).astype("float32")}


def cnn() -> tuple[Any, dict[str, np.ndarray]]:
    inp = keras.Input((16, 16, 3), name="image")
    h = L.Conv2D(8, 3, padding="same", use_bias=False)(inp)
    h = L.BatchNormalization()(h)
    h = L.ReLU()(h)
    h = L.MaxPooling2D()(h)
    h = L.Conv2D(8, 3, strides=2, activation="relu")(h)
    h = L.AveragePooling2D(pool_size=2, padding="valid")(h)
    h = L.ZeroPadding2D(1)(h)
    h = L.GlobalAveragePooling2D()(h)
    out = L.Dense(5)(h)
    return keras.Model(inp, out, name="cnn"), {"image": _rng().normal(size=(2, 16, 16, 3)).astype("float32")}


def depthwise_separable() -> tuple[Any, dict[str, np.ndarray]]:
    inp = keras.Input((12, 12, 4), name="image")
    h = L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu6")(inp)
    h = L.SeparableConv2D(6, 3, strides=2, activation="relu")(h)
    h = L.Reshape((25, 6))(h)
    h = L.SeparableConv1D(4, 3, padding="same")(h)
    h = L.DepthwiseConv1D(3)(h)
    h = L.Conv1D(3, 3, dilation_rate=2, padding="causal")(h)
    out = L.Flatten()(h)
    return keras.Model(inp, out, name="dwsep"), {"image": _rng().normal(size=(2, 12, 12, 4)).astype("float32")}


def conv_transpose() -> tuple[Any, dict[str, np.ndarray]]:
    inp = keras.Input((6, 6, 3), name="code")
    h = L.Conv2DTranspose(5, 3, strides=2, padding="same", activation="relu")(inp)
    h = L.Conv2DTranspose(4, 3, strides=2, padding="valid")(h)
    h = L.UpSampling2D(2)(h)
    h = L.Cropping2D(((1, 2), (0, 1)))(h)
    h = L.Reshape((-1, 4))(h)
    out = L.Conv1DTranspose(2, 4, strides=3)(h)
    return keras.Model(inp, out, name="deconv"), {"code": _rng().normal(size=(2, 6, 6, 3)).astype("float32")}


def _ids(seed: int, shape: tuple[int, int], vocab: int) -> np.ndarray:
    ids = _rng(seed).integers(1, vocab, size=shape).astype("int32")
    ids[0, -3:] = 0  # padding at the end of one sequence, in the middle of another
    ids[1, 2] = 0
    return ids


def lstm_masked_text() -> tuple[Any, dict[str, np.ndarray]]:
    inp = keras.Input((9,), dtype="int32", name="tokens")
    h = L.Embedding(20, 6, mask_zero=True)(inp)
    h = L.LSTM(5, return_sequences=True)(h)
    h = L.GRU(4, return_sequences=True, reset_after=True)(h)
    h = L.SimpleRNN(3, return_sequences=True, go_backwards=True)(h)
    h = L.GlobalAveragePooling1D()(h)
    out = L.Dense(2)(h)
    return keras.Model(inp, out, name="text"), {"tokens": _ids(2, (3, 9), 20)}


def bidirectional_masked() -> tuple[Any, dict[str, np.ndarray]]:
    inp = keras.Input((8, 5), name="frames")
    h = L.Masking(0.0)(inp)
    h = L.Bidirectional(L.LSTM(4, return_sequences=True))(h)
    h = L.Bidirectional(L.GRU(3, reset_after=False), merge_mode="sum")(h)
    out = L.Dense(2, activation="sigmoid")(h)
    x = _rng(3).normal(size=(3, 8, 5)).astype("float32")
    x[0, -2:] = 0.0
    x[2, 3] = 0.0
    return keras.Model(inp, out, name="birnn"), {"frames": x}


def rnn_states() -> tuple[Any, dict[str, np.ndarray]]:
    inp = keras.Input((7, 4), name="seq")
    out, h, c = L.LSTM(3, return_state=True, return_sequences=True)(inp)
    y = L.GRU(3)(out, initial_state=[h])
    t = L.TimeDistributed(L.Dense(2))(out)
    return keras.Model(inp, [y, c, t], name="states"), {"seq": _rng(4).normal(size=(2, 7, 4)).astype("float32")}


def nested_shared() -> tuple[Any, dict[str, np.ndarray]]:
    tower_in = keras.Input((6,))
    tower = keras.Model(tower_in, L.Dense(4, activation="relu", name="tower_dense")(tower_in), name="tower")
    a = keras.Input((6,), name="left")
    b = keras.Input((6,), name="right")
    shared = L.Dense(6, activation="tanh", name="shared")
    ha, hb = shared(a), shared(b)
    ta, tb = tower(ha), tower(hb)
    merged = L.Concatenate()([ta, tb])
    diff = L.Subtract()([ta, tb])
    prod = L.Multiply()([ta, tb])
    dot = L.Dot(axes=1, normalize=True)([ta, tb])
    head = keras.Sequential([L.Dense(3), L.Activation("softplus")], name="head")
    out1 = head(merged)
    out2 = L.Add()([diff, prod])
    out3 = L.Average()([L.Maximum()([ta, tb]), L.Minimum()([ta, tb])])
    rng = _rng(5)
    feeds = {"left": rng.normal(size=(3, 6)).astype("float32"), "right": rng.normal(size=(3, 6)).astype("float32")}
    return keras.Model([a, b], [out1, out2, out3, dot], name="siamese"), feeds


def attention_block() -> tuple[Any, dict[str, np.ndarray]]:
    inp = keras.Input((6, 8), name="tokens")
    ctx = keras.Input((5, 8), name="context")
    att, scores = L.MultiHeadAttention(2, 4, name="self_attention")(inp, inp, use_causal_mask=True, return_attention_scores=True)
    h = L.LayerNormalization()(L.Add()([inp, att]))
    cross = L.MultiHeadAttention(2, 3, value_dim=5, use_bias=False)(h, ctx)
    h = L.Add()([h, cross])
    ff = L.Dense(16, activation="silu")(h)
    ff = L.Dense(8)(ff)
    h = L.LayerNormalization(epsilon=1e-5)(L.Add()([h, ff]))
    luong = L.Attention(use_scale=True)([h, ctx])
    bahdanau = L.AdditiveAttention()([h, ctx])
    out = L.Concatenate()([luong, bahdanau])
    rng = _rng(6)
    feeds = {"tokens": rng.normal(size=(2, 6, 8)).astype("float32"), "context": rng.normal(size=(2, 5, 8)).astype("float32")}
    return keras.Model([inp, ctx], [out, scores], name="attention"), feeds


def normalizations() -> tuple[Any, dict[str, np.ndarray]]:
    inp = keras.Input((6, 8), name="x")
    h = L.LayerNormalization(axis=[1, 2])(inp)
    h = L.GroupNormalization(groups=4)(h)
    h = L.UnitNormalization()(h)
    h = L.BatchNormalization(axis=1)(h)
    h = L.RMSNormalization()(h)
    h = L.LayerNormalization(rms_scaling=True)(h)
    h = L.PReLU(shared_axes=[1])(h)
    out = L.ELU(0.5)(h)
    return keras.Model(inp, out, name="norms"), {"x": _rng(7).normal(size=(3, 6, 8)).astype("float32")}


def preprocessing() -> tuple[Any, dict[str, np.ndarray]]:
    inp = keras.Input((10, 12, 3), name="pixels")
    h = L.Rescaling(1 / 255.0, offset=-0.5)(inp)
    norm = L.Normalization()
    norm.adapt(_rng(8).normal(size=(16, 10, 12, 3)).astype("float32"))
    h = norm(h)
    h = L.Resizing(8, 8)(h)
    h = L.CenterCrop(6, 6)(h)
    h = L.Conv2D(4, 3)(h)
    out = L.GlobalMaxPooling2D()(h)
    return keras.Model(inp, out, name="preprocess"), {"pixels": _rng(9).uniform(0, 255, size=(2, 10, 12, 3)).astype("float32")}


def shapes_and_3d() -> tuple[Any, dict[str, np.ndarray]]:
    inp = keras.Input((4, 6, 6, 2), name="volume")
    h = L.Conv3D(3, 2, padding="same", activation="elu")(inp)
    h = L.MaxPooling3D(2)(h)
    h = L.UpSampling3D(2)(h)
    h = L.ZeroPadding3D(1)(h)
    h = L.Cropping3D(1)(h)
    h = L.Permute((4, 1, 2, 3))(h)
    h = L.Reshape((3, -1))(h)
    h = L.Dense(4)(h)
    h = L.RepeatVector(2)(L.Flatten()(h))
    h = L.UpSampling1D(2)(h)
    out = L.Softmax()(h)
    return keras.Model(inp, out, name="shapes3d"), {"volume": _rng(10).normal(size=(2, 4, 6, 6, 2)).astype("float32")}


def misc_layers() -> tuple[Any, dict[str, np.ndarray]]:
    inp = keras.Input((6, 8), name="x")
    g = L.GroupQueryAttention(head_dim=4, num_query_heads=4, num_key_value_heads=2)(inp, inp)
    e = L.EinsumDense("abc,cd->abd", output_shape=(None, 5), bias_axes="d", activation="relu")(g)
    e = L.GaussianNoise(0.3)(e)
    e = L.SpatialDropout1D(0.2)(e)
    e = L.ActivityRegularization(l1=0.01)(e)
    e = L.Identity()(e)
    e = L.Cropping1D((1, 2))(e)
    e = L.ZeroPadding1D(2)(e)
    e = L.AveragePooling1D(2)(e)
    e = L.MaxPooling1D(2, padding="same")(e)
    out = L.GlobalMaxPooling1D()(e)
    return keras.Model(inp, out, name="misc"), {"x": _rng(11).normal(size=(2, 6, 8)).astype("float32")}


MODELS: dict[str, Callable[[], tuple[Any, dict[str, np.ndarray]]]] = {
    "mlp": mlp,
    "sequential_mlp": sequential_mlp,
    "cnn": cnn,
    "depthwise_separable": depthwise_separable,
    "conv_transpose": conv_transpose,
    "lstm_masked_text": lstm_masked_text,
    "bidirectional_masked": bidirectional_masked,
    "rnn_states": rnn_states,
    "nested_shared": nested_shared,
    "attention_block": attention_block,
    "normalizations": normalizations,
    "preprocessing": preprocessing,
    "shapes_and_3d": shapes_and_3d,
    "misc_layers": misc_layers,
}


def build(name: str, seed: int = 0) -> tuple[Any, dict[str, np.ndarray]]:
    keras.utils.set_random_seed(seed)
    model, feeds = MODELS[name]()
    return randomise(model, seed), feeds


def predict(model: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """``model.predict`` on ``feeds`` (in the model's input order); outputs as a list in output order."""
    args = list(feeds.values())
    out = model.predict(args if len(args) > 1 else args[0], verbose=0, batch_size=len(args[0]))
    return [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]
