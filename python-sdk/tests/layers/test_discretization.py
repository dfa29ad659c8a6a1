"""Discretization: Keras 3 (torch backend) is the oracle on numbers; NaN and the int dtypes follow the TF-written
fixtures (Keras 3 on TF and tf.keras 2, .keras and .h5, incl. adapted layers), which convert and reproduce TF."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from kif.errors import KifError
from kif.keras import convert, to_keras
from tests.layers._encoding_files import FIXTURES, edited_keras, run_fixture
from tests.layers.harness import build_layer, run_layer

B = [-1.0, 0.0, 0.5, 2.0]
RNG = np.random.default_rng(11)
X = np.concatenate([RNG.normal(size=(3, 6)), np.array([[*B, 0.25, -2.5], [-1.0, 2.0, 3.0, 0.1, 0.5, 0.0]])]).astype("float32")
CASES = {
    "int": ("int", X),
    "int-int64-input": ("int", np.array([[-2, -1, 0, 1, 2, 3]], np.int64)),
    "one_hot": ("one_hot", X),
    "one_hot-last1": ("one_hot", X[:, :1]),
    "multi_hot": ("multi_hot", X),
    "count": ("count", X),
}


def _keras(mode: str, x: np.ndarray) -> np.ndarray:
    return np.asarray(keras.layers.Discretization(bin_boundaries=B, output_mode=mode)(x))


def _attrs(mode: str) -> dict[str, object]:
    return {"bin_boundaries": B, "output_mode": mode, "output_dtype": "int32"}


@pytest.mark.parametrize("case", sorted(CASES))
def test_reference_runtime_matches_keras(case: str) -> None:
    mode, x = CASES[case]
    got, want = run_layer("Discretization", x, **_attrs(mode)), _keras(mode, x)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("case", sorted(CASES))
def test_torch_importer_matches_keras(case: str) -> None:
    from tests.torch.harness import run_torch

    mode, x = CASES[case]
    np.testing.assert_array_equal(run_torch("Discretization", x, **_attrs(mode)), _keras(mode, x))


@pytest.mark.parametrize("case", sorted(CASES))
def test_onnx_importer_matches_keras(case: str, tmp_path: Path) -> None:
    from tests.onnx.helpers import run_onnx

    mode, x = CASES[case]
    (got,) = run_onnx(build_layer("Discretization", x, **_attrs(mode)), {"in0": x}, tmp_path)
    want = _keras(mode, x)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_nan_and_infinities_follow_bucketize() -> None:
    # hand-derived from TF's Bucketize (std::upper_bound): -inf -> 0, +inf and NaN -> len(B) (the fixture's NaN too)
    from tests.torch.harness import run_torch

    x = np.array([[-np.inf, np.inf, np.nan]], np.float32)
    for run in (run_layer, run_torch):
        np.testing.assert_array_equal(run("Discretization", x, bin_boundaries=B), [[0, 4, 4]])


@pytest.mark.parametrize("name", ["discretization", "discretization_one_hot", "discretization_adapted"])
@pytest.mark.parametrize("suffix", [".keras", "_tfk.h5"])
def test_tf_written_files_convert_and_reproduce_tensorflow(name: str, suffix: str, tmp_path: Path) -> None:
    """Keras 3 writes int32 ids and the adapted boundaries in its config; tf.keras 2 int64 ids and a quantile summary."""
    got, want = run_fixture(name, suffix, tmp_path)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)


def test_unsorted_boundaries_are_refused() -> None:
    with pytest.raises(KifError, match="non-decreasing"):
        run_layer("Discretization", X, bin_boundaries=[0.0, -1.0])


def test_converter_refuses_sparse_and_an_unadapted_layer(tmp_path: Path) -> None:
    with pytest.raises(KifError, match=r"Discretization.*sparse=True"):
        convert(edited_keras("discretization_one_hot", tmp_path, sparse=True), tmp_path / "a.kif")
    with pytest.raises(KifError, match=r"Discretization.*finite numbers"):  # JSON holds no infinities
        convert(edited_keras("discretization_one_hot", tmp_path, bin_boundaries=[0.0, float("inf")]), tmp_path / "c.kif")
    with pytest.raises(KifError, match=r"Discretization.*never adapted"):
        convert(edited_keras("discretization_one_hot", tmp_path, bin_boundaries=None, num_bins=3), tmp_path / "b.kif")


@pytest.mark.parametrize("suffix", [".keras", "_tfk.h5"])
def test_to_keras_rebuilds_with_the_same_dtype(suffix: str, tmp_path: Path) -> None:
    bundle = convert(FIXTURES / f"discretization{suffix}", tmp_path / "m.kif")
    data = np.load(FIXTURES / "discretization.npz")
    want = [data[f"{'t' if suffix.endswith('h5') else 'y'}{i}"] for i in range(3)]
    got = [np.asarray(y) for y in to_keras(bundle)(data["x0"])]
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)
