"""StringLookup reproduces Keras 3 StringLookup on TensorFlow 2.21 (Keras runs it on TF ops whatever the backend)."""

from __future__ import annotations

import numpy as np
import pytest

import kif
from kif.errors import KifError
from tests.text.tf_fixtures import CASES, expected, inputs_of, lookup_attrs, names, run_one


@pytest.mark.parametrize("name", names("StringLookup"))
def test_string_lookup_reproduces_tensorflow(name: str) -> None:
    attrs, weights = lookup_attrs(CASES[name]["config"])
    got = run_one("StringLookup", inputs_of(name), weights, **attrs)
    want = expected(name)
    assert got.shape == want.shape
    if want.dtype.kind == "U":
        assert got.tolist() == want.tolist()
    else:
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def _model(**overrides: object) -> kif.Model:
    attrs = {
        "vocabulary": ["a", "b"],
        "num_oov_indices": 1,
        "oov_token": "[UNK]",
        "mask_token": None,
        "invert": False,
        "output_mode": "int",
        "max_tokens": None,
        "pad_to_max_tokens": False,
        "salt": None,
        **overrides,
    }
    b = kif.GraphBuilder("sl")
    b.output(b.add("StringLookup", b.input("x", "string", [None]), name="sl", **attrs))
    return b.build()


def test_oov_with_no_oov_indices_is_one_run_error() -> None:
    with pytest.raises(KifError, match="num_oov_indices=0") as info:
        kif.run(_model(num_oov_indices=0), {"x": np.array(["a", "zz"])})
    assert info.value.code == "run-failed"


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"vocabulary": ["a", "a"]}, "distinct"),
        ({"mask_token": "a"}, "mask token"),
        ({"invert": True, "vocabulary": ["[UNK]"]}, "OOV token"),
        ({"max_tokens": 2}, "max_tokens"),
        ({"output_mode": "count", "invert": True}, "invert"),
        ({"output_mode": "count", "pad_to_max_tokens": True}, "max_tokens"),
    ],
)
def test_bad_vocabularies_are_shape_errors(overrides: dict, needle: str) -> None:
    with pytest.raises(KifError, match=needle):
        kif.run(_model(**overrides), {"x": np.array(["a"])})
