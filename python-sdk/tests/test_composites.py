"""Composite layer types (spec/composites.md): a namespaced type defined in the document as a subgraph of catalog
layers, with typed parameters and weight roles. Expected values are hand-derived with NumPy from the body's math
(Dense, relu/tanh, Add), never from the runtime under test."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kif
from kif.graph import Layer, Model, TensorSpec

RESIDUAL = "acme.blocks:ResidualMLP"
DEFINITION: dict[str, Any] = {
    "description": "y = x + W2 act(W1 x + b1) + b2",
    "parameters": {"hidden": {"type": "integer"}, "act": {"type": "string", "default": "relu"}},
    "inputs": ["x"],
    "outputs": ["y"],
    "weights": ["w1", "b1", "w2", "b2"],
    "layers": [
        {"name": "up", "type": "Dense", "attributes": {"units": {"$param": "hidden"}, "activation": {"$param": "act"}, "use_bias": True},
         "inputs": ["x"], "outputs": ["h"], "weights": {"kernel": "w1", "bias": "b1"}},
        {"name": "down", "type": "Dense", "attributes": {"units": 4, "activation": "linear", "use_bias": True},
         "inputs": ["h"], "outputs": ["d"], "weights": {"kernel": "w2", "bias": "b2"}},
        {"name": "add", "type": "Add", "attributes": {}, "inputs": ["x", "d"], "outputs": ["y"], "weights": {}},
    ],
}  # fmt: skip
P = "/composites/acme.blocks:ResidualMLP"  # the definition's pointer
RNG = np.random.default_rng(7)
W = {f"{block}/{role}": RNG.normal(size=shape).astype("float32") for block in ("r1", "r2")
     for role, shape in (("w1", (4, 6)), ("b1", (6,)), ("w2", (6, 4)), ("b2", (4,)))}  # fmt: skip


def _call(name: str, source: str, attributes: dict[str, Any]) -> Layer:
    return Layer(name, RESIDUAL, attributes, [source], [name], {r: f"{name}/{r}" for r in ("w1", "b1", "w2", "b2")})


def _model(definition: dict[str, Any] | None = None) -> Model:
    layers = [_call("r1", "x", {"hidden": 6}), _call("r2", "r1", {"hidden": 6, "act": "tanh"})]
    return Model(
        "residual",
        [TensorSpec("x", "float32", (None, 4))],
        [TensorSpec("r2", "float32", (None, 4))],
        layers,
        dict(W),
        composites={RESIDUAL: definition or DEFINITION},
    )


def _expected(x: np.ndarray) -> np.ndarray:
    h = np.maximum(x @ W["r1/w1"] + W["r1/b1"], 0)
    r1 = x + h @ W["r1/w2"] + W["r1/b2"]
    h = np.tanh(r1 @ W["r2/w1"] + W["r2/b1"])
    return r1 + h @ W["r2/w2"] + W["r2/b2"]


def _doc(path: Path) -> dict[str, Any]:
    return json.loads((path / "model.json").read_text(encoding="utf-8"))


def test_a_composite_runs_as_its_body_with_parameters_and_defaults(tmp_path: Path) -> None:
    bundle = kif.save(_model(), tmp_path / "m")
    doc = _doc(bundle)
    assert doc["kif_version"] == "0.2.0" and doc["composites"][RESIDUAL] == DEFINITION
    assert [layer["type"] for layer in doc["layers"]] == [RESIDUAL, RESIDUAL], "the document keeps the calls"
    assert kif.validate(bundle).ok
    x = np.linspace(-2, 2, 12, dtype="float32").reshape(3, 4)
    np.testing.assert_allclose(kif.load(bundle)(x)["r2"], _expected(x), rtol=1e-5, atol=1e-5)
    inlined = kif.load(bundle).inlined()
    assert [layer.name for layer in inlined.layers] == ["r1/up", "r1/down", "r1/add", "r2/up", "r2/down", "r2/add"]
    assert inlined.layers[0].attributes == {"units": 6, "activation": "relu", "use_bias": True}  # the default
    assert inlined.layers[3].attributes["activation"] == "tanh" and inlined.layers[2].outputs == ["r1"]


def _refused(tmp_path: Path, edit: Any) -> list[tuple[str, str | None]]:
    bundle = kif.save(_model(), tmp_path / "m", overwrite=True)
    doc = _doc(bundle)
    edit(doc)
    (bundle / "model.json").write_text(json.dumps(doc), encoding="utf-8")
    report = kif.validate(bundle)
    with pytest.raises(kif.ValidationError):
        kif.load(bundle)
    return [(f.code, f.pointer) for f in report.errors]


def _body(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["composites"][RESIDUAL]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: _body(d)["layers"][1].update(inputs=["nowhere"]), ("graph-dangling-reference", P + "/layers/1/inputs/0")),
        (lambda d: _body(d)["layers"][0]["attributes"].update(units={"$param": "width"}), ("layer-attribute-invalid", P + "/layers/0/attributes/units")),  # noqa: E501
        (lambda d: _body(d)["layers"][0]["weights"].update(kernel="w9"), ("layer-weight-unknown", P + "/layers/0/weights/kernel")),
        (lambda d: _body(d).update(outputs=["zz"]), ("graph-output-unproduced", P + "/outputs/0")),
        (lambda d: _body(d)["layers"][2].update(type="acme.blocks:ResidualMLP"), ("composite-recursive", P)),
        (lambda d: _body(d)["layers"][0].update(type="Dence"), ("layer-type-unknown", P + "/layers/0/type")),
        (lambda d: d["layers"][0]["attributes"].update(depth=3), ("layer-attribute-unknown", "/layers/0/attributes/depth")),
        (lambda d: d["layers"][0]["attributes"].update(hidden="six"), ("layer-attribute-invalid", "/layers/0/attributes/hidden")),
        (lambda d: d["layers"][0]["attributes"].pop("hidden"), ("layer-attribute-missing", "/layers/0/attributes")),
        (lambda d: d["layers"][0]["attributes"].update(act="no_such_activation"), ("layer-attribute-invalid", "/layers/0")),
        (lambda d: d["layers"][0]["weights"].pop("b2"), ("layer-weight-missing", "/layers/0/weights")),
        (lambda d: d["layers"][0]["attributes"].update(hidden=5), ("shape-mismatch", "/layers/0")),
        (lambda d: d.update(kif_version="0.1.0"), ("schema-violation", "/composites")),
    ],
    ids=["dangling", "unknown-param", "unknown-role", "unproduced", "recursive", "unknown-type", "call-unknown-attr",
         "call-bad-type", "call-missing", "inlined-invalid", "call-missing-role", "shape-at-call", "too-old"],
)  # fmt: skip
def test_each_broken_definition_or_call_is_one_finding_at_its_place(tmp_path: Path, edit: Any, expected: tuple[str, str]) -> None:
    found = _refused(tmp_path, edit)
    code, where = expected
    assert any(c == code and (p or "").startswith(where) for c, p in found), found


def test_mutual_recursion_is_refused_without_recursing(tmp_path: Path) -> None:
    def edit(doc: dict[str, Any]) -> None:
        other = copy.deepcopy(_body(doc))
        other["layers"][2]["type"] = RESIDUAL
        doc["composites"]["acme.blocks:Other"] = other
        _body(doc)["layers"][2]["type"] = "acme.blocks:Other"

    found = _refused(tmp_path, edit)
    assert ("composite-recursive", P) in found


def test_importers_see_the_inlined_graph(tmp_path: Path) -> None:
    import onnxruntime
    import torch

    from kif.onnx import export
    from kif.torch import load as torch_load

    bundle = kif.save(_model(), tmp_path / "m")
    x = np.linspace(-2, 2, 12, dtype="float32").reshape(3, 4)
    with torch.no_grad():
        got = torch_load(bundle)(torch.from_numpy(x))
    np.testing.assert_allclose(got.numpy(), _expected(x), rtol=1e-5, atol=1e-5)
    path = export(kif.load(bundle), tmp_path / "m.onnx")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    [onnx_out] = session.run(None, {"x": x})
    np.testing.assert_allclose(onnx_out, _expected(x), rtol=1e-5, atol=1e-5)
