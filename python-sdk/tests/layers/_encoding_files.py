"""Helpers for the encoding-layer tests: the TF-written fixtures of tests/fixtures/preprocessing (its generate.py,
run by hand), converted and run, and a .keras copy with an edited layer config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import kif
from kif.keras import convert
from tests._keras_zip import with_layer_config

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
    return with_layer_config(source, target, lambda layer: layer["class_name"] != "InputLayer", **changes)
