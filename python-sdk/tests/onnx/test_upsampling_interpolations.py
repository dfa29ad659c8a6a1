"""UpSampling2D with every KIF interpolation through the ONNX exporter and ONNX Runtime, against TensorFlow's outputs
(tests/fixtures/tf_upsampling)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.layers.test_upsampling_tf import FIXTURES, _cases
from tests.onnx.helpers import one_layer, run_onnx


@pytest.mark.parametrize(("writer", "name", "config"), _cases(), ids=[f"{w}-{n}" for w, n, _ in _cases()])
def test_upsampling_through_onnx_matches_tensorflow(writer: str, name: str, config: dict, tmp_path: Path) -> None:
    arrays = np.load(FIXTURES / f"{writer}.npz")
    x = arrays[f"{name}/x"]
    (got,) = run_onnx(one_layer("UpSampling2D", [x], **config), {"in0": x}, tmp_path)
    np.testing.assert_allclose(got, arrays[f"{name}/y"], rtol=1e-5, atol=1e-5)
