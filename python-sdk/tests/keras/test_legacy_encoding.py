"""Discretization and CategoryEncoding in the forms TF 2.3-2.5 wrote (tf.keras.layers.experimental.preprocessing),
as .h5 files written here with h5py in TensorFlow's layout: TF 2.3 ``Discretization(bins)`` (Bucketize); TF 2.4/2.5
``bins`` / ``bin_boundaries`` with the state weight ``bins`` (BoostedTreesBucketize: right-closed buckets);
TF 2.3/2.4 ``CategoryEncoding(max_tokens)`` (int64 counts). Oracles: the doctests of those releases' layers (run by
TensorFlow's CI) and values derived by hand from their kernels' rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

import kif
from kif.errors import KifError
from kif.keras import convert

DOCTEST_X = np.array([[-1.5, 1.0, 3.4, 0.5], [0.0, 3.0, 1.3, 0.0]], np.float32)
IDS = np.array([[0, 1], [0, 0], [1, 2], [3, 1]], np.int64)


def _write(path: Path, layer: dict[str, Any], weights: list[tuple[str, np.ndarray]], shape: list[int], dtype: str) -> None:
    name = layer["config"]["name"]
    layers = [{"class_name": "InputLayer", "config": {"batch_input_shape": [None, *shape], "dtype": dtype, "name": "x"}}, layer]
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = "2.4.0"  # what tf.keras wrote in TF 2.3 and 2.4 (2.5.0 in TF 2.5)
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": {"name": "sequential", "layers": layers}})
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = np.array([name.encode()], dtype="S")
        sub = group.create_group(name)
        sub.attrs["weight_names"] = np.array([f"{name}/{n}:0".encode() for n, _ in weights], dtype="S") if weights else np.array([], "S1")
        for n, value in weights:
            sub.create_dataset(f"{name}/{n}:0", data=value)


def _discretization(tmp_path: Path, config: dict[str, Any], bins: np.ndarray | None) -> kif.Model:
    layer = {"class_name": "Discretization", "config": {"name": "discretization", "trainable": True, "dtype": "float32", **config}}
    src = tmp_path / "old.h5"
    _write(src, layer, [] if bins is None else [("bins", bins.astype(np.float32))], [4], "float32")
    return kif.load(convert(src, tmp_path / "old.kif"))


def _run(model: kif.Model, x: np.ndarray) -> np.ndarray:
    (y,) = kif.run(model, {model.inputs[0].name: x}).values()
    return y


WITH_INF = np.array([0.0, 1.0, 2.0, np.inf])


def test_tf23_bins_are_left_closed_int32(tmp_path: Path) -> None:
    model = _discretization(tmp_path, {"bins": [0.0, 1.0, 2.0]}, None)
    assert model.layers[0].attributes == {"bin_boundaries": [0.0, 1.0, 2.0], "output_mode": "int", "output_dtype": "int32"}
    y = _run(model, DOCTEST_X)
    assert y.dtype == np.int32 and y.tolist() == [[0, 2, 3, 1], [1, 3, 2, 1]]  # TF 2.3's doctest


@pytest.mark.parametrize(
    "config",
    [{"bins": [0.0, 1.0, 2.0], "epsilon": 0.01}, {"bin_boundaries": [0.0, 1.0, 2.0], "num_bins": None, "epsilon": 0.01}],
    ids=["tf2.4", "tf2.5"],
)
def test_tf24_and_tf25_buckets_are_right_closed_int32(config: dict[str, Any], tmp_path: Path) -> None:
    y = _run(_discretization(tmp_path, config, WITH_INF), DOCTEST_X)
    assert y.dtype == np.int32 and y.tolist() == [[0, 1, 3, 1], [0, 3, 2, 0]]  # the doctest of TF 2.4 and 2.5


def test_right_closed_at_the_float32_neighbours_of_a_boundary(tmp_path: Path) -> None:
    """#{k : w[k] < x} by hand, one float32 step either side of 0 and 1 (and -0.0, +-inf)."""
    tiny, below_one = np.nextafter(np.float32(0), np.float32(1)), np.nextafter(np.float32(1), np.float32(0))
    above_one = np.nextafter(np.float32(1), np.float32(2))
    x = np.array([[-0.0, tiny, below_one, above_one], [1.0, 2.0, np.inf, -np.inf]], np.float32)
    model = _discretization(tmp_path, {"bins": [0.0, 1.0, 2.0], "epsilon": 0.01}, WITH_INF)
    assert _run(model, x).tolist() == [[0, 1, 1, 2], [1, 2, 3, 0]]


def test_adapted_weight_is_read_and_clamped_as_boosted_trees_bucketize(tmp_path: Path) -> None:
    """bins=4 adapted: the weight holds the learned boundaries; the last entry only clamps (index <= len(w) - 1)."""
    w = np.array([-1.0, 0.25, 2.5, 3.0])  # a last entry that is not +inf: ids stop at 3
    model = _discretization(tmp_path, {"bins": 4, "epsilon": 0.01}, w)
    x = np.array([[-2.0, -1.0, 0.25, 0.3], [2.5, 2.6, 3.0, 9.0]], np.float32)
    assert _run(model, x).tolist() == [[0, 0, 1, 2], [2, 3, 3, 3]]


def test_tf23_layer_never_adapted_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KifError, match="never adapted") as info:
        _discretization(tmp_path, {"bins": 4}, None)
    assert "Discretization" in str(info.value)


def test_old_and_new_names_give_the_same_boundaries(tmp_path: Path) -> None:
    old = _discretization(tmp_path, {"bins": [0.5, 1.5]}, None).layers[0].attributes
    (tmp_path / "old.kif").unlink()
    new = _discretization(tmp_path, {"bin_boundaries": [0.5, 1.5], "num_bins": None, "epsilon": 0.01}, None).layers[0].attributes
    assert old["bin_boundaries"] == new["bin_boundaries"] == [0.5, 1.5]
    assert (old["output_dtype"], new["output_dtype"]) == ("int32", "int64")  # TF 2.3's Bucketize ids; tf.keras 2.6+ casts


def _category_encoding(tmp_path: Path, config: dict[str, Any], weights: list[tuple[str, np.ndarray]] | None = None) -> Path:
    layer = {"class_name": "CategoryEncoding", "config": {"name": "category_encoding", "trainable": True, "dtype": "float32", **config}}
    src = tmp_path / "enc.h5"
    _write(src, layer, weights or [], [2], "int64")
    return src


@pytest.mark.parametrize(
    ("mode", "want"),
    [
        ("count", [[1, 1, 0, 0], [2, 0, 0, 0], [0, 1, 1, 0], [0, 1, 0, 1]]),  # TF 2.4's doctest
        ("binary", [[1, 1, 0, 0], [1, 0, 0, 0], [0, 1, 1, 0], [0, 1, 0, 1]]),
    ],
)
def test_tf24_category_encoding_max_tokens_gives_int64(mode: str, want: list[list[int]], tmp_path: Path) -> None:
    model = kif.load(convert(_category_encoding(tmp_path, {"max_tokens": 4, "output_mode": mode, "sparse": False}), tmp_path / "m.kif"))
    assert [ly.type for ly in model.layers] == ["CategoryEncoding", "op.cast"]
    y = _run(model, IDS)
    assert y.dtype == np.int64 and y.tolist() == want


def test_adapted_num_elements_and_the_new_name_give_the_same_encoding(tmp_path: Path) -> None:
    weights = [("num_elements", np.array(4, np.int32))]
    old = kif.load(
        convert(_category_encoding(tmp_path, {"max_tokens": None, "output_mode": "binary", "sparse": False}, weights), tmp_path / "a.kif")
    )
    new_src = _category_encoding(tmp_path, {"num_tokens": 4, "output_mode": "binary", "sparse": False})  # TF 2.5's names
    new = kif.load(convert(new_src, tmp_path / "b.kif"))
    assert old.layers[0].attributes == new.layers[0].attributes == {"num_tokens": 4, "output_mode": "multi_hot"}
    np.testing.assert_array_equal(_run(old, IDS), _run(new, IDS).astype(np.int64))


@pytest.mark.parametrize(
    ("config", "weights", "message"),
    [
        ({"max_tokens": 4, "output_mode": "tf-idf", "sparse": False}, None, "tf-idf"),
        ({"max_tokens": None, "output_mode": "count", "sparse": False}, None, "never adapted"),
    ],
)
def test_what_cannot_be_mapped_is_one_error(config: dict[str, Any], weights: Any, message: str, tmp_path: Path) -> None:
    with pytest.raises(KifError, match=message) as info:
        convert(_category_encoding(tmp_path, config, weights), tmp_path / "out.kif")
    assert "CategoryEncoding" in str(info.value)
    assert not (tmp_path / "out.kif").exists()
