"""Helpers for the encoding-layer tests: the TF-written fixtures of tests/fixtures/preprocessing (its generate.py,
run by hand), converted and run, and a .keras copy with an edited layer config."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

import kif
from kif.keras import convert

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "preprocessing"


def run_fixture(name: str, suffix: str, tmp_path: Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Convert ``name`` + suffix (``.keras``: Keras 3 on TF, ``_tfk.h5``: tf.keras 2); (KIF outputs, TF outputs)."""
    bundle = convert(FIXTURES / f"{name}{suffix}", tmp_path / f"{name}.kif", overwrite=True)
    assert kif.validate(bundle).ok
    data = np.load(FIXTURES / f"{name}.npz")
    model = kif.load(bundle)
    got = list(kif.run(model, {model.inputs[0].name: data["x0"]}).values())
    key = "t" if suffix.endswith(".h5") else "y"
    return got, [data[f"{key}{i}"] for i in range(len(got))]


def edited_keras(name: str, tmp_path: Path, **changes: Any) -> Path:
    """A copy of fixture ``name``.keras whose first non-input layer's config has ``changes``."""
    source, target = FIXTURES / f"{name}.keras", tmp_path / f"{name}-edited.keras"
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                layer = next(la for la in config["config"]["layers"] if la["class_name"] != "InputLayer")
                layer["config"].update(changes)
                data = json.dumps(config).encode()
            zout.writestr(item, data)
    return target
