"""CategoryEncoding: Keras 3 (torch backend) is the oracle for valid ids; the TF-written fixtures (Keras 3 on TF and
tf.keras 2) convert from .keras and .h5 and reproduce TensorFlow; out-of-range ids are an error (spec rule)."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

import kif
from kif.errors import KifError
from kif.keras import convert, to_keras
from tests.layers._encoding_files import edited_keras, run_fixture
from tests.layers.harness import build_layer, run_layer

RNG = np.random.default_rng(7)
CASES = {
    "one_hot-rank1": ("one_hot", RNG.integers(0, 5, size=(6,))),
    "one_hot-last1": ("one_hot", RNG.integers(0, 5, size=(6, 1))),
    "one_hot-rank2": ("one_hot", RNG.integers(0, 5, size=(3, 4))),
    "multi_hot-rank2": ("multi_hot", RNG.integers(0, 5, size=(4, 6))),
    "count-rank2": ("count", RNG.integers(0, 5, size=(4, 6))),
    "one_hot-rank3": ("one_hot", RNG.integers(0, 5, size=(2, 3, 4))),
    "multi_hot-float": ("multi_hot", RNG.uniform(0, 4.99, size=(4, 3)).astype("float32")),
    "count-int32": ("count", RNG.integers(0, 5, size=(3, 7)).astype("int32")),
}


def _keras(mode: str, x: np.ndarray) -> np.ndarray:
    return np.asarray(keras.layers.CategoryEncoding(5, output_mode=mode)(x))


@pytest.mark.parametrize("case", sorted(CASES))
def test_reference_runtime_matches_keras(case: str) -> None:
    mode, x = CASES[case]
    got = run_layer("CategoryEncoding", x, num_tokens=5, output_mode=mode)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, _keras(mode, x))


@pytest.mark.parametrize("case", sorted(CASES))
def test_torch_importer_matches_keras(case: str) -> None:
    from tests.torch.harness import run_torch

    mode, x = CASES[case]
    np.testing.assert_array_equal(run_torch("CategoryEncoding", x, num_tokens=5, output_mode=mode), _keras(mode, x))


@pytest.mark.parametrize("case", sorted(CASES))
def test_onnx_importer_matches_keras(case: str, tmp_path: Path) -> None:
    from tests.onnx.helpers import run_onnx

    mode, x = CASES[case]
    model = build_layer("CategoryEncoding", x, num_tokens=5, output_mode=mode)
    (got,) = run_onnx(model, {"in0": x}, tmp_path)
    np.testing.assert_array_equal(got, _keras(mode, x))


def test_float_ids_truncate_toward_zero() -> None:
    # hand-derived (TensorFlow's cast, recorded in fixtures/preprocessing/behaviour.json): 1.7 -> 1, -0.5 -> 0
    got = run_layer("CategoryEncoding", np.array([[1.7, -0.5]], np.float32), num_tokens=4, output_mode="count")
    np.testing.assert_array_equal(got, [[1, 1, 0, 0]])


@pytest.mark.parametrize("name", ["category_encoding", "category_encoding_one_hot"])
@pytest.mark.parametrize("suffix", [".keras", "_tfk.h5"])
def test_tf_written_files_convert_and_reproduce_tensorflow(name: str, suffix: str, tmp_path: Path) -> None:
    got, want = run_fixture(name, suffix, tmp_path)
    assert len(got) == len(want) >= 1
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("bad", [[[0, 5]], [[0, -1]], [[np.nan, 1]]])
@pytest.mark.parametrize("mode", ["one_hot", "multi_hot", "count"])
def test_out_of_range_ids_are_an_error(mode: str, bad: list[list[float]]) -> None:
    x = np.array(bad, np.float32)
    with pytest.raises(KifError, match=r"expected (ids in \[0, 5\)|finite)") as info:
        run_layer("CategoryEncoding", x, num_tokens=5, output_mode=mode)
    assert info.value.code == "run-failed"


@pytest.mark.parametrize("bad", [[[0, 5]], [[0, -1]]])
def test_torch_importer_refuses_out_of_range_ids(bad: list[list[int]]) -> None:
    from tests.torch.harness import run_torch

    with pytest.raises(Exception, match=r"expected ids in \[0, 5\)"):
        run_torch("CategoryEncoding", np.array(bad), num_tokens=5, output_mode="count")


@pytest.mark.parametrize("shape", [(3,), (2, 3, 4)])
@pytest.mark.parametrize("mode", ["multi_hot", "count"])
def test_multi_hot_and_count_need_rank_2(mode: str, shape: tuple[int, ...]) -> None:
    with pytest.raises(KifError, match="expected an input of rank 2"):
        run_layer("CategoryEncoding", np.zeros(shape, np.int64), num_tokens=5, output_mode=mode)


@pytest.mark.parametrize(("change", "word"), [({"sparse": True}, "sparse=True"), ({"dtype": "int32"}, "dtype='int32'")])
def test_converter_refuses_what_kif_cannot_express(change: dict[str, object], word: str, tmp_path: Path) -> None:
    source = edited_keras("category_encoding_one_hot", tmp_path, **change)
    with pytest.raises(KifError, match="CategoryEncoding") as info:
        convert(source, tmp_path / "out.kif")
    assert word in str(info.value)
    assert not (tmp_path / "out.kif").exists()


def test_binary_is_read_as_multi_hot(tmp_path: Path) -> None:
    bundle = convert(edited_keras("category_encoding_one_hot", tmp_path, output_mode="binary"), tmp_path / "b.kif")
    (layer,) = [la for la in kif.load(bundle).layers if la.type == "CategoryEncoding"]
    assert layer.attributes["output_mode"] == "multi_hot"


def test_to_keras_rebuilds_the_layer(tmp_path: Path) -> None:
    bundle = convert(Path(__file__).resolve().parents[1] / "fixtures" / "preprocessing" / "category_encoding.keras", tmp_path / "m.kif")
    rebuilt = to_keras(bundle)
    x = np.load(Path(__file__).resolve().parents[1] / "fixtures" / "preprocessing" / "category_encoding.npz")["x0"]
    want = list(kif.run(kif.load(bundle), {"x": x}).values())
    got = rebuilt.predict(x, verbose=0)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(np.asarray(g), w)
