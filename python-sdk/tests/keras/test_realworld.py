"""Real Keras files from public projects (tests/fixtures/realworld, provenance and licences in its MANIFEST.json).

Outputs recorded by the producing library (tests/fixtures/realworld/generate_outputs.py, run by hand in a
TensorFlow venv) are the oracle; a file its own library could not load here is only converted and validated.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import kif
from kif.errors import KifError
from kif.keras import convert

REALWORLD = RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "realworld"  # the files and their recorded outputs
# Files that must be refused, and the words the one-line error must contain.
REFUSED = {
    "carnd-nvidia-lambda": ("lambda_1", "Lambda"),
    "cyclegan-cifar10-generator": ("instance_normalization", "--allow-custom"),
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
    assert recorded.is_file(), f"no recorded outputs for {entry['id']}"
    data = np.load(recorded)
    inputs = {spec.name: data[f"in/{i}"] for i, spec in enumerate(model.inputs)}
    outputs = kif.run(model, inputs)
    for i, got in enumerate(outputs.values()):
        np.testing.assert_allclose(got, data[f"out/{i}"], rtol=1e-4, atol=1e-4)


def test_custom_class_kept_with_allow_custom(tmp_path: Path) -> None:
    src = REALWORLD / "cyclegan-cifar10-generator" / "cyclegan_cifar10-g_source.h5"
    target = convert(src, tmp_path / "g.kif", allow_custom=True)
    report = kif.validate(target)
    assert report.ok
    assert "layer-custom" in report.codes()
    model = kif.load(target)
    custom = [layer for layer in model.layers if layer.type == "keras.custom:InstanceNormalization"]
    assert custom and all(json.loads(layer.attributes["config_json"])["epsilon"] == 0.001 for layer in custom)
    with pytest.raises(KifError, match="instance_normalization"):
        kif.run(model, np.zeros((1, 32, 32, 3), "float32"))
