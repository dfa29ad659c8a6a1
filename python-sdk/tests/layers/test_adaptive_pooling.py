"""Adaptive{Average,Max}Pooling{1,2,3}D against Keras 3 (torch backend) and hand-derived windows."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from kif.layers import kernels
from kif.layers.registry import ShapeError, TensorType
from tests.layers.harness import assert_close, keras_output, run_layer

SIZES = {1: [(7, 3), (5, 5), (3, 5), (6, 1)], 2: [((5, 7), (3, 2)), ((4, 4), (2, 4)), ((3, 2), (5, 3))],
         3: [((4, 5, 3), (2, 3, 2)), ((3, 3, 3), (1, 2, 4))]}  # fmt: skip


def _cases() -> list[tuple[str, int, tuple[int, ...], tuple[int, ...], str]]:
    out = []
    for kind, n, fmt in itertools.product(("Average", "Max"), (1, 2, 3), ("channels_last", "channels_first")):
        for spatial, size in SIZES[n]:
            spatial, size = (spatial,) if n == 1 else spatial, (size,) if n == 1 else size
            out.append((kind, n, tuple(spatial), tuple(size), fmt))
    return out


@pytest.mark.parametrize(("kind", "n", "spatial", "size", "data_format"), _cases())
def test_adaptive_pooling_matches_keras(kind: str, n: int, spatial: tuple[int, ...], size: tuple[int, ...], data_format: str) -> None:
    import keras

    layer_type = f"Adaptive{kind}Pooling{n}D"
    shape = (2, *spatial, 3) if data_format == "channels_last" else (2, 3, *spatial)
    x = np.random.default_rng(len(spatial) * 7 + sum(size)).normal(size=shape).astype("float32")
    got = run_layer(layer_type, x, output_size=list(size), data_format=data_format)
    want = keras_output(getattr(keras.layers, layer_type)(size, data_format=data_format), x)
    assert_close(got, want, layer_type)


def test_windows_are_hand_derived() -> None:
    # n = 5, m = 3: [0, 2), [1, 4), [3, 5) (overlapping); n = 2, m = 3: [0, 1), [0, 2), [1, 2) (repeats).
    x = np.array([[[1.0], [2.0], [4.0], [8.0], [16.0]]], dtype="float32")
    avg = run_layer("AdaptiveAveragePooling1D", x, output_size=[3], data_format="channels_last")
    np.testing.assert_array_equal(avg[0, :, 0], np.float32([1.5, 14 / 3, 12.0]))
    mx = run_layer("AdaptiveMaxPooling1D", x, output_size=[3], data_format="channels_last")
    np.testing.assert_array_equal(mx[0, :, 0], [2.0, 8.0, 16.0])
    up = run_layer("AdaptiveAveragePooling1D", x[:, :2], output_size=[3], data_format="channels_last")
    np.testing.assert_array_equal(up[0, :, 0], [1.0, 1.5, 2.0])


def test_output_size_one_is_global_pooling_and_max_is_exact_for_integers() -> None:
    x = np.random.default_rng(0).normal(size=(2, 5, 6, 3)).astype("float32")
    got = run_layer("AdaptiveAveragePooling2D", x, output_size=[1, 1], data_format="channels_last")
    assert_close(got[:, 0, 0], x.astype(np.float64).mean(axis=(1, 2)), "AdaptiveAveragePooling2D")
    ints = np.random.default_rng(1).integers(-100, 100, size=(2, 7, 4), dtype=np.int32)
    got = run_layer("AdaptiveMaxPooling1D", ints, output_size=[2], data_format="channels_last")
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, np.stack([ints[:, 0:4].max(axis=1), ints[:, 3:7].max(axis=1)], axis=1))


def test_shape_rule() -> None:
    infer = kernels()["AdaptiveAveragePooling2D"].infer
    attrs = {"output_size": [3, 2], "data_format": "channels_first"}
    assert infer(attrs, [TensorType("float32", (None, 4, None, None))], {}) == [TensorType("float32", (None, 4, 3, 2))]
    with pytest.raises(ShapeError, match="floating"):
        infer(attrs, [TensorType("int32", (None, 4, 5, 5))], {})
    with pytest.raises(ShapeError, match="output_size of length 2"):
        infer({**attrs, "output_size": [3]}, [TensorType("float32", (None, 4, 5, 5))], {})
    with pytest.raises(ShapeError, match="non-empty"):
        infer(attrs, [TensorType("float32", (None, 4, 0, 5))], {})
