"""Subtract, Multiply, Average, Maximum, Minimum and Dot against Keras 3 (torch backend)."""

from __future__ import annotations

import numpy as np
import pytest

from kif.layers.merge_more import Dot, Multiply
from kif.layers.registry import ShapeError, TensorType
from tests.layers.harness import assert_close, keras_output, run_layer


def _arrays(*shapes: tuple[int, ...], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s).astype("float32") for s in shapes]


ELEMENTWISE = ["Subtract", "Multiply", "Average", "Maximum", "Minimum"]


@pytest.mark.parametrize(("layer_type", "count"), [(t, c) for t in ELEMENTWISE for c in (2, 3) if not (t == "Subtract" and c == 3)])
def test_elementwise_merge_matches_keras(layer_type: str, count: int) -> None:
    import keras

    xs = _arrays(*[(3, 4, 5)] * count)
    expected = keras_output(getattr(keras.layers, layer_type)(), xs)
    assert_close(run_layer(layer_type, xs), expected, layer_type)


@pytest.mark.parametrize("layer_type", ELEMENTWISE)
def test_elementwise_merge_broadcasts_like_keras(layer_type: str) -> None:
    import keras

    # A lower-rank input gains axes after the batch axis; a size-1 axis stretches.
    xs = _arrays((3, 5), (3, 4, 1), seed=1)
    expected = keras_output(getattr(keras.layers, layer_type)(), xs)
    got = run_layer(layer_type, xs)
    assert got.shape == (3, 4, 5)
    assert_close(got, expected, layer_type)


def test_average_hand_derived() -> None:
    xs = [np.full((1, 2), v, dtype="float32") for v in (1.0, 2.0, 6.0)]
    np.testing.assert_array_equal(run_layer("Average", xs), [[3.0, 3.0]])


def test_elementwise_shape_rule_rejects_mismatch() -> None:
    a, b = TensorType("float32", (None, 3)), TensorType("float32", (None, 4))
    with pytest.raises(ShapeError, match="broadcast"):
        Multiply.infer({}, [a, b], {})
    with pytest.raises(ShapeError, match="batch"):
        Multiply.infer({}, [TensorType("float32", (2, 3)), TensorType("float32", (5, 3))], {})


DOT_CASES = [
    ((4, 6), (4, 6), [1, 1]),
    ((4, 6), (4, 6), [-1, -1]),
    ((2, 3, 5), (2, 7, 3), [1, 2]),
    ((2, 3, 5), (2, 5, 7), [2, 1]),
    ((2, 3, 5), (2, 5), [2, 1]),
    ((2, 5), (2, 3, 5), [1, 2]),
    ((2, 3, 4, 5), (2, 5, 6), [3, 1]),
]


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("case", DOT_CASES)
def test_dot_matches_keras(case: tuple[tuple[int, ...], tuple[int, ...], list[int]], normalize: bool) -> None:
    import keras

    shape_x, shape_y, axes = case
    xs = _arrays(shape_x, shape_y, seed=2)
    expected = keras_output(keras.layers.Dot(axes=tuple(axes), normalize=normalize), xs)
    got = run_layer("Dot", xs, axes=axes, normalize=normalize)
    assert_close(got, expected, "Dot")


def test_dot_normalize_keeps_zero_vectors_zero() -> None:
    x = np.zeros((1, 3), dtype="float32")
    y = np.array([[1.0, 2.0, 2.0]], dtype="float32")
    np.testing.assert_array_equal(run_layer("Dot", [x, y], axes=[1, 1], normalize=True), [[0.0]])
    assert_close(run_layer("Dot", [y, y], axes=[1, 1], normalize=True), [[1.0]], "Dot")


def test_dot_shape_rule() -> None:
    x, y = TensorType("float32", (None, 3, 5)), TensorType("float32", (None, 7, 3))
    assert Dot.infer({"axes": [1, 2], "normalize": False}, [x, y], {})[0].shape == (None, 5, 7)
    with pytest.raises(ShapeError, match="batch axis"):
        Dot.infer({"axes": [0, 0], "normalize": False}, [x, y], {})
    with pytest.raises(ShapeError, match="equal sizes"):
        Dot.infer({"axes": [2, 2], "normalize": False}, [x, y], {})
