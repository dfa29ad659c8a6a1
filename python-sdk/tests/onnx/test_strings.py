"""StringLookup and string Hashing exported to ONNX (ai.onnx.ml LabelEncoder) reproduce TensorFlow 2.21's outputs
(tests/fixtures/text, written by TF); the variants ONNX cannot compute are refused, naming why."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

import kif
import kif.onnx
from kif.errors import UnsupportedLayerError
from tests.onnx.helpers import run_onnx
from tests.text.tf_fixtures import CASES, expected, inputs_of, lookup_attrs, names

_HASHED = {"sl_oov3", "sl_oov3_salt"}  # num_oov_indices > 1: a hash of the unknown string picks the bucket
_RAISES = {"sl_oov0"}  # num_oov_indices=0: an unknown string is an error, ONNX cannot raise
_STRING_HASHING = [n for n in names("Hashing") if inputs_of(n)[0].dtype.kind == "U"]


def _lookup_model(x: np.ndarray, attrs: dict, weights: dict[str, np.ndarray]) -> kif.Model:
    b = kif.GraphBuilder("sl")
    dtype = "string" if x.dtype.kind == "U" else kif.dtypes.from_numpy(x.dtype).name
    b.output(b.add("StringLookup", b.input("x", dtype, (None, *x.shape[1:])), name="sl", weights=weights, **attrs))
    return b.build()


def _same(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape
    if want.dtype.kind == "U":
        assert got.tolist() == want.tolist()
    else:
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", [n for n in names("StringLookup") if n not in _HASHED | _RAISES])
def test_string_lookup_matches_tensorflow(name: str, tmp_path: Path) -> None:
    attrs, weights = lookup_attrs(CASES[name]["config"])
    (x,) = inputs_of(name)
    (got,) = run_onnx(_lookup_model(x, attrs, weights), {"x": x}, tmp_path)
    _same(got, expected(name))


@pytest.mark.parametrize(("name", "needle"), [("sl_oov3", "no string hashing"), ("sl_oov3_salt", "no string hashing"),
                                              ("sl_oov0", "ONNX cannot raise")])  # fmt: skip
def test_string_lookup_refuses_what_onnx_cannot_compute(name: str, needle: str, tmp_path: Path) -> None:
    attrs, weights = lookup_attrs(CASES[name]["config"])
    with pytest.raises(UnsupportedLayerError, match=needle) as info:
        kif.onnx.export(_lookup_model(inputs_of(name)[0], attrs, weights), tmp_path / "m.onnx")
    assert info.value.code == "layer-unsupported" and not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("name", _STRING_HASHING)
def test_string_hashing_is_refused_even_when_the_graph_makes_few_strings(name: str, tmp_path: Path) -> None:
    """An inverted StringLookup makes a known few strings; their hashes are still not tabulated at export time (that
    would pass the graph without ONNX computing Hashing, and overstate what a real text model's export can do)."""
    x = inputs_of(name)[0]
    b = kif.GraphBuilder("chain")
    s = b.add("StringLookup", b.input("ids", "int64", (None, *x.shape[1:])), name="invert", vocabulary=["a", "b"], invert=True)
    b.output(b.add("Hashing", s, name="h", num_bins=3))
    with pytest.raises(UnsupportedLayerError, match="no string hashing"):
        kif.onnx.export(b.build(), tmp_path / "m.onnx")


@pytest.mark.parametrize("dtype", ["string", "int64"])
def test_hashing_of_free_inputs_is_refused(dtype: str, tmp_path: Path) -> None:
    b = kif.GraphBuilder("h")
    b.output(b.add("Hashing", b.input("x", dtype, [None]), name="h", num_bins=3))
    with pytest.raises(UnsupportedLayerError, match="no string hashing"):
        kif.onnx.export(b.build(), tmp_path / "m.onnx")


def test_the_ml_domain_is_imported_only_when_used() -> None:
    attrs, _ = lookup_attrs(CASES["sl_int"]["config"])
    proto = kif.onnx.build(_lookup_model(inputs_of("sl_int")[0], attrs, {}))
    assert {(o.domain, o.version) for o in proto.opset_import} == {("", kif.onnx.OPSET), ("ai.onnx.ml", 2)}
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.STRING
    b = kif.GraphBuilder("dense")
    b.output(b.add("ReLU", b.input("x", "float32", [None, 2]), name="r"))
    assert [o.domain for o in kif.onnx.build(b.build()).opset_import] == [""]


@pytest.mark.parametrize("invert", [False, True])
def test_a_lone_surrogate_in_a_vocabulary_is_one_refusal(invert: bool, tmp_path: Path) -> None:
    b = kif.GraphBuilder("s")
    x = b.input("x", "int64" if invert else "string", [None])
    b.output(b.add("StringLookup", x, name="sl", vocabulary=["a", "\ud800"], invert=invert))
    with pytest.raises(UnsupportedLayerError, match="lone surrogate"):
        kif.onnx.export(b.build(), tmp_path / "m.onnx")
