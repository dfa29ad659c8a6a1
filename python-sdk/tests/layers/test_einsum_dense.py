"""EinsumDense against Keras 3 (torch backend): the three equation forms, bias layouts, activation."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kif
from kif.shapes import infer
from tests.layers.harness import assert_close, keras_output, run_layer

CASES = [
    # equation, input shape, Keras output_shape, bias_axes, KIF output_shape
    ("ab,bc->ac", (3, 5), 6, None, [6]),
    ("abc,cd->abd", (2, 4, 5), (None, 6), None, [None, 6]),
    ("abc,cde->abde", (2, 4, 5), (None, 2, 3), None, [None, 2, 3]),
    ("...b,bc->...c", (2, 3, 4, 5), 6, None, [6]),
    ("ab...,bc->ac...", (2, 5, 3), 6, None, [6]),
    ("ab,bc->ac", (3, 5), 6, "c", [6]),
    ("abc,cd->abd", (2, 4, 5), (4, 6), "d", [4, 6]),
    ("abc,cde->abde", (2, 4, 5), (None, 2, 3), "de", [None, 2, 3]),
    ("abc,cde->abde", (2, 4, 5), (None, 2, 3), "e", [None, 2, 3]),
    ("abc,cde->abde", (2, 4, 5), (4, 2, 3), "be", [4, 2, 3]),
    ("...b,bc->...c", (2, 3, 5), 6, "c", [6]),
    ("ab...,bc->ac...", (2, 5, 3), 6, "c", [6]),
    ("abcd,cde->abe", (2, 3, 4, 5), (3, 6), "e", [3, 6]),
]


def _keras_layer(
    equation: str, shape: tuple[int, ...], output_shape: Any, bias_axes: str | None, activation: str
) -> tuple[Any, dict[str, np.ndarray]]:
    import keras

    layer = keras.layers.EinsumDense(equation, output_shape=output_shape, bias_axes=bias_axes, activation=activation)
    layer.build(shape)
    rng = np.random.default_rng(0)
    weights = {"kernel": keras.ops.convert_to_numpy(layer.kernel)}
    if bias_axes is not None:
        layer.bias.assign(rng.normal(size=tuple(layer.bias.shape)).astype("float32"))
        weights["bias"] = keras.ops.convert_to_numpy(layer.bias)
    return layer, weights


@pytest.mark.parametrize(("equation", "shape", "keras_shape", "bias_axes", "output_shape"), CASES)
def test_einsum_dense_matches_keras(
    equation: str, shape: tuple[int, ...], keras_shape: Any, bias_axes: str | None, output_shape: list[int | None]
) -> None:
    x = np.random.default_rng(1).normal(size=shape).astype("float32")
    layer, weights = _keras_layer(equation, shape, keras_shape, bias_axes, "linear")
    expected = keras_output(layer, x)
    attrs = {"equation": equation, "output_shape": output_shape, "bias_axes": bias_axes}
    got = run_layer("EinsumDense", x, weights, **attrs)
    assert_close(got, expected, "EinsumDense")


def test_einsum_dense_activation_and_bias_hand_derived() -> None:
    x = np.array([[1.0, 2.0]], dtype="float32")
    kernel = np.array([[1.0, -1.0], [1.0, -1.0]], dtype="float32")  # 'ab,bc->ac': [3, -3]
    got = run_layer(
        "EinsumDense",
        [x],
        {"kernel": kernel, "bias": np.array([1.0, 1.0], "float32")},
        equation="ab,bc->ac",
        output_shape=[2],
        bias_axes="c",
        activation="relu",
    )
    np.testing.assert_array_equal(got, [[4.0, 0.0]])


def test_einsum_dense_with_activation_matches_keras() -> None:
    x = np.random.default_rng(2).normal(size=(2, 4, 5)).astype("float32")
    layer, weights = _keras_layer("abc,cd->abd", x.shape, (None, 6), None, "gelu")
    got = run_layer("EinsumDense", x, weights, equation="abc,cd->abd", output_shape=[None, 6], activation="gelu")
    assert_close(got, keras_output(layer, x), "EinsumDense")


@pytest.mark.parametrize(
    ("attrs", "kernel_shape", "message"),
    [
        ({"equation": "abc,cd->abd", "output_shape": [None, 7]}, (5, 6), "disagrees"),
        ({"equation": "abc,cd->abd", "output_shape": [6]}, (5, 6), "output_shape of length 2"),
        ({"equation": "ab,bc->ac", "output_shape": [6]}, (5, 6), "rank 2"),
        ({"equation": "abc,cd->abd", "output_shape": [None, 6]}, (4, 6), "kernel axis 'c'"),
    ],
)
def test_einsum_dense_shape_errors(attrs: dict[str, Any], kernel_shape: tuple[int, ...], message: str) -> None:
    b = kif.GraphBuilder("m")
    i = b.input("x", "float32", (None, 4, 5))
    b.output(b.add("EinsumDense", i, weights={"kernel": np.zeros(kernel_shape, "float32")}, **attrs), dtype="float32", shape=(None, 4, 6))
    model = b.build()
    with pytest.raises(kif.KifError, match=message):  # the shape rule runs in shape inference
        infer(model.inputs, model.layers, {n: tuple(a.shape) for n, a in model.weights.items()})


def test_einsum_dense_schema_rejects_other_equation_forms() -> None:
    b = kif.GraphBuilder("m")
    i = b.input("x", "float32", (None, 4, 5))
    b.output(b.add("EinsumDense", i, weights={"kernel": np.zeros((5, 6), "float32")}, equation="abc,cd->abd", output_shape=[None, 6]))
    model = b.build()
    model.layers[0].attributes["equation"] = "abc,cd"  # not an einsum of Keras's three forms
    with tempfile.TemporaryDirectory() as tmp:
        kif.save(model, Path(tmp) / "m.kif", check=False)  # invalid on purpose
        report = kif.validate(Path(tmp) / "m.kif")
    assert any(f.code == "layer-attribute-invalid" for f in report.findings)
