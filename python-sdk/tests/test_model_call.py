"""``model(x)`` runs the reference runtime; expected values are worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

import kif


def _tiny_dense() -> kif.Model:
    # y = relu(x @ K + b) with K = [[1, -1], [2, 0.5]], b = [0.5, -1]
    b = kif.GraphBuilder("tiny")
    x = b.input("x", "float32", (None, 2))
    kernel = np.array([[1.0, -1.0], [2.0, 0.5]], dtype=np.float32)
    bias = np.array([0.5, -1.0], dtype=np.float32)
    y = b.add("Dense", x, units=2, activation="relu", weights={"kernel": kernel, "bias": bias})
    b.output(y)
    return b.build()


def test_calling_a_model_with_an_array_runs_it() -> None:
    model = _tiny_dense()
    x = np.array([[1.0, 2.0], [-3.0, 1.0]], dtype=np.float32)
    # row 0: [1+4+0.5, -1+1-1] = [5.5, -1] -> relu [5.5, 0]
    # row 1: [-3+2+0.5, 3+0.5-1] = [-0.5, 2.5] -> relu [0, 2.5]
    out = model(x)
    assert list(out) == ["dense_0"]
    np.testing.assert_array_equal(out["dense_0"], np.array([[5.5, 0.0], [0.0, 2.5]], dtype=np.float32))


def test_calling_a_model_with_a_dict_matches_kif_run() -> None:
    model = _tiny_dense()
    x = np.array([[0.0, 1.0]], dtype=np.float32)
    # [0+2+0.5, 0+0.5-1] = [2.5, -0.5] -> relu [2.5, 0]
    out = model({"x": x})
    np.testing.assert_array_equal(out["dense_0"], np.array([[2.5, 0.0]], dtype=np.float32))
    np.testing.assert_array_equal(kif.run(model, {"x": x})["dense_0"], out["dense_0"])


def test_calling_with_a_wrong_input_name_is_a_kif_error() -> None:
    with pytest.raises(kif.KifError, match="Expected inputs"):
        _tiny_dense()({"nope": np.zeros((1, 2), np.float32)})
