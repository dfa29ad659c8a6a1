"""Real Keras files from public projects (tests/fixtures/realworld, provenance and licences in its MANIFEST.json).

Outputs recorded by the producing library (tests/fixtures/realworld/generate_outputs.py, run by hand in a
TensorFlow venv) are the oracle; a file its own library could not load here is only converted and validated.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

import kif
from kif.errors import KifError
from kif.keras import convert

REALWORLD = RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "realworld"  # the files and their recorded outputs
# Files that must be refused, and the words the one-line error must contain.
REFUSED = {
    "carnd-nvidia-lambda": ("lambda_1", "Lambda"),
}

ENTRIES = json.loads((REALWORLD / "MANIFEST.json").read_text())["entries"]


def _source(entry: dict) -> tuple[Path, Path | None]:
    files = [REALWORLD / entry["id"] / name for name in entry["files"]]
    return (files[0], files[1]) if files[0].suffix == ".json" else (files[0], None)


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["id"] for e in ENTRIES])
def test_realworld_file(entry: dict, tmp_path: Path) -> None:
    src, weights = _source(entry)
    target = tmp_path / "model.kif"
    if entry["id"] in REFUSED:
        with pytest.raises(KifError) as caught:
            convert(src, target, weights=weights)
        for word in REFUSED[entry["id"]]:
            assert word in str(caught.value)
        assert not target.exists(), "a refused conversion writes nothing"
        return
    convert(src, target, weights=weights)
    assert kif.validate(target).ok
    model = kif.load(target)
    recorded = RECORDED / f"{entry['id']}.npz"
    if entry["id"] in HAND_ORACLE:  # its own library cannot load it (skipped.json): the oracle is hand-written
        data = HAND_ORACLE[entry["id"]](src)
    else:
        assert recorded.is_file(), f"no recorded outputs for {entry['id']}"
        data = np.load(recorded)
    inputs = {spec.name: data[f"in/{i}"] for i, spec in enumerate(model.inputs)}
    outputs = kif.run(model, inputs)
    for i, got in enumerate(outputs.values()):
        np.testing.assert_allclose(got, data[f"out/{i}"], rtol=1e-4, atol=1e-4)


def _cyclegan_oracle(src: Path) -> dict[str, np.ndarray]:
    """The generator run by Keras (torch backend) with tfa's InstanceNormalization written out in NumPy (float64):
    per sample and channel, ``(x - mean) / sqrt(var + epsilon) * gamma + beta`` over the spatial axes (tfa's
    GroupNormalization with one group per channel; ``tf.nn.batch_normalization`` adds epsilon to the variance)."""
    keras = pytest.importorskip("keras")

    class TfaInstanceNormalization(keras.layers.Layer):  # type: ignore[misc]
        def __init__(self, epsilon: float = 1e-3, **kwargs: object) -> None:
            for key in ("groups", "axis", "center", "scale"):
                kwargs.pop(key)
            super().__init__(**{k: v for k, v in kwargs.items() if not k.endswith(("_initializer", "_regularizer", "_constraint"))})
            self.epsilon = epsilon

        def build(self, shape: tuple[int, ...]) -> None:
            self.gamma = self.add_weight(name="gamma", shape=(shape[-1],))
            self.beta = self.add_weight(name="beta", shape=(shape[-1],))

        def call(self, x: object) -> object:
            a = keras.ops.convert_to_numpy(x).astype(np.float64)
            mean, var = a.mean(axis=(1, 2), keepdims=True), a.var(axis=(1, 2), keepdims=True)
            gamma, beta = (keras.ops.convert_to_numpy(w).astype(np.float64) for w in (self.gamma, self.beta))
            return keras.ops.convert_to_tensor(((a - mean) / np.sqrt(var + self.epsilon) * gamma + beta).astype(np.float32))

        def compute_output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
            return shape

    model = keras.models.load_model(src, custom_objects={"InstanceNormalization": TfaInstanceNormalization}, compile=False)
    assert float(np.abs(keras.ops.convert_to_numpy(model.layers[1].gamma) - 1).max()) > 0.01, "trained gamma was loaded"
    x = np.random.default_rng(2024).normal(size=(2, 32, 32, 3)).astype("float32")
    return {"in/0": x, "out/0": np.asarray(model.predict(x, verbose=0))}


HAND_ORACLE = {"cyclegan-cifar10-generator": _cyclegan_oracle}


def test_the_tfa_custom_class_becomes_a_composite_and_allow_custom_still_keeps_unknown_ones(tmp_path: Path) -> None:
    src = REALWORLD / "cyclegan-cifar10-generator" / "cyclegan_cifar10-g_source.h5"
    model = kif.load(convert(src, tmp_path / "g.kif", allow_custom=True))
    calls = [layer for layer in model.layers if layer.type == "tfa.layers:InstanceNormalization"]
    assert len(calls) == 7 and all(layer.attributes["epsilon"] == 0.001 for layer in calls)
    assert calls[0].attributes["groups"] == 3 and set(calls[0].weights) == {"gamma", "beta"}
    assert list(model.composites) == ["tfa.layers:InstanceNormalization"]
    source = tmp_path / "acme.h5"
    shutil.copyfile(src, source)
    with h5py.File(source, "r+") as f:
        f.attrs["model_config"] = f.attrs["model_config"].replace('"InstanceNormalization"', '"AcmeNorm"')
    target = convert(source, tmp_path / "opaque.kif", allow_custom=True)
    assert "layer-custom" in kif.validate(target).codes()
    custom = [layer for layer in kif.load(target).layers if layer.type == "keras.custom:AcmeNorm"]
    assert custom and all(json.loads(layer.attributes["config_json"])["epsilon"] == 0.001 for layer in custom)
    with pytest.raises(KifError, match="instance_normalization"):
        kif.run(kif.load(target), np.zeros((1, 32, 32, 3), "float32"))
