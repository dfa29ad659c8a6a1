"""Spec versions: writers stamp the lowest version a document needs, validators gate types and activation names.

spec/versioning.md, "Layer types and enumerated values carry their version" and "Which version a writer stamps".
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kif
from kif import catalog

ROOT = Path(__file__).resolve().parents[2]
NEW_ACTIVATIONS = {"celu", "glu", "hard_shrink", "hard_tanh", "log_sigmoid", "soft_shrink", "sparse_plus", "sparse_sigmoid",
                   "sparsemax", "squareplus", "tanh_shrink"}  # fmt: skip


def _dense(activation: str) -> kif.Model:
    b = kif.GraphBuilder("m")
    x = b.input("x", "float32", (None, 4))
    w = {"kernel": np.ones((4, 2), "float32"), "bias": np.zeros(2, "float32")}
    b.output(b.add("Dense", x, name="d", units=2, activation=activation, weights=w))
    return b.build()


def _written_version(model: kif.Model, path: Path, digests: str = "file") -> str:
    """The version written with whole-file digests: then only the layers decide it (per-tensor digests need 0.2.0)."""
    kif.save(model, path, digests=digests)
    doc: dict[str, Any] = json.loads((path / "model.json").read_text(encoding="utf-8"))
    return str(doc["kif_version"])


def test_current_version_is_0_2_0_and_reads_0_1() -> None:
    from kif import graph

    assert kif.SPEC_VERSION == "0.2.0" == graph.SPEC_VERSION
    assert (ROOT / "conformance" / "VERSION").read_text(encoding="utf-8").strip() == kif.SPEC_VERSION


def test_activation_since_map_matches_the_spec_page() -> None:
    """The schema's x-kif.since of the activation names lists exactly the names the page marks '(since 0.2.0)'."""
    page = (ROOT / "spec" / "layers" / "activations.md").read_text(encoding="utf-8")
    marked = {m.group(1): m.group(2) for m in re.finditer(r"^\| `([a-z_0-9]+)` \|.*\(since (\d+\.\d+\.\d+)\)", page, flags=re.M)}
    assert catalog.value_since()["activation"] == marked
    assert set(marked) == NEW_ACTIVATIONS and set(marked.values()) == {"0.2.0"}


@pytest.mark.parametrize(("activation", "expected"), [("relu", "0.1.0"), ("softmax", "0.1.0"), ("celu", "0.2.0"), ("sparsemax", "0.2.0")])
def test_save_stamps_the_minimum_version(tmp_path: Path, activation: str, expected: str) -> None:
    model = _dense(activation)
    assert model.kif_version is None and model.document_version() == expected
    assert _written_version(model, tmp_path / "m") == expected
    assert kif.validate(tmp_path / "m").ok


def test_per_tensor_digests_need_0_2_0(tmp_path: Path) -> None:
    assert _written_version(_dense("relu"), tmp_path / "t", digests="tensor") == "0.2.0"
    assert _written_version(_dense("relu"), tmp_path / "b", digests="both") == "0.2.0"
    kif.save(_dense("relu"), tmp_path / "d")  # the default form
    assert json.loads((tmp_path / "d" / "model.json").read_text(encoding="utf-8"))["kif_version"] == "0.2.0"


def test_a_0_2_0_layer_type_needs_0_2_0(tmp_path: Path) -> None:
    b = kif.GraphBuilder("pool")
    x = b.input("x", "float32", (None, 6, 3))
    b.output(b.add("AdaptiveAveragePooling1D", x, name="p", output_size=[2]))
    assert _written_version(b.build(), tmp_path / "m") == "0.2.0"


def test_nested_layers_count() -> None:
    inner = {"type": "Dense", "attributes": {"units": 2, "activation": "glu", "use_bias": True}}
    features = catalog.versioned_features("TimeDistributed", {"layer": inner})
    assert ("/attributes/layer/attributes/activation", "activation 'glu'", "0.2.0") in features
    assert catalog.required_version([{"type": "TimeDistributed", "attributes": {"layer": inner}}]) == "0.2.0"
    rnn = {"type": "LSTM", "attributes": {"activation": "tanh", "recurrent_activation": "hard_tanh"}}
    bidi = catalog.versioned_features("Bidirectional", {"forward": rnn, "backward": rnn})
    assert [p for p, _, v in bidi if v == "0.2.0"] == ["/attributes/forward/attributes/recurrent_activation",
                                                        "/attributes/backward/attributes/recurrent_activation"]  # fmt: skip


def test_rewrite_keeps_a_higher_version_and_raises_a_too_low_one(tmp_path: Path) -> None:
    model = _dense("relu")
    model.kif_version = "0.2.0"  # e.g. read from a 0.2.0 document: kept when written again
    assert _written_version(model, tmp_path / "a") == "0.2.0"
    loaded = kif.load(tmp_path / "a")
    assert loaded.kif_version == "0.2.0"
    old = _dense("relu")
    kif.save(old, tmp_path / "b", digests="file")
    edited = kif.load(tmp_path / "b")
    assert edited.kif_version == "0.1.0"
    edited.layers[0].attributes["activation"] = "celu"  # an edit that needs 0.2.0 raises the stamp
    assert _written_version(edited, tmp_path / "c") == "0.2.0"
    assert kif.validate(tmp_path / "c").ok


def _bundle_with(tmp_path: Path, doc_edit: Any) -> Path:
    tmp_path.mkdir(exist_ok=True)
    kif.save(_dense("relu"), tmp_path / "m", digests="file")
    doc = json.loads((tmp_path / "m" / "model.json").read_text(encoding="utf-8"))
    doc_edit(doc)
    (tmp_path / "m" / "model.json").write_text(json.dumps(doc), encoding="utf-8")
    return tmp_path / "m"


@pytest.mark.parametrize("name", sorted(NEW_ACTIVATIONS - {"glu"}))  # glu halves the last axis: a shape error too
def test_validator_refuses_a_0_2_0_activation_in_a_0_1_0_document(tmp_path: Path, name: str) -> None:
    path = _bundle_with(tmp_path, lambda d: d["layers"][0]["attributes"].update(activation=name))
    report = kif.validate(path)
    errors = [(f.code, f.pointer) for f in report.findings if f.severity == "error"]
    assert errors == [("layer-type-too-new", "/layers/0/attributes/activation")]
    assert name in str(report.findings[0]) and "0.2.0" in str(report.findings[0])
    with pytest.raises(kif.ValidationError, match=r"appeared in KIF 0\.2\.0"):
        kif.load(path)
    assert kif.validate(_bundle_with(tmp_path / "b", lambda d: d["layers"][0]["attributes"].update(activation=name)
                                     or d.update(kif_version="0.2.0"))).ok  # fmt: skip


def test_validator_refuses_a_nested_0_2_0_activation(tmp_path: Path) -> None:
    b = kif.GraphBuilder("td")
    x = b.input("x", "float32", (None, 3, 4))
    inner = {"type": "Dense", "attributes": {"units": 2, "activation": "relu", "use_bias": True}}
    w = {"kernel": np.ones((4, 2), "float32"), "bias": np.zeros(2, "float32")}
    b.output(b.add("TimeDistributed", x, name="td", layer=inner, weights=w))
    model = b.build()
    assert _written_version(model, tmp_path / "ok") == "0.1.0"
    doc = json.loads((tmp_path / "ok" / "model.json").read_text(encoding="utf-8"))
    doc["layers"][0]["attributes"]["layer"]["attributes"]["activation"] = "tanh_shrink"
    (tmp_path / "ok" / "model.json").write_text(json.dumps(doc), encoding="utf-8")
    report = kif.validate(tmp_path / "ok")
    assert [(f.code, f.pointer) for f in report.findings] == [("layer-type-too-new", "/layers/0/attributes/layer/attributes/activation")]
