"""Add and Concatenate against Keras 3."""

from __future__ import annotations

import numpy as np
import pytest

from tests.layers.harness import assert_close, keras_output, run_layer


@pytest.mark.parametrize("count", [2, 3])
def test_add_matches_keras(count: int) -> None:
    import keras

    rng = np.random.default_rng(1)
    xs = [rng.normal(size=(2, 3, 4)).astype("float32") for _ in range(count)]
    assert_close(run_layer("Add", xs), keras_output(keras.layers.Add(), xs), "Add")


@pytest.mark.parametrize("axis", [-1, 1, 2])
def test_concatenate_matches_keras(axis: int) -> None:
    import keras

    rng = np.random.default_rng(2)
    shapes = [(2, 3, 4), (2, 3, 4)]
    xs = [rng.normal(size=s).astype("float32") for s in shapes]
    assert_close(run_layer("Concatenate", xs, axis=axis), keras_output(keras.layers.Concatenate(axis=axis), xs), "Concatenate")


def test_concatenate_rejects_mismatched_shapes_in_validation() -> None:
    import kif
    from kif.errors import GraphError

    b = kif.GraphBuilder("bad")
    a = b.input("a", "float32", (None, 3, 4))
    c = b.input("c", "float32", (None, 5, 4))
    with pytest.raises(GraphError, match="concatenation axis"):
        out = b.add("Concatenate", [a, c], axis=-1)
        b.output(out)
        b.build()


def test_add_broadcasts_like_keras() -> None:
    import keras

    rng = np.random.default_rng(4)
    xs = [rng.normal(size=(2, 3, 4)).astype("float32"), rng.normal(size=(2, 1, 4)).astype("float32")]
    assert_close(run_layer("Add", xs), keras_output(keras.layers.Add(), xs), "Add")
