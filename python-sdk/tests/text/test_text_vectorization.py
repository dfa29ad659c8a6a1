"""TextVectorization against TensorFlow 2.21 (the definition): the layer fixtures of fixtures/text/cases.json and the
text classifiers of fixtures/text/classifiers, saved by tf_keras 2.21 and Keras 3.15, converted and run on raw strings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kif
from kif.builder import GraphBuilder
from kif.errors import KifError
from kif.keras import convert
from kif.keras.mapping import Context, map_node
from kif.keras.topology import Node
from kif.keras.weights import LayerWeights
from kif.layers import _text_standardize as text

FIXTURES = Path(__file__).parent.parent / "fixtures" / "text"
CASES = json.loads((FIXTURES / "cases.json").read_text(encoding="utf-8"))["cases"]
ARRAYS = np.load(FIXTURES / "cases.npz")
TV_CASES = sorted(name for name, case in CASES.items() if case["class"] == "TextVectorization")
CLASSIFIERS = FIXTURES / "classifiers"
MANIFEST = json.loads((CLASSIFIERS / "manifest.json").read_text(encoding="utf-8"))
OUTPUTS = np.load(CLASSIFIERS / "outputs.npz")


def _mapped(config: dict[str, Any], weights: dict[str, np.ndarray] | None = None, asset: bytes | None = None) -> Any:
    node = Node("tv", "tv", "TextVectorization", config, (), ["text"], outputs=["tv"], save_path=("text_vectorization",))
    items = [(f"vars/{role}", value) for role, value in (weights or {}).items()]
    ctx = Context(node, 3, lambda: LayerWeights("tv", items), asset=lambda member: asset if member.endswith("vocabulary.txt") else None)
    return map_node(ctx)[0]


def _model(mapped: Any, shape: list[int | None]) -> kif.Model:
    b = GraphBuilder("tv")
    x = b.input("text", "string", shape)
    weights = {role: np.asarray(value, np.float32) for role, value in mapped.weights.items()}
    b.output(b.add("TextVectorization", x, name="tv", weights=weights, **mapped.attributes))
    return b.build()


@pytest.mark.parametrize("name", TV_CASES)
def test_layer_matches_tensorflow(name: str) -> None:
    case = CASES[name]
    # get_vocabulary() with the reserved tokens, as a config holds it (assets/vocabulary.txt is one token a line:
    # tv_None_None has a token with line breaks, which Keras's own asset cannot carry; the classifiers test assets)
    config = {**case["config"], "vocabulary": case["vocabulary"]}
    idf = {"idf_weights": ARRAYS[case["weights"]["idf_weights"]]} if "idf_weights" in case["weights"] else None
    mapped = _mapped(config, idf)
    x = ARRAYS[case["input"]]
    want = ARRAYS[case["output"]]
    got = kif.run(_model(mapped, [None, *x.shape[1:]]), {"text": x})["tv"]
    assert got.dtype == (np.int64 if mapped.attributes["output_mode"] == "int" else np.float32)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def test_fixtures_cover_every_mode_split_and_standardize() -> None:
    seen = {(CASES[n]["config"][k]) for n in TV_CASES for k in ("output_mode",)}
    assert seen == {"int", "multi_hot", "count", "tf_idf"}
    assert {CASES[n]["config"]["split"] for n in TV_CASES} == {"whitespace", "character", None}
    assert {CASES[n]["config"]["standardize"] for n in TV_CASES} == {"lower_and_strip_punctuation", "lower", "strip_punctuation", None}


def test_standardize_hand_derived() -> None:
    # tf.strings.lower without encoding lowers ASCII only; the regex class is exactly the 32 ASCII punctuation marks.
    assert text.standardize("ÀbC Σ İ!", "lower") == "Àbc Σ İ!"
    assert text.standardize("a—b ¿c? d'e", "strip_punctuation") == "a—b ¿c de"
    assert sorted(text.PUNCTUATION) == sorted("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
    assert text.split("a\u00a0b\u3000c\x1cd\x0be\x85f\u2028g\tz  y\r\nx\fw", "whitespace") == [
        "a\u00a0b\u3000c\x1cd",
        "e\x85f\u2028g",
        "z",
        "y",
        "x",
        "w",
    ]  # what tf.strings.split printed for this string in TF 2.21
    assert text.split("🙂é", "character") == ["🙂", "é"]
    assert text.ngrams(["a", "b", "c"], [1, 3]) == ["a", "b", "c", "a b c"]
    assert text.ngrams(["d"], [2]) == []


CLASSIFIER_FILES = [(stem, file) for stem, info in MANIFEST["models"].items() for file in info["files"]]
# an adapted layer's .h5 (a tf_keras SavedModel keeps the vocabulary in its lookup table: it converts)
ADAPTED_H5 = {(s, f) for s, f in CLASSIFIER_FILES if f.endswith(".h5") and "adapted" in s}


@pytest.mark.parametrize(("stem", "file"), sorted(set(CLASSIFIER_FILES) - ADAPTED_H5))
def test_classifier_converts_and_reproduces_tensorflow(stem: str, file: str, tmp_path: Path) -> None:
    out = tmp_path / "m.kif"
    convert(CLASSIFIERS / file, out)
    assert kif.validate(out).ok
    model = kif.load(out)
    assert model.inputs[0].dtype == "string"
    raw = OUTPUTS["text"]
    got = next(iter(kif.run(model, {"text": raw}).values()))
    np.testing.assert_allclose(got, OUTPUTS[stem], rtol=1e-5, atol=1e-6)
    tokens = kif.run(_inner(model), {"text": raw})["vectorized"]
    np.testing.assert_array_equal(tokens, OUTPUTS[stem + "__tokens"])


def _inner(model: kif.Model) -> kif.Model:
    """The converted TextVectorization alone (its ids or tf_idf vector are compared too)."""
    layer = next(layer for layer in model.layers if layer.type == "TextVectorization")
    b = GraphBuilder("tv")
    x = b.input("text", "string", list(model.inputs[0].shape))
    weights = {role: np.asarray(model.weights[name]) for role, name in layer.weights.items()}
    b.output(b.add("TextVectorization", x, name="vectorized", weights=weights, **layer.attributes))
    return b.build()


@pytest.mark.parametrize(("stem", "file"), sorted(ADAPTED_H5))
def test_adapted_vocabulary_lost_by_h5_is_refused(stem: str, file: str, tmp_path: Path) -> None:
    with pytest.raises(KifError, match="does not hold it") as err:
        convert(CLASSIFIERS / file, tmp_path / "m.kif")
    assert err.value.code == "convert-unsupported"
    assert not (tmp_path / "m.kif").exists()


def test_tf_keras_refuses_h5_of_adapted_layers() -> None:
    # the writer itself refused, so no such file exists to convert (recorded by the generator)
    assert set(MANIFEST["h5_refused"]) == {"tfkeras_int_adapted", "tfkeras_tfidf_adapted"}


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"standardize": "my_pkg>clean"}, "standardize='my_pkg>clean'"),
        ({"split": {"class_name": "function"}}, "option split="),
        ({"output_mode": "one_hot"}, "output_mode='one_hot'"),
        ({"ragged": True}, "ragged=True"),
        ({"encoding": "latin-1"}, "encoding='latin-1'"),
        ({"vocabulary": ["a"], "lowercase_unicode": True}, "lowercase_unicode=True"),
        ({"vocabulary": "/home/me/vocab.txt"}, "path '/home/me/vocab.txt'"),
        ({"vocabulary": ["a", "a"]}, "distinct"),
        ({"vocabulary": ["a"], "vocabulary_size": 9}, "vocabulary_size=9"),
        ({"vocabulary": ["a"], "ngrams": 0}, "ngrams"),
        ({"vocabulary": ["a"], "output_mode": "tf_idf"}, "idf weights"),
    ],
)
def test_unrepresentable_options_are_refused(change: dict[str, Any], needle: str) -> None:
    config = {"standardize": "lower", "split": "whitespace", "output_mode": "int", "vocabulary": None, **change}
    with pytest.raises(KifError, match=None) as err:
        mapped = _mapped(config, asset=b"\n[UNK]\nx")
        _model(mapped, [None])
    assert needle in err.value.message


def test_hostile_strings_give_one_kif_error() -> None:
    mapped = _mapped({"vocabulary": ["a"], "split": "character", "ngrams": [1, 2, 3]})
    model = _model(mapped, [None])
    with kif.limits.override(max_tensor_elements=100), pytest.raises(KifError) as err:
        kif.run(model, {"text": np.array(["x" * 200])})
    assert err.value.code == "limit-exceeded"
    with pytest.raises(KifError):
        kif.run(model, {"text": np.array([1.0])})


def test_non_utf8_vocabulary_asset_is_refused() -> None:
    with pytest.raises(KifError, match="UTF-8") as err:
        _mapped({"output_mode": "int", "vocabulary": None}, asset=b"\n[UNK]\n\xff\xfe")
    assert err.value.code == "convert-unsupported"


def test_reserved_tokens_come_off_the_asset_and_ngrams_widen() -> None:
    mapped = _mapped({"output_mode": "count", "ngrams": 3, "vocabulary": None}, asset="[UNK]\nb\nà b\n".encode())
    assert mapped.attributes["vocabulary"] == ["b", "à b"]
    assert mapped.attributes["ngrams"] == [1, 2, 3]
    got = kif.run(_model(mapped, [None]), {"text": np.array(["À B b", "à b"])})["tv"]
    # hand-derived: "À B b" -> lower (ASCII only) "À b b" -> 1-grams À b b, 2-grams "À b" "b b", 3-gram "À b b":
    # OOV 4 (À is not à), b 2; "à b" -> à (OOV), b, "à b"
    np.testing.assert_array_equal(got, [[4, 2, 0], [1, 1, 1]])


def test_to_keras_rebuilds_with_tensorflow_and_refuses_without(tmp_path: Path) -> None:
    import importlib.util

    pytest.importorskip("keras")
    from kif.keras import to_keras

    out = tmp_path / "m.kif"
    convert(CLASSIFIERS / "keras3_tfidf_adapted.keras", out)
    if importlib.util.find_spec("tensorflow") is None:  # the test environment: Keras's layer needs TensorFlow
        with pytest.raises(KifError, match="needs TensorFlow installed") as err:
            to_keras(out)
        assert err.value.code == "layer-unsupported"
    else:  # where TensorFlow is installed, the rebuilt Keras model reproduces TensorFlow's outputs
        got = np.asarray(to_keras(out)(OUTPUTS["text"]))
        np.testing.assert_allclose(got, OUTPUTS["keras3_tfidf_adapted"], rtol=1e-5, atol=1e-6)


def test_cli_converts_and_runs_raw_strings_from_json(tmp_path: Path) -> None:
    import subprocess
    import sys

    bundle, feed, result = tmp_path / "m.kif", tmp_path / "in.json", tmp_path / "out.npz"
    feed.write_text(json.dumps({"text": OUTPUTS["text"].tolist()}, ensure_ascii=False), encoding="utf-8")
    for argv in (
        ["convert", str(CLASSIFIERS / "tfkeras_int_adapted.keras"), str(bundle)],
        ["run", str(bundle), "--inputs", str(feed), "--output", str(result)],
    ):
        done = subprocess.run([sys.executable, "-m", "kif", *argv], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
    got = np.load(result)
    np.testing.assert_allclose(got[next(iter(got.files))], OUTPUTS["tfkeras_int_adapted"], rtol=1e-5, atol=1e-6)
