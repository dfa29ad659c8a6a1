"""LocallyConnected1D/2D through the ONNX exporter and ONNX Runtime, against the hand-written loop of
tests/layers/test_locally_connected.py (Keras 3 has no such layer)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kif.errors import KifError
from tests.layers.test_locally_connected import CASES_1D, CASES_2D, _loop, _out
from tests.onnx.helpers import one_layer, run_onnx, tolerance


@pytest.mark.parametrize(("spatial", "ksize", "strides", "padding"), CASES_1D + CASES_2D)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("use_bias", [True, False])
def test_locally_connected_through_onnx(
    spatial: list[int], ksize: list[int], strides: list[int], padding: str, data_format: str, use_bias: bool, tmp_path: Path
) -> None:
    rng = np.random.default_rng(len(spatial) + sum(ksize))
    channels, filters, first = 2, 3, data_format == "channels_first"
    x = rng.normal(size=(2, channels, *spatial) if first else (2, *spatial, channels)).astype("float32")
    out = [_out(n, k, s, padding) for n, k, s in zip(spatial, ksize, strides, strict=True)]
    weights = {"kernel": rng.normal(size=(*out, *ksize, channels, filters)).astype("float32")}
    if use_bias:
        weights["bias"] = rng.normal(size=(*out, filters)).astype("float32")
    layer_type = f"LocallyConnected{len(spatial)}D"
    attrs = {"filters": filters, "kernel_size": ksize, "strides": strides, "padding": padding, "data_format": data_format}
    model = one_layer(layer_type, [x], weights, use_bias=use_bias, activation="tanh", **attrs)
    [got] = run_onnx(model, {"in0": x}, tmp_path)
    want = np.tanh(_loop(x, weights["kernel"], weights.get("bias"), strides, padding, first))
    np.testing.assert_allclose(got, want, **tolerance(layer_type))


def test_unknown_spatial_sizes_are_refused(tmp_path: Path) -> None:
    import kif

    b = kif.GraphBuilder("lc")
    x = b.input("x", "float32", (None, None, 2))
    kernel = np.zeros((3, 2, 2, 1), "float32")
    b.output(b.add("LocallyConnected1D", x, name="lc", weights={"kernel": kernel}, filters=1, kernel_size=[2], use_bias=False))
    with pytest.raises(KifError, match="spatial sizes"):
        run_onnx(b.build(), {}, tmp_path)
