"""tf_keras SavedModels whose lookup layers keep their vocabulary in a lookup table (kif/keras/savedmodel/lookup_tables.py).

The oracle is TensorFlow: fixtures/savedmodel_lookup/generate.py wrote each model and its outputs on raw inputs.
Damaged copies and hand-built saved_model.pb bytes give one kif error naming the file and the layer.
"""

from __future__ import annotations

import contextlib
import io
import random
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import kif
from kif.cli import main
from kif.errors import KifError
from kif.keras.convert import convert
from kif.keras.savedmodel.lookup_tables import SavedGraph, vocabulary

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "savedmodel_lookup"
OUTPUTS = np.load(FIXTURES / "outputs.npz")
MODELS = [
    "tfidf_adapted",
    "text_vocabulary_file",
    "string_lookup_adapted",
    "string_lookup_file",
    "string_lookup_invert",
    "integer_lookup_given",
    "integer_lookup_adapted",
    "integer_lookup_masked",
]
LAYER_TYPE = {"tfidf": "TextVectorization", "text": "TextVectorization", "string": "StringLookup", "integer": "IntegerLookup"}


@pytest.mark.parametrize("name", MODELS)
def test_savedmodel_lookup_model_reproduces_tensorflow(name: str, tmp_path: Path) -> None:
    out = tmp_path / "m.kif"
    convert(FIXTURES / name, out)
    assert kif.validate(out).ok
    model = kif.load(out)
    assert any(layer.type == LAYER_TYPE[name.split("_")[0]] for layer in model.layers)
    got = next(iter(kif.run(model, {model.inputs[0].name: OUTPUTS[name + "__in"]}).values()))
    if OUTPUTS[name].dtype.kind == "U":  # invert=True: ids back to tokens
        np.testing.assert_array_equal(got.astype(str), OUTPUTS[name])
    else:
        np.testing.assert_allclose(got, OUTPUTS[name], rtol=1e-5, atol=1e-6)


def test_savedmodel_and_keras_archive_give_the_same_text_vectorization(tmp_path: Path) -> None:
    # tf_keras wrote both files of one adapted model (fixtures/text/classifiers): the .keras keeps the vocabulary in its
    # assets, the SavedModel in the layer's lookup table; the KIF layer is the same
    classifiers = FIXTURES.parent / "text" / "classifiers"
    layers = []
    for file in ("tfkeras_int_adapted.keras", "tfkeras_int_adapted_savedmodel"):
        convert(classifiers / file, tmp_path / f"{file}.kif")
        layers.append(next(x for x in kif.load(tmp_path / f"{file}.kif").layers if x.type == "TextVectorization"))
    assert layers[0].attributes == layers[1].attributes and len(layers[0].attributes["vocabulary"]) == 33


def test_vocabulary_comes_from_the_table_and_the_asset(tmp_path: Path) -> None:
    # hand-read: the asset file the generator wrote, and the adapted order (frequency, then reverse lexical)
    convert(FIXTURES / "string_lookup_file", tmp_path / "a.kif")
    layer = next(x for x in kif.load(tmp_path / "a.kif").layers if x.type == "StringLookup")
    assert layer.attributes["vocabulary"] == (FIXTURES / "string_lookup_file" / "assets" / "words.txt").read_text("utf-8").split()
    convert(FIXTURES / "string_lookup_adapted", tmp_path / "b.kif")
    layer = next(x for x in kif.load(tmp_path / "b.kif").layers if x.type == "StringLookup")
    assert layer.attributes["vocabulary"] == ["fish", "dog", "cat", "bird"]


# --- damaged copies of the fixtures: one line, non-zero exit, nothing written


def _copy(name: str, tmp: Path) -> Path:
    return Path(shutil.copytree(FIXTURES / name, tmp / name))


def _patch(path: Path, old: bytes, new: bytes) -> None:
    data = path.read_bytes()
    assert len(old) == len(new) and old in data
    path.write_bytes(data.replace(old, new))


def _table_missing(tmp: Path) -> Path:
    saved = _copy("string_lookup_adapted", tmp)
    _patch(saved / "saved_model.pb", b"lookup_table", b"lookup_tablX")  # the layer's object has no table child
    return saved


def _values_not_indices(tmp: Path) -> Path:
    saved = _copy("string_lookup_adapted", tmp)
    values = struct.pack("<4q", 2, 3, 4, 5)  # the table maps fish, dog, cat, bird to 2..5 (mask and OOV first)
    _patch(saved / "saved_model.pb", values, struct.pack("<4q", 2, 3, 4, 9))
    return saved


def _asset_missing(tmp: Path) -> Path:
    saved = _copy("string_lookup_file", tmp)
    (saved / "assets" / "words.txt").unlink()
    return saved


def _asset_escapes(tmp: Path) -> Path:
    saved = _copy("string_lookup_file", tmp)
    (saved / "ds.txt").write_text("cat\n", "utf-8")  # would be read if ../ were followed
    _patch(saved / "saved_model.pb", b"words.txt", b"../ds.txt")
    return saved


def _asset_symlink_escapes(tmp: Path) -> Path:
    saved = _copy("string_lookup_file", tmp)
    outside = tmp / "outside.txt"
    outside.write_text("cat\n", "utf-8")
    (saved / "assets" / "words.txt").unlink()
    (saved / "assets" / "words.txt").symlink_to(outside)
    return saved


def _asset_not_utf8(tmp: Path) -> Path:
    saved = _copy("string_lookup_file", tmp)
    (saved / "assets" / "words.txt").write_bytes(b"cat\n\xff\xfe\n")
    return saved


CASES: dict[str, tuple[Callable[[Path], Path], str, str]] = {
    "table-missing": (_table_missing, "learned by adapt() and this file does not hold it", "'lookup'"),
    "values-not-indices": (_values_not_indices, "does not map its tokens to indices 2, 3", "saved_model.pb"),
    "asset-missing": (_asset_missing, "assets/words.txt is missing", "words.txt"),
    "asset-escapes": (_asset_escapes, "'../ds.txt' leaves the SavedModel's assets/ folder", "saved_model.pb"),
    "asset-symlink-escapes": (_asset_symlink_escapes, "'words.txt' leaves the SavedModel's assets/ folder", "'lookup'"),
    "asset-not-utf8": (_asset_not_utf8, "is not UTF-8 text", "words.txt"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_damaged_lookup_table_is_one_kif_error(case: str, tmp_path: Path) -> None:
    make, says, names = CASES[case]
    src = make(tmp_path / "in")
    dst = tmp_path / "out.kif"
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = main(["convert", str(src), str(dst)])
    message = err.getvalue().strip()
    assert status != 0
    assert "\n" not in message and message.startswith("kif convert: [convert-"), message
    assert says in message and names in message and "'lookup'" in message, message
    assert not dst.exists()


# --- hand-built saved_model.pb bytes (protobuf wire format written here, field numbers from lookup_tables.py)


def _varint(n: int) -> bytes:
    out = b""
    while True:
        byte, n = n & 0x7F, n >> 7
        out += bytes([byte | (0x80 if n else 0)])
        if not n:
            return out


def _f(number: int, payload: bytes | int) -> bytes:
    if isinstance(payload, int):
        return _varint(number << 3) + _varint(payload)
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _const(name: str, dtype: int, dim: int, body: bytes) -> bytes:
    tensor = _f(1, dtype) + _f(2, _f(2, _f(1, dim))) + body
    return _f(1, _f(1, name.encode()) + _f(2, b"Const") + _f(5, _f(1, b"value") + _f(2, _f(8, tensor))))


def _saved_model(keys: bytes, values: bytes, bound: list[int]) -> bytes:
    child = lambda name, node: _f(1, _f(1, node) + _f(2, name.encode()))  # noqa: E731
    nodes = [
        child("layer_with_weights-0", 1),
        child("lookup_table", 2) + _f(4, _f(1, b"_tf_keras_layer")),
        child("_initialize", 3) + _f(10, b""),
        _f(6, _f(1, b"init_fn")),
        _f(9, _f(1, b"keys")),
        _f(9, _f(1, b"values")),
    ]
    functions = _f(2, _f(1, b"init_fn") + _f(2, _f(2, b"".join(_varint(b) for b in bound))))
    objects = b"".join(_f(1, n) for n in nodes) + functions
    return _f(2, _f(2, keys + values) + _f(7, objects))


def _strings(*tokens: bytes) -> bytes:
    return b"".join(_f(8, t) for t in tokens)


def _int64s(*items: int) -> bytes:
    return _f(4, struct.pack(f"<{len(items)}q", *items))


def _graph(tmp_path: Path, data: bytes) -> SavedGraph:
    (tmp_path / "saved_model.pb").write_bytes(data)
    return SavedGraph(tmp_path)


def test_hand_built_table_reads_keys_and_values(tmp_path: Path) -> None:
    data = _saved_model(_const("keys", 7, 3, _strings(b"a", b"\xc3\xa9", b"c")), _const("values", 9, 3, _int64s(1, 2, 3)), [2, 4, 5])
    graph = _graph(tmp_path, data)
    table = graph.table("root.layer_with_weights-0", "lookup")
    assert table is not None and table.keys == ["a", "é", "c"] and table.values == [1, 2, 3]
    assert vocabulary(table, 1, "lookup", graph.file, integers=False) == ["a", "é", "c"]
    with pytest.raises(KifError, match="does not map its tokens to indices 2, 3"):
        vocabulary(table, 2, "lookup", graph.file, integers=False)
    with pytest.raises(KifError, match="holds strings"):
        vocabulary(table, 1, "lookup", graph.file, integers=True)
    assert graph.table("root.layer-9", "other") is None  # no such object: the mapper's own refusal follows


@pytest.mark.parametrize(
    ("keys", "values", "bound", "says"),
    [
        (_const("keys", 7, 3, _strings(b"a", b"b", b"c")), _const("values", 9, 2, _int64s(1, 2)), [2, 4, 5], "3 keys and 2 values"),
        (_const("keys", 7, 3, _strings(b"a", b"b")), _const("values", 9, 3, _int64s(1, 2, 3)), [2, 4, 5], "2 strings for shape [3]"),
        (_const("keys", 7, 2, _strings(b"a", b"\xff")), _const("values", 9, 2, _int64s(1, 2)), [2, 4, 5], "not UTF-8"),
        (_const("keys", 7, 1, _strings(b"a")), _const("values", 9, 1, _f(4, b"\0" * 5)), [2, 4, 5], "5 bytes for shape [1]"),
        (_const("other", 7, 1, _strings(b"a")), _const("values", 9, 1, _int64s(1)), [2, 4, 5], "constant 'keys', which the graph lacks"),
        (_const("keys", 7, 1, _strings(b"a")), _const("values", 9, 1, _int64s(1)), [2, 4], "neither two constants"),
        (_const("keys", 7, 1, _strings(b"a")), _const("values", 9, 1, _int64s(1)), [2, 4, 99], "an object saved_model.pb does not hold"),
        (_const("keys", 1, 1, _f(4, b"\0" * 4)), _const("values", 9, 1, _int64s(1)), [2, 4, 5], "dtype 1, neither"),
    ],
)
def test_hand_built_hostile_table_is_one_kif_error(tmp_path: Path, keys: bytes, values: bytes, bound: list[int], says: str) -> None:
    graph = _graph(tmp_path, _saved_model(keys, values, bound))
    with pytest.raises(KifError) as err:
        graph.table("root.layer_with_weights-0", "lookup")
    assert says in str(err.value) and "'lookup'" in str(err.value)
    assert err.value.file is not None and err.value.file.endswith("saved_model.pb")


def test_fuzzed_saved_model_bytes_give_a_kif_error_or_a_table(tmp_path: Path) -> None:
    original = (FIXTURES / "string_lookup_adapted" / "saved_model.pb").read_bytes()
    rng = random.Random(12)
    for _ in range(60):
        data = bytearray(original)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        (tmp_path / "saved_model.pb").write_bytes(bytes(data))
        with contextlib.suppress(KifError):  # anything else (a traceback) fails the test
            SavedGraph(tmp_path).table("root.layer_with_weights-0", "lookup")
