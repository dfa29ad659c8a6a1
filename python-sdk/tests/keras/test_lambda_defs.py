"""A Lambda layer converts when its user gives what it computes (``--custom``, keyed "Lambda" with the layer's
name); its bytecode is never decoded or run. Oracles: Keras running the same network with the Lambda written as
the layer it computes (the real carnd file, whose Python 3.5 bytecode no current Python can load), and Keras
running a live Lambda of its own (Keras 3 ``.keras``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

import kif
from kif.cli import main
from kif.errors import KifError
from kif.keras import convert

CARND = Path(__file__).resolve().parents[1] / "fixtures" / "realworld" / "carnd-nvidia-lambda" / "model.h5"


def _rescaling(scale: float, offset: float) -> dict[str, Any]:
    return {
        "inputs": ["x"],
        "outputs": ["y"],
        "layers": [
            {
                "name": "rescale",
                "type": "Rescaling",
                "attributes": {"scale": scale, "offset": offset},
                "inputs": ["x"],
                "outputs": ["y"],
                "weights": {},
            }
        ],
    }


CARND_DEFS = {"Lambda": [{"when": {"name": "lambda_1"}, "type": "carnd:Normalize", "definition": _rescaling(1 / 127.5, -1.0)}]}


def _carnd_in_keras() -> Any:
    """The NVIDIA network of the file in Keras 3 (torch backend), ``lambda x: x / 127.5 - 1.0`` written as
    Rescaling, weights read from the file with h5py."""
    keras = pytest.importorskip("keras")
    with h5py.File(CARND, "r") as f:
        config = json.loads(f.attrs["model_config"])["config"]["layers"]
        stored = f["model_weights"]
        weights = {name: [np.asarray(stored[name][name][w]) for w in ("kernel:0", "bias:0")] for name in stored if len(stored[name])}
    layers: list[Any] = [keras.Input((68, 204, 3)), keras.layers.Rescaling(1 / 127.5, offset=-1.0)]
    for entry in config[1:]:
        c, kind = entry["config"], entry["class_name"]
        if kind == "Conv2D":
            options = {k: c[k] for k in ("strides", "padding", "activation", "name")}
            layers.append(keras.layers.Conv2D(c["filters"], c["kernel_size"], **options))
        elif kind == "Dense":
            layers.append(keras.layers.Dense(c["units"], activation=c["activation"], name=c["name"]))
        elif kind == "Dropout":
            layers.append(keras.layers.Dropout(c["rate"]))
        else:
            assert kind == "Flatten", kind
            layers.append(keras.layers.Flatten())
    model = keras.Sequential(layers)
    for name, values in weights.items():
        model.get_layer(name).set_weights(values)
    return model


def test_real_lambda_file_converts_with_a_definition_and_matches_keras(tmp_path: Path) -> None:
    target = tmp_path / "carnd.kif"
    convert(CARND, target, custom=CARND_DEFS)
    assert kif.validate(target).ok
    model = kif.load(target)
    assert model.layers[0].type == "carnd:Normalize" and "carnd:Normalize" in model.composites
    x = np.random.default_rng(0).uniform(0, 255, size=(2, 68, 204, 3)).astype("float32")
    want = np.asarray(_carnd_in_keras().predict(x, verbose=0))
    got = next(iter(kif.run(model, x).values()))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_cli_takes_the_definitions_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    defs = tmp_path / "defs.json"
    defs.write_text(json.dumps(CARND_DEFS))
    assert main(["convert", str(CARND), str(tmp_path / "out.kif"), "--custom", str(defs)]) == 0
    assert kif.validate(tmp_path / "out.kif").ok


def test_without_a_definition_the_refusal_says_how_to_give_one(tmp_path: Path) -> None:
    with pytest.raises(KifError) as caught:
        convert(CARND, tmp_path / "out.kif")
    text = str(caught.value)
    assert "lambda_1" in text and "Python code" in text and '"when": {"name": "lambda_1"}' in text and "--custom" in text
    assert not (tmp_path / "out.kif").exists()


def test_a_definition_for_another_layer_does_not_apply(tmp_path: Path) -> None:
    other = {"Lambda": [{**CARND_DEFS["Lambda"][0], "when": {"name": "lambda_9"}}]}
    with pytest.raises(KifError, match="lambda_1"):
        convert(CARND, tmp_path / "out.kif", custom=other)


def test_an_entry_naming_no_layer_is_refused(tmp_path: Path) -> None:
    """One definition standing for every Lambda of a model would silently give two different functions one meaning."""
    unnamed = {"Lambda": [{k: v for k, v in CARND_DEFS["Lambda"][0].items() if k != "when"}]}
    with pytest.raises(KifError, match="must say which layer"):
        convert(CARND, tmp_path / "out.kif", custom=unnamed)


def test_keras3_lambda_with_its_definition_matches_keras(tmp_path: Path) -> None:
    keras = pytest.importorskip("keras")
    inputs = keras.Input((5,))
    hidden = keras.layers.Dense(4, name="dense")(inputs)
    outputs = keras.layers.Lambda(lambda t: t * 0.5 + 2.0, name="half_plus_two")(hidden)
    live = keras.Model(inputs, outputs)
    source = tmp_path / "model.keras"
    live.save(source)
    defs = {"Lambda": [{"when": {"name": "half_plus_two"}, "type": "acme:HalfPlusTwo", "definition": _rescaling(0.5, 2.0)}]}
    convert(source, tmp_path / "m.kif", custom=defs)
    x = np.random.default_rng(1).normal(size=(3, 5)).astype("float32")
    got = next(iter(kif.run(kif.load(tmp_path / "m.kif"), x).values()))
    np.testing.assert_allclose(got, np.asarray(live.predict(x, verbose=0)), rtol=1e-6, atol=1e-6)
