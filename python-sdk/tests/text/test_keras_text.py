"""Keras models with StringLookup, Hashing and HashedCrossing inside, saved by TensorFlow's Keras 3 (.keras, .h5)
and tf_keras 2 (.h5), convert and reproduce TensorFlow's outputs on raw strings; what KIF cannot express is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kif
from kif.errors import KifError
from kif.keras import convert
from tests._keras_zip import named, with_layer_config
from tests.text.tf_fixtures import FIXTURES

DATA = np.load(FIXTURES / "lookup_model.npz")
FEED = {"word": DATA["word"], "cat": DATA["cat"], "num": DATA["num"]}


@pytest.mark.parametrize("name", ["lookup_model.keras", "lookup_model.h5"])
def test_keras3_text_model_reproduces_tensorflow(name: str, tmp_path: Path) -> None:
    bundle = convert(FIXTURES / name, tmp_path / "m.kif")
    assert kif.validate(bundle).ok
    model = kif.load(bundle)
    assert [i.dtype for i in model.inputs] == ["string", "string", "int64"]
    head, cross_id, back = kif.run(model, FEED).values()
    np.testing.assert_allclose(head, DATA["y"], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(cross_id, DATA["cross_id"])
    assert back.tolist() == DATA["back"].tolist()
    assert {layer.type for layer in model.layers} >= {"StringLookup", "Hashing", "HashedCrossing"}


def test_tf_keras2_text_model_reproduces_tensorflow(tmp_path: Path) -> None:
    bundle = convert(FIXTURES / "lookup_model_tfk.h5", tmp_path / "m.kif")
    assert kif.validate(bundle).ok
    model = kif.load(bundle)
    (head,) = kif.run(model, FEED).values()
    np.testing.assert_allclose(head, DATA["y_tfk"], rtol=1e-5, atol=1e-6)
    cast = next(layer for layer in model.layers if layer.type == "op.cast")  # tf.keras 2 encodes multi_hot as float32
    assert cast.attributes == {"dtype": "float32"}


def _edited(tmp_path: Path, layer: str, change: dict[str, Any]) -> Path:
    return with_layer_config(FIXTURES / "lookup_model.keras", tmp_path / "edited.keras", named(layer), **change)


@pytest.mark.parametrize(
    ("layer", "change", "needle"),
    [
        ("ids", {"vocabulary": None}, "assets"),
        ("ids", {"vocabulary": "/etc/vocab.txt"}, "names a file"),
        ("ids", {"encoding": "latin-1"}, "encoding"),
        ("ids", {"sparse": True}, "sparse"),
        ("salted", {"salt": "x"}, "salt"),
        ("salted", {"dtype": "int32"}, "dtype"),
        ("cross", {"sparse": True}, "sparse"),
    ],
)
def test_unrepresentable_options_are_refused_naming_layer_and_option(layer: str, change: dict, needle: str, tmp_path: Path) -> None:
    with pytest.raises(KifError, match=needle) as info:
        convert(_edited(tmp_path, layer, change), tmp_path / "m.kif")
    assert repr(layer) in str(info.value)
    assert not (tmp_path / "m.kif").exists()


def test_vocabulary_with_reserved_tokens_in_front_is_stripped(tmp_path: Path) -> None:
    """Keras accepts [mask, oov, oov, tokens...] too (found_special_tokens): the KIF vocabulary is the bare tokens."""
    model = kif.load(
        convert(
            _edited(tmp_path, "ids", {"vocabulary": ["", "[UNK]", "[UNK]", "the", "cat", "sat", "on", "mat", "héllo"]}), tmp_path / "m.kif"
        )
    )
    ids = next(layer for layer in model.layers if layer.name == "ids")
    assert ids.attributes["vocabulary"] == ["the", "cat", "sat", "on", "mat", "héllo"]
    head, _, _ = kif.run(model, FEED).values()
    np.testing.assert_allclose(head, DATA["y"], rtol=1e-5, atol=1e-6)


def test_to_keras_refuses_without_tensorflow_naming_the_reason(tmp_path: Path) -> None:
    from kif.keras import to_keras

    model = kif.load(convert(FIXTURES / "lookup_model.keras", tmp_path / "m.kif"))
    with pytest.raises(KifError, match="runs TensorFlow ops under every backend") as info:
        to_keras(model)
    assert info.value.not_supported
