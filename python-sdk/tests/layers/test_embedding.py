"""Embedding against Keras 3 (torch backend): lookup, mask_zero's second output, id range and dtype rules."""

from __future__ import annotations

import numpy as np
import pytest

import kif
from tests.layers.harness import keras_output, run_layer


def _keras_embedding(input_dim: int, output_dim: int, mask_zero: bool = False) -> tuple[object, np.ndarray]:
    import keras

    layer = keras.layers.Embedding(input_dim, output_dim, mask_zero=mask_zero)
    layer.build()
    table = np.random.default_rng(0).normal(size=(input_dim, output_dim)).astype("float32")
    layer.embeddings.assign(table)
    return layer, table


@pytest.mark.parametrize("dtype", ["int32", "int64", "int16", "uint8"])
@pytest.mark.parametrize("shape", [(4,), (3, 5), (2, 3, 4)])
def test_embedding_matches_keras(dtype: str, shape: tuple[int, ...]) -> None:
    layer, table = _keras_embedding(11, 6)
    ids = np.random.default_rng(1).integers(0, 11, size=shape).astype(dtype)
    got = run_layer("Embedding", ids, {"embeddings": table}, input_dim=11, output_dim=6)
    assert got.dtype == np.float32 and got.shape == (*shape, 6)
    np.testing.assert_array_equal(got, keras_output(layer, ids.astype("int32")))  # a gather is exact


def test_embedding_mask_zero_has_a_second_output_the_mask() -> None:
    import keras

    layer, table = _keras_embedding(9, 4, mask_zero=True)
    ids = np.array([[3, 1, 0, 0], [0, 8, 2, 0]], dtype="int32")
    values, mask = run_layer("Embedding", ids, {"embeddings": table}, num_outputs=2, input_dim=9, output_dim=4, mask_zero=True)
    np.testing.assert_array_equal(values, keras_output(layer, ids))  # row 0 is looked up like any other
    assert mask.dtype == np.bool_
    np.testing.assert_array_equal(mask, keras.ops.convert_to_numpy(layer.compute_mask(ids)))
    np.testing.assert_array_equal(mask, ids != 0)


@pytest.mark.parametrize("bad", [9, 100, -1])
def test_embedding_rejects_out_of_range_ids_naming_the_layer(bad: int) -> None:
    table = np.zeros((9, 4), dtype="float32")
    ids = np.array([[1, 2, bad]], dtype="int32")
    with pytest.raises(kif.KifError, match=r"'layer'.*expected ids in \[0, 9\)") as info:
        run_layer("Embedding", ids, {"embeddings": table}, input_dim=9, output_dim=4)
    assert info.value.pointer == "layer"


def test_embedding_rejects_floating_ids() -> None:
    with pytest.raises(kif.KifError, match="expected integer ids"):
        run_layer(
            "Embedding", np.array([[1.0, 2.0]], dtype="float32"), {"embeddings": np.zeros((3, 2), "float32")}, input_dim=3, output_dim=2
        )


def test_embedding_table_shape_must_match_attributes() -> None:
    with pytest.raises(kif.KifError, match=r"expected embeddings of shape \[3, 2\]"):
        run_layer("Embedding", np.array([[1, 2]], dtype="int32"), {"embeddings": np.zeros((4, 2), "float32")}, input_dim=3, output_dim=2)


def test_embedding_hand_derived_rows() -> None:
    table = np.arange(12, dtype="float32").reshape(4, 3)
    got = run_layer("Embedding", np.array([[3, 0], [1, 1]], dtype="int64"), {"embeddings": table}, input_dim=4, output_dim=3)
    np.testing.assert_array_equal(got, [[[9, 10, 11], [0, 1, 2]], [[3, 4, 5], [3, 4, 5]]])
