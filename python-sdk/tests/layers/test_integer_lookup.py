"""IntegerLookup: Keras 3 needs TensorFlow for this layer on every backend, so the oracle is TensorFlow itself: the
fixtures of tests/fixtures/preprocessing (Keras 3 on TF and tf.keras 2, written by its generate.py by hand) convert
from .keras and .h5 and reproduce TF in the reference runtime and the torch and ONNX importers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kif
from kif.errors import KifError
from kif.keras import convert, to_keras
from tests.layers._encoding_files import FIXTURES, edited_keras, run_fixture
from tests.layers.harness import build_layer, run_layer

WITH_H5 = ["default", "mask", "no_oov", "one_hot", "multi_hot", "multi_hot_mask", "count", "tf_idf", "invert", "invert_mask", "floormod"]
NAMES = [*WITH_H5, "farmhash"]  # farmhash: Keras 3 only (oov_method is new in Keras 3.14)


def _layer(name: str, tmp_path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """The converted layer's attributes and weights (idf_weights in tf_idf mode), the fixture's input and TF's output."""
    bundle = convert(FIXTURES / f"integer_lookup_{name}.keras", tmp_path / f"{name}.kif", overwrite=True)
    model = kif.load(bundle)
    (layer,) = [la for la in model.layers if la.type == "IntegerLookup"]
    weights = {role: np.array(model.weights[tensor]) for role, tensor in layer.weights.items()}
    data = np.load(FIXTURES / f"integer_lookup_{name}.npz")
    return dict(layer.attributes), weights, data["x0"], data["y0"]


@pytest.mark.parametrize("name", NAMES)
def test_keras3_files_convert_and_reproduce_tensorflow(name: str, tmp_path: Path) -> None:
    got, want = run_fixture(f"integer_lookup_{name}", ".keras", tmp_path)
    assert got[0].dtype == want[0].dtype
    np.testing.assert_array_equal(got[0], want[0])


@pytest.mark.parametrize("name", WITH_H5)
def test_tf_keras2_files_convert_and_reproduce_tensorflow(name: str, tmp_path: Path) -> None:
    got, want = run_fixture(f"integer_lookup_{name}", "_tfk.h5", tmp_path)
    assert got[0].dtype == want[0].dtype  # one_hot / multi_hot / count: float32 here, int64 in Keras 3
    np.testing.assert_array_equal(got[0], want[0])


@pytest.mark.parametrize("name", NAMES)
def test_torch_importer_reproduces_tensorflow(name: str, tmp_path: Path) -> None:
    from tests.torch.harness import run_torch

    attrs, weights, x, y = _layer(name, tmp_path)
    got = run_torch("IntegerLookup", x, weights, **attrs)
    assert got.dtype == y.dtype
    np.testing.assert_array_equal(got, y)


@pytest.mark.parametrize("name", [n for n in NAMES if n not in ("no_oov", "farmhash")])
def test_onnx_importer_reproduces_tensorflow(name: str, tmp_path: Path) -> None:
    from tests.onnx.helpers import run_onnx

    attrs, weights, x, y = _layer(name, tmp_path)
    (got,) = run_onnx(build_layer("IntegerLookup", x, weights, **attrs), {"in0": x}, tmp_path)
    assert got.dtype == y.dtype
    np.testing.assert_array_equal(got, y)


@pytest.mark.parametrize(("name", "word"), [("no_oov", "cannot raise"), ("farmhash", "no string hashing")])
def test_onnx_importer_refuses_what_onnx_cannot_do(name: str, word: str, tmp_path: Path) -> None:
    attrs, _, x, _ = _layer(name, tmp_path)
    with pytest.raises(KifError, match=word):
        kif.onnx.export(build_layer("IntegerLookup", x, **attrs), tmp_path / "m.onnx")


def test_unknown_token_without_oov_slots_is_an_error(tmp_path: Path) -> None:
    # TF 2.21 raises in both generations (fixtures/preprocessing/behaviour.json: no_oov_unknown)
    from tests.torch.harness import run_torch

    attrs, _, _, _ = _layer("no_oov", tmp_path)
    x = np.array([[12, 40]], np.int64)
    with pytest.raises(KifError, match="expected tokens in the vocabulary") as info:
        run_layer("IntegerLookup", x, **attrs)
    assert info.value.code == "run-failed"
    with pytest.raises(Exception, match="expected tokens in the vocabulary"):
        run_torch("IntegerLookup", x, **attrs)


def test_farmhash_without_pyfarmhash_is_one_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    attrs, _, x, _ = _layer("farmhash", tmp_path)
    monkeypatch.setitem(sys.modules, "farmhash", None)
    with pytest.raises(KifError, match="pyfarmhash"):
        run_layer("IntegerLookup", x, **attrs)


@pytest.mark.parametrize(
    ("change", "word"),
    [({"sparse": True}, "sparse=True"), ({"salt": [1, 2]}, "needs oov_method='farmhash'"),
     ({"salt": "x", "oov_method": "farmhash"}, "salt"),
     ({"vocabulary_dtype": "int32"}, "vocabulary_dtype"), ({"vocabulary": "vocab.txt"}, "file path"),
     ({"vocabulary": [1, 2**64]}, "vocabulary/1"), ({"mask_token": -(2**63) - 1}, "mask_token")],
)  # fmt: skip
def test_converter_refuses_what_kif_cannot_express(change: dict[str, Any], word: str, tmp_path: Path) -> None:
    with pytest.raises(KifError, match="IntegerLookup") as info:
        convert(edited_keras("integer_lookup_multi_hot", tmp_path, **change), tmp_path / "out.kif")
    assert word in str(info.value)
    assert not (tmp_path / "out.kif").exists()


def test_adapted_keras3_file_reads_the_vocabulary_asset_and_idf_variable(tmp_path: Path) -> None:
    got, want = run_fixture("integer_lookup_adapted", ".keras", tmp_path)  # TF's outputs of the file as loaded back
    np.testing.assert_array_equal(got[0], want[0])


def test_adapted_tf_keras2_h5_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KifError, match=r"IntegerLookup.*no vocabulary asset"):
        convert(FIXTURES / "integer_lookup_adapted_tfk.h5", tmp_path / "out.kif")
    assert not (tmp_path / "out.kif").exists()


def test_special_tokens_in_front_of_the_vocabulary_are_stripped(tmp_path: Path) -> None:
    # Keras accepts [oov, *tokens] and then takes idf weights for every slot as given (hand-derived)
    source = edited_keras("integer_lookup_tf_idf", tmp_path, vocabulary=[-1, 12, 36, 1138, 42], idf_weights=[0.9, 0.25, 0.75, 0.6, 0.4])
    model = kif.load(convert(source, tmp_path / "m.kif"))
    (layer,) = [la for la in model.layers if la.type == "IntegerLookup"]
    assert layer.attributes["vocabulary"] == [12, 36, 1138, 42]
    idf = np.array(model.weights[layer.weights["idf_weights"]])
    np.testing.assert_array_equal(idf, np.float32([0.9, 0.25, 0.75, 0.6, 0.4]))
    got = run_layer("IntegerLookup", np.array([[7, 12, 12, 0]], np.int64), {"idf_weights": idf}, **layer.attributes)
    np.testing.assert_allclose(got, [[1.8, 0.5, 0.0, 0.0, 0.0]], rtol=1e-6)


@pytest.mark.parametrize(
    "bad",
    [{"vocabulary": [1, 1]}, {"mask_token": 1}, {"invert": True, "output_mode": "count"}, {"output_mode": "tf_idf"}],
)  # fmt: skip
def test_inconsistent_attributes_are_refused(bad: dict[str, Any]) -> None:
    attrs = {"vocabulary": [1, 2, 3], **bad}
    with pytest.raises(KifError):
        run_layer("IntegerLookup", np.array([[1, 2]], np.int64), **attrs)


def test_idf_weights_of_the_wrong_length_are_refused() -> None:
    with pytest.raises(KifError, match=r"expected idf_weights of shape \[4\]"):
        run_layer(
            "IntegerLookup",
            np.array([[1, 2]], np.int64),
            {"idf_weights": np.ones(2, np.float32)},
            vocabulary=[1, 2, 3],
            output_mode="tf_idf",
        )


def test_to_keras_refuses_without_tensorflow(tmp_path: Path) -> None:
    bundle = convert(FIXTURES / "integer_lookup_default.keras", tmp_path / "m.kif")
    with pytest.raises(KifError, match="needs TensorFlow"):
        to_keras(bundle)
