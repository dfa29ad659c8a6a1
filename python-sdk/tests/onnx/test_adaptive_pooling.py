"""Adaptive{Average,Max}Pooling{1,2,3}D through the ONNX exporter and ONNX Runtime, against Keras."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras

from kif.errors import KifError
from tests.onnx.helpers import one_layer, run_onnx, tolerance

CASES = [(1, (7,), (3,)), (1, (3,), (5,)), (2, (5, 7), (3, 2)), (2, (4, 4), (2, 4)), (3, (4, 5, 3), (2, 3, 2))]


@pytest.mark.parametrize("kind", ["Average", "Max"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize(("n", "spatial", "size"), CASES)
def test_adaptive_pooling_through_onnx_matches_keras(
    kind: str, data_format: str, n: int, spatial: tuple[int, ...], size: tuple[int, ...], tmp_path: Path
) -> None:
    layer_type = f"Adaptive{kind}Pooling{n}D"
    shape = (2, *spatial, 3) if data_format == "channels_last" else (2, 3, *spatial)
    x = np.random.default_rng(sum(spatial)).normal(size=shape).astype("float32")
    model = one_layer(layer_type, [x], output_size=list(size), data_format=data_format)
    (got,) = run_onnx(model, {"in0": x}, tmp_path)
    want = keras.ops.convert_to_numpy(getattr(keras.layers, layer_type)(size, data_format=data_format)(x))
    np.testing.assert_allclose(got, want, **tolerance(layer_type))


def test_dynamic_spatial_size_is_refused(tmp_path: Path) -> None:
    import kif

    b = kif.GraphBuilder("dyn")
    x = b.input("x", "float32", (None, None, 3))
    b.output(b.add("AdaptiveMaxPooling1D", x, output_size=[2]))
    with pytest.raises(KifError, match="static spatial sizes"):
        kif.onnx.export(b.build(), tmp_path / "m.onnx")
