"""TextVectorization exported to ONNX against TensorFlow 2.21 (fixtures/text/cases.json): the lookup-only variant on
raw strings; the rest refused with the reason, even when the graph makes its strings itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import kif
import kif.onnx
from kif.errors import UnsupportedLayerError
from tests.onnx.helpers import run_onnx
from tests.text.test_text_vectorization import ARRAYS, CASES, TV_CASES, _mapped, _model

_PLAIN = {n for n in TV_CASES if all(CASES[n]["config"][k] is None for k in ("standardize", "split", "ngrams"))}


def _case(name: str) -> tuple[object, np.ndarray, np.ndarray]:
    case = CASES[name]
    idf = {"idf_weights": ARRAYS[case["weights"]["idf_weights"]]} if "idf_weights" in case["weights"] else None
    return _mapped({**case["config"], "vocabulary": case["vocabulary"]}, idf), ARRAYS[case["input"]], ARRAYS[case["output"]]


def _same(got: np.ndarray, want: np.ndarray, mode: str) -> None:
    assert got.dtype == (np.int64 if mode == "int" else np.float32)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def test_some_fixture_has_no_text_steps() -> None:
    assert _PLAIN, "tv_None_None: standardize, split and ngrams all None"


@pytest.mark.parametrize("name", sorted(_PLAIN))
def test_lookup_only_variant_runs_on_raw_strings(name: str, tmp_path: Path) -> None:
    mapped, x, want = _case(name)
    (got,) = run_onnx(_model(mapped, [None, *x.shape[1:]]), {"text": x}, tmp_path)
    _same(got, want, mapped.attributes["output_mode"])


@pytest.mark.parametrize("name", sorted(set(TV_CASES) - _PLAIN))
def test_text_steps_on_raw_strings_are_refused_with_the_reason(name: str, tmp_path: Path) -> None:
    mapped, x, _ = _case(name)
    with pytest.raises(UnsupportedLayerError, match="StringNormalizer lowercases by locale") as info:
        kif.onnx.export(_model(mapped, [None, *x.shape[1:]]), tmp_path / "m.onnx")
    assert info.value.code == "layer-unsupported" and "' ' only" in str(info.value)
    assert not (tmp_path / "m.onnx").exists()


def test_a_converted_tensorflow_text_classifier_is_refused_naming_the_text_steps(tmp_path: Path) -> None:
    from kif.keras import convert
    from tests.text.test_text_vectorization import CLASSIFIERS

    convert(CLASSIFIERS / "keras3_int_given_vocab.keras", tmp_path / "m.kif")
    with pytest.raises(UnsupportedLayerError, match="StringNormalizer lowercases by locale") as info:
        kif.onnx.export(tmp_path / "m.kif", tmp_path / "m.onnx")
    assert info.value.code == "layer-unsupported" and not (tmp_path / "m.onnx").exists()
