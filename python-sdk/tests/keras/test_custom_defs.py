"""``kif convert --custom DEFS.json``: composite definitions for a Keras 3 file's registered custom layers.

The oracle is Keras itself (KERAS_BACKEND=torch) running the custom classes; refusals are one error naming the class
and what is missing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kif
from kif.errors import KifError
from kif.keras import convert

keras = pytest.importorskip("keras")
ops = keras.ops


class _OffsetLayer(keras.layers.Layer):  # type: ignore[misc]
    """A layer of one per-channel weight ``w`` and an ``offset`` attribute (unregistered: the classes below are)."""

    def __init__(self, offset: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.offset = offset

    def build(self, shape: tuple[int, ...]) -> None:
        self.w = self.add_weight(name="w", shape=(shape[-1],), initializer="random_normal")

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "offset": self.offset}


@keras.saving.register_keras_serializable(package="acme")
class ScaleShift(_OffsetLayer):
    """y = x * w + offset, w a per-channel weight."""

    def call(self, x: Any) -> Any:
        return x * self.w + self.offset


@keras.saving.register_keras_serializable(package="acme")
class ResidualScale(_OffsetLayer):
    """y = relu(x + ScaleShift(x)), written as a composite that calls the ScaleShift composite."""

    def call(self, x: Any) -> Any:
        return ops.relu(x + (x * self.w + self.offset))


SCALE_SHIFT = {
    "parameters": {"offset": {"type": "number", "default": 0.0}},
    "inputs": ["x"], "outputs": ["y"], "weights": ["w"],
    "layers": [
        {"name": "w", "type": "op.constant", "attributes": {"dtype": "float32"}, "inputs": [], "outputs": ["w"], "weights": {"value": "w"}},
        {"name": "mul", "type": "op.multiply", "attributes": {}, "inputs": ["x", "w"], "outputs": ["m"], "weights": {}},
        {"name": "shift", "type": "Rescaling", "attributes": {"scale": 1.0, "offset": {"$param": "offset"}},
         "inputs": ["m"], "outputs": ["y"], "weights": {}},
    ],
}  # fmt: skip
RESIDUAL = {
    "parameters": {"offset": {"type": "number", "default": 0.0}},
    "inputs": ["x"], "outputs": ["y"], "weights": ["w"],
    "layers": [
        {"name": "inner", "type": "acme.layers:ScaleShift", "attributes": {"offset": {"$param": "offset"}},
         "inputs": ["x"], "outputs": ["s"], "weights": {"w": "w"}},
        {"name": "add", "type": "Add", "attributes": {}, "inputs": ["x", "s"], "outputs": ["a"], "weights": {}},
        {"name": "relu", "type": "Activation", "attributes": {"activation": "relu"}, "inputs": ["a"], "outputs": ["y"], "weights": {}},
    ],
}  # fmt: skip
DEFS = {
    "$composites": {"acme.layers:ScaleShift": SCALE_SHIFT},
    "acme>ScaleShift": {"type": "acme.layers:ScaleShift", "definition": SCALE_SHIFT},
    "ResidualScale": {"type": "acme.layers:ResidualScale", "definition": RESIDUAL},
}


def _keras_file(tmp_path: Path) -> tuple[Path, Any]:
    keras.utils.set_random_seed(3)
    x = keras.Input((5, 4))
    h = ScaleShift(offset=0.25, name="ss")(x)
    h = keras.layers.Dense(4, name="dense")(h)
    y = ResidualScale(offset=-0.5, name="res")(h)
    model = keras.Model(x, y)
    path = tmp_path / "custom.keras"
    model.save(path)
    return path, model


def _defs_file(tmp_path: Path, defs: dict[str, Any]) -> Path:
    path = tmp_path / "defs.json"
    path.write_text(json.dumps(defs), encoding="utf-8")
    return path


def test_registered_custom_layers_become_composite_calls(tmp_path: Path) -> None:
    src, model = _keras_file(tmp_path)
    target = convert(src, tmp_path / "m.kif", custom=_defs_file(tmp_path, DEFS))
    assert kif.validate(target).ok
    loaded = kif.load(target)
    assert [layer.type for layer in loaded.layers] == ["acme.layers:ScaleShift", "Dense", "acme.layers:ResidualScale"]
    assert loaded.layers[0].attributes == {"offset": 0.25} and loaded.layers[2].attributes == {"offset": -0.5}
    assert set(loaded.composites) == {"acme.layers:ScaleShift", "acme.layers:ResidualScale"}, "the nested one comes along"
    stored = np.asarray(loaded.weights[loaded.layers[0].weights["w"]])
    np.testing.assert_array_equal(stored, keras.ops.convert_to_numpy(model.get_layer("ss").w))
    x = np.random.default_rng(0).normal(size=(3, 5, 4)).astype("float32")
    expected = np.asarray(model.predict(x, verbose=0))
    np.testing.assert_allclose(next(iter(kif.run(loaded, x).values())), expected, rtol=1e-5, atol=1e-5)
    torch = pytest.importorskip("torch")
    kif_torch = pytest.importorskip("kif.torch")
    with torch.no_grad():  # the importers run the inlined graph
        got = kif_torch.load(loaded)(torch.from_numpy(x))
    got = got[0] if isinstance(got, (list, tuple)) else next(iter(got.values())) if isinstance(got, dict) else got
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_the_cli_takes_custom_definitions(tmp_path: Path) -> None:
    src, _ = _keras_file(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(Path(kif.__file__).parents[1])}
    command = [sys.executable, "-m", "kif", "convert", str(src), str(tmp_path / "cli.kif")]
    refused = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert refused.returncode != 0 and "--custom" in refused.stderr and "ScaleShift" in refused.stderr
    assert "Traceback" not in refused.stderr
    done = subprocess.run([*command, "--custom", str(_defs_file(tmp_path, DEFS))], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert kif.validate(tmp_path / "cli.kif").ok


def _refusal(tmp_path: Path, defs: Any) -> str:
    src, _ = _keras_file(tmp_path)
    with pytest.raises(KifError) as caught:
        convert(src, tmp_path / "bad.kif", custom=defs)
    assert not (tmp_path / "bad.kif").exists()
    return str(caught.value)


def _with(**changes: Any) -> dict[str, Any]:
    entry = {"type": "acme.layers:ScaleShift", "definition": json.loads(json.dumps(SCALE_SHIFT))}
    entry.update(changes)
    return {**DEFS, "acme>ScaleShift": entry}


def test_a_parameter_without_default_missing_from_the_config_is_named(tmp_path: Path) -> None:
    definition = json.loads(json.dumps(SCALE_SHIFT))
    definition["parameters"]["gain"] = {"type": "number"}
    message = _refusal(tmp_path, _with(definition=definition))
    assert "ss" in message and "ScaleShift" in message and "'gain'" in message


def test_a_config_key_that_is_not_a_parameter_is_named(tmp_path: Path) -> None:
    definition = json.loads(json.dumps(SCALE_SHIFT))
    del definition["parameters"]
    definition["layers"][2]["attributes"]["offset"] = 0.0
    message = _refusal(tmp_path, _with(definition=definition))
    assert "offset=0.25" in message and "ignore" in message
    assert kif.validate(convert(_keras_file(tmp_path)[0], tmp_path / "ok.kif", custom=_with(definition=definition, ignore=["offset"]))).ok


def test_weight_roles_that_do_not_match_are_named(tmp_path: Path) -> None:
    definition = json.loads(json.dumps(SCALE_SHIFT))
    definition["weights"] = ["w", "extra"]
    message = _refusal(tmp_path, _with(definition=definition))
    assert "['w', 'extra']" in message and "stores 1 weights" in message


def test_a_type_param_mismatch_and_unmatched_when_are_named(tmp_path: Path) -> None:
    definition = json.loads(json.dumps(SCALE_SHIFT))
    definition["parameters"]["offset"] = {"type": "string", "default": "a"}
    assert "offset=0.25 is not a string" in _refusal(tmp_path, _with(definition=definition))
    assert "applies to its config" in _refusal(tmp_path, _with(when={"offset": 9}))


@pytest.mark.parametrize(
    ("defs", "words"),
    [
        ([1, 2], ["must be an object"]),
        ({"ScaleShift": {"definition": SCALE_SHIFT}}, ["ScaleShift", "missing 'type'"]),
        ({"ScaleShift": {"type": "NoNamespace", "definition": SCALE_SHIFT}}, ["namespaced"]),
        ({"ScaleShift": {"type": "a:B", "definition": {"inputs": []}}}, ["ScaleShift", "not a composite definition"]),
        ({"ScaleShift": {"type": "a:B", "definition": SCALE_SHIFT, "weights": {"nope": "w"}}}, ["'weights'"]),
        ({"ScaleShift": {"type": "a:B", "definition": SCALE_SHIFT, "extra": 1}}, ["unknown key"]),
    ],
)
def test_malformed_definitions_are_one_error(tmp_path: Path, defs: Any, words: list[str]) -> None:
    with pytest.raises(KifError) as caught:
        convert(tmp_path / "never-read.keras", tmp_path / "x.kif", custom=defs)
    for word in words:
        assert word in str(caught.value)


def test_an_unreadable_definitions_file_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "defs.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(KifError, match="cannot read it as JSON"):
        convert(tmp_path / "never-read.keras", tmp_path / "x.kif", custom=path)
