"""tensorflow_addons' SpectralNormalization (class name ``Addons>SpectralNormalization``) in tf.keras 2 files.

tfa's ``call`` runs a power iteration and writes ``kernel / sigma`` back into the wrapped layer only when training;
at inference it is the wrapped layer with the stored kernel, and ``sn_u`` is dropped. Oracle: TensorFlow's outputs
of a file in tfa's form (tests/fixtures/tfa_spectral_norm/generate.py, run by hand with TF 2.21 / tf_keras)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

import kif
from kif.errors import KifError
from kif.keras import convert

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tfa_spectral_norm"


def _strip_modules(value: Any) -> Any:
    """The config as tf.keras 2.4-2.12 wrote it (no ``module`` / ``registered_name`` keys)."""
    if isinstance(value, dict):
        return {k: _strip_modules(v) for k, v in value.items() if k not in ("module", "registered_name")}
    if isinstance(value, list):
        return [_strip_modules(v) for v in value]
    return value


def _edited(tmp_path: Path, edit: Any) -> Path:
    out = tmp_path / "edited.h5"
    shutil.copy(FIXTURES / "model.h5", out)
    with h5py.File(out, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        f.attrs["model_config"] = json.dumps(edit(config))
    return out


def _old_form(config: dict) -> dict:
    return _strip_modules(config)


def _no_layer(config: dict) -> dict:
    sn = next(ly for ly in config["config"]["layers"] if ly["class_name"] == "Addons>SpectralNormalization")
    sn["config"].pop("layer")
    return config


@pytest.mark.parametrize("form", ["as_written", "tf_keras_2_4"])
def test_tfa_file_converts_to_the_wrapped_layers_and_reproduces_tensorflow(form: str, tmp_path: Path) -> None:
    source = FIXTURES / "model.h5" if form == "as_written" else _edited(tmp_path, _old_form)
    model = kif.load(convert(source, tmp_path / "m.kif"))
    assert [(ly.type, sorted(ly.weights)) for ly in model.layers] == [
        ("Conv2D", ["bias", "kernel"]),
        ("Flatten", []),
        ("Dense", ["bias", "kernel"]),
    ]
    data = np.load(FIXTURES / "model.npz")
    (got,) = kif.run(model, {model.inputs[0].name: data["x"]}).values()
    np.testing.assert_allclose(got, data["y"], rtol=1e-5, atol=1e-5)
    with h5py.File(FIXTURES / "model.h5") as f:  # the stored kernel as is: no second division by sigma
        stored = np.asarray(f["model_weights/sn_dense/sn_dense/kernel:0"])
    dense = next(ly for ly in model.layers if ly.type == "Dense")
    np.testing.assert_array_equal(np.asarray(model.weights[dense.weights["kernel"]]), stored)


def test_a_wrapper_without_its_layer_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(KifError, match="wrapped layer") as info:
        convert(_edited(tmp_path, _no_layer), tmp_path / "out.kif")
    assert "sn_conv" in str(info.value)
    assert not (tmp_path / "out.kif").exists()
