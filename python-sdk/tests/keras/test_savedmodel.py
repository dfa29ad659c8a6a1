"""tf.keras SavedModel directories convert without TensorFlow: every fixture written by tf_keras 2.21
(python-sdk/tests/fixtures/savedmodel/generate.py, run by hand) converts, validates, and the reference
runtime reproduces TensorFlow's own outputs; the bundle equals the one converted from the .h5 of the same
model (graph and weights). Whole-model tolerance as for the other Keras fixtures (rtol = atol = 1e-4).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import kif
from kif.keras import convert
from kif.keras.savedmodel.metadata import read_keras_metadata

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "savedmodel"
MODEL_RTOL = MODEL_ATOL = 1e-4
MODELS = sorted(p.parent.name for p in FIXTURES.glob("*/fixture.json") if json.loads(p.read_text())["h5"])


def test_fixture_set_covers_the_brief() -> None:
    assert {"mlp_activations", "cnn_bn_pool", "lstm_masked_text", "gru_bidirectional", "functional_multi_io"} <= set(MODELS)
    assert {"nested_model", "masking_lstm", "attention_block", "sharded_mlp", "optimizer_state"} <= set(MODELS)
    shards = json.loads((FIXTURES / "sharded_mlp" / "fixture.json").read_text())["shards"]
    assert shards == len(list((FIXTURES / "sharded_mlp" / "saved" / "variables").glob("variables.data-*"))) > 1


def _run(bundle: Path, folder: Path) -> list[np.ndarray]:
    meta = json.loads((folder / "fixture.json").read_text())
    model = kif.load(bundle)
    assert [s.name for s in model.inputs] == meta["input_order"]
    inputs = dict(np.load(folder / "inputs.npz"))
    return list(kif.run(model, {name: inputs[name] for name in meta["input_order"]}).values())


@pytest.mark.parametrize("name", MODELS)
def test_savedmodel_converts_and_reproduces_tensorflow(name: str, tmp_path: Path) -> None:
    folder = FIXTURES / name
    bundle = convert(folder / "saved", tmp_path / "model.kif")
    report = kif.validate(bundle)
    assert report.ok, [str(f) for f in report.errors]
    expected = np.load(folder / "outputs.npz")
    keys = json.loads((folder / "fixture.json").read_text())["outputs"]
    outputs = _run(bundle, folder)
    assert len(outputs) == len(keys)
    for got, key in zip(outputs, keys, strict=True):
        np.testing.assert_allclose(got, expected[key], rtol=MODEL_RTOL, atol=MODEL_ATOL, err_msg=name)


def _comparable(bundle: Path) -> tuple[dict, dict[str, np.ndarray]]:
    model = kif.load(bundle)
    document = json.loads((bundle / "model.json").read_text())
    for key in ("producer", "metadata"):
        document.pop(key, None)  # the source format and its writer differ by construction
    document.pop("weights", None)  # file digests: compared tensor by tensor below
    return document, {name: np.asarray(model.weights[name]) for name in model.weights}


@pytest.mark.parametrize("name", MODELS)
def test_savedmodel_bundle_equals_the_h5_bundle(name: str, tmp_path: Path) -> None:
    folder = FIXTURES / name
    from_saved = _comparable(convert(folder / "saved", tmp_path / "saved"))
    from_h5 = _comparable(convert(folder / "model.h5", tmp_path / "h5"))
    assert from_saved[0] == from_h5[0], "same graph document"
    assert sorted(from_saved[1]) == sorted(from_h5[1])
    for tensor, value in from_h5[1].items():
        assert from_saved[1][tensor].dtype == value.dtype
        np.testing.assert_array_equal(from_saved[1][tensor], value, err_msg=tensor)


def test_the_saved_model_pb_path_converts_like_the_directory(tmp_path: Path) -> None:
    folder = FIXTURES / "nested_model"
    bundle = convert(folder / "saved" / "saved_model.pb", tmp_path / "model.kif")
    assert kif.load(bundle).metadata["source_format"] == "savedmodel"
    np.testing.assert_allclose(_run(bundle, folder)[0], np.load(folder / "outputs.npz")["output_0"], rtol=1e-4, atol=1e-4)


def _varint(value: int) -> bytes:
    out = b""
    while value >= 0x80:
        out += bytes([(value & 0x7F) | 0x80])
        value >>= 7
    return out + bytes([value])


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field, hand-encoded."""
    return bytes([number << 3 | 2]) + _varint(len(payload)) + payload


def test_tf_2_4_metadata_inside_saved_model_pb_is_read(tmp_path: Path) -> None:
    """TF 2.0-2.4 wrote no keras_metadata.pb: the Keras metadata sat in the SavedObjectGraph's user
    objects. Build such a saved_model.pb (root → child layer) from the fixture's own metadata."""
    folder = FIXTURES / "mlp_activations"
    saved = tmp_path / "saved"
    shutil.copytree(folder / "saved" / "variables", saved / "variables")
    objects = read_keras_metadata(folder / "saved" / "keras_metadata.pb")
    order = {obj.node_path: index for index, obj in enumerate(objects)}
    nodes = b""
    for obj in objects:
        children = b"".join(
            _field(1, bytes([8, order[child.node_path]]) + _field(2, child.node_path.rpartition(".")[2].encode()))
            for child in objects
            if child.node_path.rpartition(".")[0] == obj.node_path
        )
        user = _field(1, obj.identifier.encode()) + _field(3, obj.metadata.encode())
        nodes += _field(1, children + _field(4, user))
    meta_graph = _field(1, _field(4, b"serve") + _field(5, b"2.4.0")) + _field(7, nodes)
    (saved / "saved_model.pb").write_bytes(_field(2, meta_graph))
    bundle = convert(saved, tmp_path / "model.kif")
    np.testing.assert_allclose(_run(bundle, folder)[0], np.load(folder / "outputs.npz")["output_0"], rtol=1e-4, atol=1e-4)
