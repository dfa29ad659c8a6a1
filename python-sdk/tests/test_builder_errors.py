"""Builder mistakes fail at the call that makes them, and every SDK error is a KifError.

A few tests pin exact message strings (Keras style "Expected … Received: …"); the
rest check code and pointer, which are the same ones ``kif.validate`` reports for
the written document.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import kif
from kif.errors import GraphError, UnsupportedLayerError, UsageError

KERNEL = np.ones((3, 2), "float32")
BIAS = np.zeros(2, "float32")


def _builder() -> tuple[kif.GraphBuilder, str]:
    b = kif.GraphBuilder("m")
    return b, b.input("x", "float32", (None, 3))


# -- exact messages ---------------------------------------------------------------


def test_unknown_attribute_message() -> None:
    b, x = _builder()
    with pytest.raises(kif.KifError) as caught:
        b.add("Dense", x, name="dense", units=2, kernel_initializer="ones")
    assert str(caught.value) == (
        "[layer-attribute-unknown] Layer 'dense' (Dense): unknown attribute 'kernel_initializer'. "
        "Expected one of: activation, units, use_bias. Received: kernel_initializer='ones' "
        "(at /layers/0/attributes/kernel_initializer)"
    )


def test_missing_attribute_message() -> None:
    b, x = _builder()
    with pytest.raises(kif.KifError) as caught:
        b.add("Dense", x, name="dense", activation="relu")
    assert str(caught.value) == (
        "[layer-attribute-missing] Layer 'dense' (Dense): expected a value for 'units', which has no default. "
        "Received: no units argument (at /layers/0/attributes/units)"
    )


def test_invalid_attribute_value_message() -> None:
    b, x = _builder()
    with pytest.raises(kif.KifError) as caught:
        b.add("Dense", x, name="dense", units=0)
    assert str(caught.value) == (
        "[layer-attribute-invalid] Layer 'dense' (Dense): expected units to satisfy the Dense schema "
        "(0 is less than the minimum of 1). Received: units=0 (at /layers/0/attributes/units)"
    )


def test_unknown_tensor_message() -> None:
    b, _ = _builder()
    with pytest.raises(kif.KifError) as caught:
        b.add("Dense", "nope", name="dense", units=2)
    assert str(caught.value) == (
        "[graph-dangling-reference] Layer 'dense' (Dense): expected each input to be a tensor of the graph. "
        "Received: inputs[0]='nope' (at /layers/0/inputs/0)"
    )


def test_duplicate_layer_name_message() -> None:
    b, x = _builder()
    b.add("Dense", x, name="dense", units=2, weights={"kernel": KERNEL, "bias": BIAS})
    with pytest.raises(kif.KifError) as caught:
        b.add("Identity", x, name="dense")
    assert str(caught.value) == "[graph-duplicate-name] Expected a unique layer name. Received: name='dense' (at /layers/1/name)"


def test_duplicate_input_name_message() -> None:
    b, _ = _builder()
    with pytest.raises(kif.KifError) as caught:
        b.input("x", "float32", (None, 3))
    assert str(caught.value) == "[graph-duplicate-tensor] Expected a tensor name not used yet. Received: 'x' (at /inputs/1/name)"


# -- codes and pointers -----------------------------------------------------------


def _fails(code: str, pointer: str | None, call: object, *args: object, **kwargs: object) -> kif.KifError:
    with pytest.raises(kif.KifError) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    assert (caught.value.code, caught.value.pointer) == (code, pointer), str(caught.value)
    return caught.value


def test_layer_output_reusing_a_tensor_name() -> None:
    b, x = _builder()
    b.add("Identity", x, name="y")
    _fails("graph-duplicate-tensor", "/layers/1/outputs/0", b.add, "Identity", x, name="x")


def test_unknown_tensor_in_later_slot() -> None:
    b, x = _builder()
    _fails("graph-dangling-reference", "/layers/0/inputs/1", b.add, "Add", [x, "missing"])


def test_unknown_shared_weight() -> None:
    b, x = _builder()
    _fails("weights-reference-unknown", "/layers/0/weights/kernel", b.add, "Dense", x, units=2, weights={"kernel": "other/kernel"})


def test_unknown_layer_type() -> None:
    b, x = _builder()
    error = _fails("layer-type-unknown", None, b.add, "Frobnicate", x)
    assert isinstance(error, UnsupportedLayerError)
    assert "Known types: " in str(error) and "Dense" in str(error)


def test_invalid_names_and_dtypes() -> None:
    b, _ = _builder()
    _fails("schema-violation", "/inputs/1/dtype", b.input, "y", "float8", (None, 3))
    _fails("schema-violation", "/inputs/1/name", b.input, "has space", "float32", (None, 3))
    _fails("schema-violation", "/layers/0/name", b.add, "Identity", "x", name="../up")


def test_outputs() -> None:
    b, x = _builder()
    _fails("graph-output-unproduced", "/outputs/0/name", b.output, "nope")
    b.output(x)
    _fails("graph-duplicate-name", "/outputs/1/name", b.output, x)


def test_reuse_unknown_layer() -> None:
    b, x = _builder()
    error = _fails("graph-dangling-reference", None, b.reuse, "nope", x)
    assert "Received: 'nope'" in str(error)


def test_unknown_model_field() -> None:
    b, x = _builder()
    b.output(b.add("Identity", x))
    _fails("builder", None, b.build, licence="MIT")
    _fails("builder", None, b.build, self_test={"x": 1})


def test_shape_error_surfaces_at_build() -> None:
    b = kif.GraphBuilder("m")
    x = b.input("x", "float32", (None, 4))
    b.output(b.add("Dense", x, name="dense", units=2, weights={"kernel": KERNEL, "bias": BIAS}))  # kernel wants 3 inputs
    error = _fails("shape-mismatch", "/layers/0", b.build)
    assert isinstance(error, GraphError)


def test_a_failed_call_changes_nothing(tmp_path: Path) -> None:
    b, x = _builder()
    with pytest.raises(kif.KifError):
        b.add("Dense", x, name="dense", units=2, weights={"kernel": KERNEL, "bias": "nope"})
    y = b.add("Dense", x, name="dense", units=2, weights={"kernel": KERNEL, "bias": BIAS})  # same name: nothing was claimed
    b.output(y)
    model = b.build()
    assert sorted(model.weights) == ["dense/bias", "dense/kernel"] and len(model.layers) == 1
    assert kif.validate(kif.save(model, tmp_path / "m.kif")).ok


def test_attributes_are_stored_as_json_values(tmp_path: Path) -> None:
    """NumPy scalars and tuples (what Keras code passes) become plain JSON values."""
    b, x = _builder()
    b.output(b.add("Dense", x, name="dense", units=np.int64(2), use_bias=np.bool_(False), weights={"kernel": KERNEL}))
    model = b.build()
    assert model.layers[0].attributes == {"units": 2, "activation": "linear", "use_bias": False}
    assert type(model.layers[0].attributes["units"]) is int
    assert kif.validate(kif.save(model, tmp_path / "m.kif")).ok


# -- every SDK error is a KifError --------------------------------------------------


def test_save_errors(tmp_path: Path) -> None:
    b, x = _builder()
    b.output(b.add("Identity", x))
    model = b.build()
    error = _fails("write-failed", None, kif.save, model, tmp_path / "no" / "such" / "dir.kif")
    assert error.file == str(tmp_path / "no" / "such" / "dir.kif")
    model.weights = {"c": np.zeros(2, np.complex64)}
    error = _fails("dtype-unknown", "/weights/tensors/c", kif.save, model, tmp_path / "c.kif")
    assert error.file == str(tmp_path / "c.kif")
    assert list(tmp_path.iterdir()) == []  # refused before anything was written


def test_load_error_carries_the_first_finding(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.json").write_text("{}", encoding="utf-8")
    with pytest.raises(kif.ValidationError) as caught:
        kif.load(broken)
    error = caught.value
    assert isinstance(error, kif.KifError)
    assert (error.code, error.pointer) == ("schema-violation", "")
    assert error.file == str(broken / "model.json")
    assert error.findings and all(f.code == "schema-violation" for f in error.findings)


def test_run_errors(tmp_path: Path) -> None:
    b = kif.GraphBuilder("m")
    x = b.input("x", "float32", (None, 3))
    b.output(b.add("Dense", x, name="dense", units=2, weights={"kernel": KERNEL, "bias": BIAS}))
    model = b.build()
    _fails("run-inputs", None, kif.run, model, {"y": np.zeros((1, 3), "float32")})
    _fails("run-inputs", "x", kif.run, model, {"x": np.zeros((1, 4), "float32")})
    _fails("run-inputs", "x", kif.run, model, {"x": np.zeros((1, 3), "complex64")})
    b = kif.GraphBuilder("custom")
    x = b.input("x", "float32", (None, 3))
    b.output(b.add("acme.tools:Twist", x, name="twist"), dtype="float32", shape=(None, 3))
    error = _fails("layer-unsupported", "twist", kif.run, b.build(), np.zeros((1, 3), "float32"))
    assert isinstance(error, UnsupportedLayerError)


def test_validate_usage_error(tmp_path: Path) -> None:
    error = _fails("usage", None, kif.validate, tmp_path, level="everything")
    assert isinstance(error, UsageError) and isinstance(error, ValueError)


def test_integers_written_with_a_fraction_are_not_canonical(tmp_path: Path) -> None:
    """3.0 is an integer to JSON Schema, not to KIF: units=3.0 is reported where it stands."""
    import json

    b = kif.GraphBuilder("m")
    x = b.input("x", "float32", (None, 2))
    b.output(b.add("Dense", x, name="d", units=3, weights={"kernel": np.ones((2, 3), "float32"), "bias": np.zeros(3, "float32")}))
    path = tmp_path / "m"
    kif.save(b.build(), path)
    doc = json.loads((path / "model.json").read_text())
    doc["layers"][0]["attributes"]["units"] = 3.0
    (path / "model.json").write_text(json.dumps(doc))
    report = kif.validate(path)
    assert ("layer-attribute-invalid", "/layers/0/attributes/units") in [(f.code, f.pointer) for f in report.findings]
