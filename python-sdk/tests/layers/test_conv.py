"""The convolution family against Keras 3 (torch backend) and against hand-derived values.

Keras-torch computes "same" padding and transposed-convolution crops with TensorFlow's rules
(spec/layers/Conv2D.md, Conv2DTranspose.md), so Keras is the oracle for every variant that
Keras accepts; the cases Keras or TensorFlow reject are pinned by hand-derived values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from kif.errors import KifError
from tests.layers.harness import assert_close, keras_output, run_layer

TUPLES = ("kernel_size", "strides", "dilation_rate", "output_padding")

# Weight roles in the order Keras creates the variables.
ROLES = {
    "Conv": ["kernel", "bias"],
    "Transpose": ["kernel", "bias"],
    "Depthwise": ["depthwise_kernel", "bias"],
    "Separable": ["depthwise_kernel", "pointwise_kernel", "bias"],
}


def _keras_class(kif_type: str) -> Any:
    import keras

    return getattr(keras.layers, kif_type)


def _family(kif_type: str) -> str:
    for prefix, family in (("Depthwise", "Depthwise"), ("Separable", "Separable")):
        if kif_type.startswith(prefix):
            return family
    return "Transpose" if kif_type.endswith("Transpose") else "Conv"


def _rank(kif_type: str) -> int:
    return int(next(ch for ch in kif_type if ch.isdigit()))


def _canonical(kif_type: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Keras arguments → KIF attributes: every tuple written out at full length."""
    rank = _rank(kif_type)
    out = dict(kwargs)
    for key in TUPLES:
        value = out.get(key)
        if isinstance(value, int):
            out[key] = [value] * rank
        elif isinstance(value, tuple):
            out[key] = list(value)
    return out


def _compare_with_keras(kif_type: str, input_shape: tuple[int, ...], seed: int = 0, **kwargs: Any) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=input_shape).astype("float32")
    layer = _keras_class(kif_type)(**kwargs)
    layer.build(input_shape)
    roles = ROLES[_family(kif_type)]
    if not kwargs.get("use_bias", True):
        roles = roles[:-1]
    weights = {}
    for role, variable in zip(roles, layer.weights, strict=True):
        value = rng.normal(size=tuple(variable.shape)).astype("float32")
        variable.assign(value)
        weights[role] = value
    expected = keras_output(layer, x)
    got = run_layer(kif_type, x, weights, **_canonical(kif_type, kwargs))
    assert_close(got, expected, kif_type)
    return got


CF = {"data_format": "channels_first"}

CONV_CASES = [
    ("Conv1D", (2, 9, 3), {"filters": 4, "kernel_size": 3}),
    ("Conv1D", (2, 9, 3), {"filters": 4, "kernel_size": 3, "padding": "same", "strides": 2}),
    ("Conv1D", (2, 9, 3), {"filters": 4, "kernel_size": 4, "padding": "same", "strides": 2}),  # even kernel, odd total
    ("Conv1D", (2, 10, 3), {"filters": 4, "kernel_size": 4, "padding": "same"}),
    ("Conv1D", (2, 9, 3), {"filters": 4, "kernel_size": 3, "padding": "causal", "dilation_rate": 2}),
    ("Conv1D", (2, 9, 3), {"filters": 4, "kernel_size": 2, "padding": "causal", "strides": 2}),
    ("Conv1D", (2, 11, 3), {"filters": 4, "kernel_size": 3, "padding": "same", "dilation_rate": 2}),
    ("Conv1D", (2, 10, 3), {"filters": 4, "kernel_size": 3, "strides": 3}),
    ("Conv1D", (2, 9, 6), {"filters": 4, "kernel_size": 3, "groups": 2, "padding": "same"}),
    ("Conv1D", (2, 3, 9), {"filters": 4, "kernel_size": 3, "padding": "causal", **CF}),
    ("Conv1D", (2, 3, 9), {"filters": 4, "kernel_size": 3, "activation": "softmax", **CF}),  # softmax over the last (time) axis
    ("Conv2D", (2, 7, 8, 3), {"filters": 5, "kernel_size": 3}),
    ("Conv2D", (2, 7, 8, 3), {"filters": 5, "kernel_size": 3, "padding": "same", "strides": 2}),
    ("Conv2D", (2, 7, 8, 3), {"filters": 5, "kernel_size": (4, 2), "padding": "same", "strides": 2}),
    ("Conv2D", (2, 8, 8, 3), {"filters": 5, "kernel_size": 2, "padding": "same"}),
    ("Conv2D", (2, 9, 8, 3), {"filters": 5, "kernel_size": 3, "padding": "same", "dilation_rate": (2, 3)}),
    ("Conv2D", (2, 9, 8, 3), {"filters": 5, "kernel_size": 3, "dilation_rate": 2}),
    ("Conv2D", (2, 7, 8, 3), {"filters": 5, "kernel_size": 3, "strides": (2, 1), "use_bias": False, "activation": "relu"}),
    ("Conv2D", (2, 6, 7, 6), {"filters": 9, "kernel_size": 3, "groups": 3, "padding": "same", "strides": 2}),
    ("Conv2D", (2, 3, 7, 8), {"filters": 5, "kernel_size": 3, "padding": "same", "strides": 2, **CF}),
    ("Conv2D", (2, 4, 7, 8), {"filters": 6, "kernel_size": (2, 3), "groups": 2, "activation": "tanh", **CF}),
    ("Conv3D", (2, 5, 6, 4, 2), {"filters": 3, "kernel_size": 3}),
    ("Conv3D", (2, 5, 6, 7, 2), {"filters": 3, "kernel_size": (2, 3, 4), "padding": "same", "strides": 2}),
    ("Conv3D", (2, 6, 6, 6, 2), {"filters": 3, "kernel_size": 2, "padding": "same", "dilation_rate": 2}),
    ("Conv3D", (2, 4, 5, 6, 5), {"filters": 4, "kernel_size": 3, "groups": 2, "padding": "same", **CF}),
]

TRANSPOSE_CASES = [
    ("Conv1DTranspose", (2, 5, 3), {"filters": 4, "kernel_size": 3}),
    ("Conv1DTranspose", (2, 5, 3), {"filters": 4, "kernel_size": 3, "strides": 2}),
    ("Conv1DTranspose", (2, 5, 3), {"filters": 4, "kernel_size": 2, "strides": 3}),  # kernel < stride: trailing bias-only cells
    ("Conv1DTranspose", (2, 5, 3), {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"}),
    ("Conv1DTranspose", (2, 5, 3), {"filters": 4, "kernel_size": 4, "strides": 2, "padding": "same"}),
    ("Conv1DTranspose", (2, 5, 3), {"filters": 4, "kernel_size": 5, "strides": 3, "padding": "same"}),
    ("Conv1DTranspose", (2, 5, 3), {"filters": 4, "kernel_size": 3, "strides": 2, "output_padding": 1}),
    ("Conv1DTranspose", (2, 5, 3), {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same", "output_padding": 0}),
    ("Conv1DTranspose", (2, 5, 3), {"filters": 4, "kernel_size": 3, "strides": 3, "padding": "same", "output_padding": 2}),
    ("Conv1DTranspose", (2, 5, 3), {"filters": 4, "kernel_size": 3, "dilation_rate": 2, "padding": "same"}),
    ("Conv1DTranspose", (2, 3, 5), {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same", **CF}),
    ("Conv2DTranspose", (2, 4, 5, 3), {"filters": 4, "kernel_size": 3}),
    ("Conv2DTranspose", (2, 4, 5, 3), {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"}),
    ("Conv2DTranspose", (2, 4, 5, 3), {"filters": 4, "kernel_size": (4, 2), "strides": 2, "padding": "same"}),
    ("Conv2DTranspose", (2, 4, 5, 3), {"filters": 4, "kernel_size": 3, "strides": (2, 3), "output_padding": (1, 2)}),
    ("Conv2DTranspose", (2, 4, 5, 3), {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same", "output_padding": 1}),
    ("Conv2DTranspose", (2, 4, 5, 3), {"filters": 4, "kernel_size": 3, "dilation_rate": 2}),
    ("Conv2DTranspose", (2, 3, 4, 5), {"filters": 4, "kernel_size": 3, "strides": 2, "activation": "relu", "use_bias": False, **CF}),
    ("Conv3DTranspose", (2, 3, 4, 3, 2), {"filters": 3, "kernel_size": 3}),
    ("Conv3DTranspose", (2, 3, 4, 3, 2), {"filters": 3, "kernel_size": (2, 3, 4), "strides": 2, "padding": "same"}),
    ("Conv3DTranspose", (2, 2, 3, 4, 3), {"filters": 3, "kernel_size": 3, "strides": 2, "output_padding": 1, **CF}),
]

DEPTHWISE_CASES = [
    ("DepthwiseConv1D", (2, 9, 3), {"kernel_size": 3}),
    ("DepthwiseConv1D", (2, 9, 3), {"kernel_size": 4, "padding": "same", "strides": 2, "depth_multiplier": 2}),
    ("DepthwiseConv1D", (2, 9, 3), {"kernel_size": 3, "padding": "same", "dilation_rate": 2}),
    ("DepthwiseConv1D", (2, 3, 9), {"kernel_size": 3, "depth_multiplier": 3, **CF}),
    ("DepthwiseConv2D", (2, 7, 8, 3), {"kernel_size": 3}),
    ("DepthwiseConv2D", (2, 7, 8, 3), {"kernel_size": 3, "padding": "same", "strides": 2, "depth_multiplier": 2}),
    ("DepthwiseConv2D", (2, 8, 8, 3), {"kernel_size": (2, 4), "padding": "same", "activation": "relu6"}),
    ("DepthwiseConv2D", (2, 9, 8, 3), {"kernel_size": 3, "padding": "same", "dilation_rate": 2}),
    ("DepthwiseConv2D", (2, 9, 8, 3), {"kernel_size": 3, "strides": 2, "dilation_rate": 2}),  # both: accepted by Keras here
    ("DepthwiseConv2D", (2, 3, 7, 8), {"kernel_size": 3, "padding": "same", "strides": 2, "depth_multiplier": 2, "use_bias": False, **CF}),
    ("SeparableConv1D", (2, 9, 3), {"filters": 4, "kernel_size": 3}),
    ("SeparableConv1D", (2, 9, 3), {"filters": 4, "kernel_size": 4, "padding": "same", "strides": 2, "depth_multiplier": 2}),
    ("SeparableConv1D", (2, 3, 9), {"filters": 4, "kernel_size": 3, "dilation_rate": 2, "padding": "same", **CF}),
    ("SeparableConv2D", (2, 7, 8, 3), {"filters": 5, "kernel_size": 3}),
    ("SeparableConv2D", (2, 7, 8, 3), {"filters": 5, "kernel_size": 3, "padding": "same", "strides": 2, "depth_multiplier": 2}),
    ("SeparableConv2D", (2, 9, 8, 3), {"filters": 5, "kernel_size": (2, 3), "padding": "same", "dilation_rate": 2, "activation": "elu"}),
    ("SeparableConv2D", (2, 3, 7, 8), {"filters": 5, "kernel_size": 3, "strides": 2, "use_bias": False, **CF}),
]


def _id(case: tuple[str, tuple[int, ...], dict[str, Any]]) -> str:
    kif_type, shape, kwargs = case
    return f"{kif_type}-{'x'.join(map(str, shape))}-" + ",".join(f"{k}={v}" for k, v in kwargs.items())


@pytest.mark.parametrize("case", CONV_CASES + TRANSPOSE_CASES + DEPTHWISE_CASES, ids=_id)
def test_matches_keras(case: tuple[str, tuple[int, ...], dict[str, Any]]) -> None:
    kif_type, shape, kwargs = case
    _compare_with_keras(kif_type, shape, **kwargs)


def test_conv1d_grid_matches_keras() -> None:
    """Every padding x kernel x stride x dilation on a length-11 input (Keras rejects stride > 1 with dilation > 1)."""
    for padding in ("valid", "same", "causal"):
        for kernel in (1, 2, 3, 4):
            for stride, dilation in ((1, 1), (2, 1), (3, 1), (1, 2), (1, 3)):
                _compare_with_keras(
                    "Conv1D", (2, 11, 2), filters=3, kernel_size=kernel, strides=stride, dilation_rate=dilation, padding=padding
                )


def test_conv1d_transpose_grid_matches_keras() -> None:
    """Every padding x kernel x stride x output_padding on a length-4 input."""
    for padding in ("valid", "same"):
        for kernel in (1, 2, 3, 4, 5):
            for stride in (1, 2, 3):
                for output_padding in (None, *range(stride)):
                    _compare_with_keras(
                        "Conv1DTranspose",
                        (2, 4, 2),
                        filters=3,
                        kernel_size=kernel,
                        strides=stride,
                        padding=padding,
                        output_padding=output_padding,
                    )


# ---------------------------------------------------------------- hand-derived values (TensorFlow's rules)


def _ramp(n: int) -> np.ndarray:
    return np.arange(1, n + 1, dtype="float32").reshape(1, n, 1)


def _taps(*values: float) -> np.ndarray:
    return np.array(values, dtype="float32").reshape(len(values), 1, 1)


def test_same_padding_puts_the_odd_cell_at_the_end() -> None:
    # n=5, k=4, s=2: output ceil(5/2)=3, total padding (3-1)*2+4-5 = 3 -> 1 before, 2 after.
    # Padded input: [0, 1, 2, 3, 4, 5, 0, 0]; windows start at 0, 2, 4.
    k = _taps(1, 10, 100, 1000)
    got = run_layer("Conv1D", _ramp(5), {"kernel": k}, filters=1, kernel_size=[4], strides=[2], padding="same", use_bias=False)
    expected = [0 + 10 * 1 + 100 * 2 + 1000 * 3, 2 + 10 * 3 + 100 * 4 + 1000 * 5, 4 + 10 * 5 + 0 + 0]
    np.testing.assert_array_equal(got[0, :, 0], expected)


def test_same_padding_even_kernel_stride_one() -> None:
    # n=4, k=2, s=1: total 1 -> 0 before, 1 after: y[i] = x[i] + 10 x[i+1].
    got = run_layer("Conv1D", _ramp(4), {"kernel": _taps(1, 10)}, filters=1, kernel_size=[2], padding="same", use_bias=False)
    np.testing.assert_array_equal(got[0, :, 0], [21, 32, 43, 4])


def test_causal_padding_looks_only_backwards() -> None:
    # k=2, d=2: (2-1)*2 = 2 zeros before: y[t] = x[t-2] + 10 x[t].
    got = run_layer(
        "Conv1D", _ramp(4), {"kernel": _taps(1, 10)}, filters=1, kernel_size=[2], dilation_rate=[2], padding="causal", use_bias=False
    )
    np.testing.assert_array_equal(got[0, :, 0], [10, 20, 31, 42])


def test_groups_split_channels_in_order() -> None:
    # 4 input channels, 2 groups, 2 filters: filter 0 reads channels 0-1, filter 1 reads channels 2-3.
    x = np.array([[[1.0, 2.0, 3.0, 4.0]]], dtype="float32")
    kernel = np.array([[[1.0, 100.0], [10.0, 1000.0]]], dtype="float32")  # [k=1, in/groups=2, filters=2]
    got = run_layer("Conv1D", x, {"kernel": kernel}, filters=2, kernel_size=[1], groups=2, use_bias=False)
    np.testing.assert_array_equal(got[0, 0], [1 + 20, 300 + 4000])


def test_stride_with_dilation_follows_the_general_formula() -> None:
    # Keras layers reject strides > 1 with dilation_rate > 1; KIF defines it by the same formula.
    # n=7, k=2, d=3, s=2, same: out 4, total max(3*2+4-7, 0)=3 -> 1 before, 2 after.
    # Padded: [0, 1..7, 0, 0] (index p holds x[p-1]); y[o] = xp[2o] + 10 xp[2o+3].
    got = run_layer(
        "Conv1D",
        _ramp(7),
        {"kernel": _taps(1, 10)},
        filters=1,
        kernel_size=[2],
        strides=[2],
        dilation_rate=[3],
        padding="same",
        use_bias=False,
    )
    np.testing.assert_array_equal(got[0, :, 0], [0 + 30, 2 + 50, 4 + 70, 6 + 0])


def test_stride_with_dilation_matches_keras_ops() -> None:
    import keras

    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 11, 10, 3)).astype("float32")
    kernel = rng.normal(size=(3, 2, 3, 4)).astype("float32")
    for padding in ("valid", "same"):
        expected = keras.ops.convert_to_numpy(keras.ops.conv(x, kernel, strides=2, padding=padding, dilation_rate=2))
        got = run_layer(
            "Conv2D",
            x,
            {"kernel": kernel},
            filters=4,
            kernel_size=[3, 2],
            strides=[2, 2],
            dilation_rate=[2, 2],
            padding=padding,
            use_bias=False,
        )
        assert_close(got, expected, "Conv2D")


@pytest.mark.parametrize(
    ("padding", "output_padding", "kernel", "stride", "expected_length"),
    [
        ("valid", None, 3, 2, (5 - 1) * 2 + 3),
        ("valid", None, 2, 3, 5 * 3),  # (n-1)*s + max(k, s)
        ("valid", [1], 3, 2, (5 - 1) * 2 + 3 + 1),
        ("same", None, 3, 2, 5 * 2),
        ("same", None, 4, 2, 5 * 2),
        ("same", [1], 3, 2, (5 - 1) * 2 + 1 + 1),
        ("same", [0], 4, 2, (5 - 1) * 2 + 0 + 0),
    ],
)
def test_transpose_output_length(padding: str, output_padding: list[int] | None, kernel: int, stride: int, expected_length: int) -> None:
    x = np.ones((1, 5, 1), dtype="float32")
    k = np.ones((kernel, 1, 1), dtype="float32")
    got = run_layer(
        "Conv1DTranspose",
        x,
        {"kernel": k},
        filters=1,
        kernel_size=[kernel],
        strides=[stride],
        padding=padding,
        output_padding=output_padding,
        use_bias=False,
    )
    assert got.shape == (1, expected_length, 1)


def test_transpose_same_crops_like_tensorflow() -> None:
    # n=3, k=3, s=2, same: length 6; full output (n-1)*s+k = 7 cells, pad_before = max(7-6, 0)//2 = 0.
    # full[i*2 + t] += x[i] * k[t]: x=[1,2,3], k=[1,10,100]:
    # full = [1, 10, 100+2, 20, 200+3, 30, 300] -> cells 0..5.
    got = run_layer(
        "Conv1DTranspose", _ramp(3), {"kernel": _taps(1, 10, 100)}, filters=1, kernel_size=[3], strides=[2], padding="same", use_bias=False
    )
    np.testing.assert_array_equal(got[0, :, 0], [1, 10, 102, 20, 203, 30])


def test_transpose_same_even_kernel_without_output_padding() -> None:
    # TensorFlow rejects this shape (its forward "same" conv of length 4 would give 2 cells, not 3);
    # KIF defines it by the general rule: n=3, k=2, s=2, op=0 -> length (3-1)*2+0+0 = 4,
    # pad_before = max((3-1)*2+2-4, 0)//2 = 1. full = [1, 10, 2, 20, 3, 30] -> cells 1..4.
    got = run_layer(
        "Conv1DTranspose",
        _ramp(3),
        {"kernel": _taps(1, 10)},
        filters=1,
        kernel_size=[2],
        strides=[2],
        padding="same",
        output_padding=[0],
        use_bias=False,
    )
    np.testing.assert_array_equal(got[0, :, 0], [10, 2, 20, 3])


def test_transpose_stride_with_dilation_follows_the_general_formula() -> None:
    # Keras rejects strides > 1 with dilation_rate > 1. n=2, k=2, d=2 (ke=3), s=3, valid: length (2-1)*3 + max(3, 3) = 6;
    # x[i] * k[t] lands on cell 3i + 2t: x=[1,2], k=[1,10] -> [1, 0, 10, 2, 0, 20].
    got = run_layer(
        "Conv1DTranspose", _ramp(2), {"kernel": _taps(1, 10)}, filters=1, kernel_size=[2], strides=[3], dilation_rate=[2], use_bias=False
    )
    np.testing.assert_array_equal(got[0, :, 0], [1, 0, 10, 2, 0, 20])


def test_transpose_kernel_layout_is_filters_then_input() -> None:
    # kernel [k=1, filters=2, in=3]: y[f] = sum_c x[c] * kernel[0, f, c].
    x = np.array([[[1.0, 2.0, 3.0]]], dtype="float32")
    kernel = np.array([[[1.0, 10.0, 100.0], [-1.0, 0.0, 1.0]]], dtype="float32")
    got = run_layer("Conv1DTranspose", x, {"kernel": kernel}, filters=2, kernel_size=[1], use_bias=False)
    np.testing.assert_array_equal(got[0, 0], [321.0, 2.0])


def test_depthwise_output_channel_order() -> None:
    # Channel c with multiplier j lands on c * m + j.
    x = np.array([[[1.0, 2.0]]], dtype="float32")
    kernel = np.array([[[1.0, 10.0, 100.0], [-1.0, -10.0, -100.0]]], dtype="float32")  # [k=1, in=2, m=3]
    got = run_layer("DepthwiseConv1D", x, {"depthwise_kernel": kernel}, kernel_size=[1], depth_multiplier=3, use_bias=False)
    np.testing.assert_array_equal(got[0, 0], [1, 10, 100, -2, -20, -200])


@pytest.mark.parametrize("dtype", ["float16", "float64"])
def test_dtype_follows_the_input(dtype: str) -> None:
    import keras

    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 6, 7, 3))
    layer = keras.layers.Conv2D(4, 3, padding="same", strides=2)
    layer.build(x.shape)
    kernel = rng.normal(size=(3, 3, 3, 4)).astype("float32")
    bias = rng.normal(size=4).astype("float32")
    layer.kernel.assign(kernel)
    layer.bias.assign(bias)
    expected = keras_output(layer, x.astype("float32"))
    got = run_layer(
        "Conv2D", x.astype(dtype), {"kernel": kernel, "bias": bias}, filters=4, kernel_size=[3, 3], strides=[2, 2], padding="same"
    )
    assert got.dtype == np.dtype(dtype)
    assert_close(got, expected, "Conv2D", "float16" if dtype == "float16" else "float32")


def test_batch_of_zero() -> None:
    x = np.zeros((0, 5, 5, 2), dtype="float32")
    kernel = np.ones((3, 3, 2, 4), dtype="float32")
    got = run_layer("Conv2D", x, {"kernel": kernel}, filters=4, kernel_size=[3, 3], use_bias=False)
    assert got.shape == (0, 3, 3, 4)


# ---------------------------------------------------------------- shape-rule rejections


def _rejects(match: str, layer_type: str, x: np.ndarray, weights: dict[str, np.ndarray], **attrs: Any) -> None:
    with pytest.raises(KifError, match=match):
        run_layer(layer_type, x, weights, **attrs)


def test_rejects_empty_valid_output() -> None:
    _rejects(
        "output spatial size >= 1",
        "Conv1D",
        np.ones((1, 2, 1), "float32"),
        {"kernel": np.ones((3, 1, 1), "float32")},
        filters=1,
        kernel_size=[3],
        use_bias=False,
    )


def test_rejects_kernel_of_wrong_shape() -> None:
    _rejects(
        "expected kernel of shape",
        "Conv2D",
        np.ones((1, 5, 5, 4), "float32"),
        {"kernel": np.ones((3, 3, 4, 6), "float32")},
        filters=6,
        kernel_size=[3, 3],
        groups=2,
        use_bias=False,
    )


def test_rejects_output_padding_not_below_stride() -> None:
    _rejects(
        "output_padding < strides",
        "Conv1DTranspose",
        np.ones((1, 4, 1), "float32"),
        {"kernel": np.ones((3, 1, 1), "float32")},
        filters=1,
        kernel_size=[3],
        strides=[2],
        output_padding=[2],
        use_bias=False,
    )


def test_rejects_wrong_rank() -> None:
    _rejects(
        "expected input of rank 4",
        "Conv2D",
        np.ones((1, 5, 4), "float32"),
        {"kernel": np.ones((3, 3, 4, 2), "float32")},
        filters=2,
        kernel_size=[3, 3],
        use_bias=False,
    )
