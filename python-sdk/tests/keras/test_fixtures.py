"""Every fixture written by the real producers (tf.keras 2.x and Keras 3 on TensorFlow) converts without
TensorFlow or Keras, validates, and the reference runtime reproduces what the producing library computed.

Fixtures come from python-sdk/tests/fixtures/keras/generate.py (run by hand in a TensorFlow venv); CI only
reads the committed files. Tolerance for whole models: float32 rtol 1e-4, atol 1e-4 — per-layer tolerance
classes (at most 1e-4) compound over a few layers, and TensorFlow's oneDNN kernels sum in another order.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import kif
from kif.keras import convert

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras"
MODEL_RTOL = MODEL_ATOL = 1e-4


def _cases() -> list[tuple[str, Path, dict]]:
    cases = []
    for meta_path in sorted(FIXTURES.glob("*/*/fixture.json")):
        meta = json.loads(meta_path.read_text())
        for variant in meta["variants"]:
            case_id = f"{meta['writer']}/{meta_path.parent.name}/{variant['format']}"
            cases.append((case_id, meta_path.parent, {**meta, "variant": variant}))
    return cases


CASES = _cases()


def test_fixture_set_is_complete() -> None:
    writers = {case_id.split("/")[0] for case_id, _, _ in CASES}
    formats = {case_id.split("/")[2] for case_id, _, _ in CASES}
    assert writers == {"tf_keras", "keras3"}
    assert formats == {"legacy-h5", "keras-zip", "json"}
    assert len(CASES) >= 60


@pytest.mark.parametrize(("case_id", "folder", "meta"), CASES, ids=[c[0] for c in CASES])
def test_fixture_converts_and_reproduces_the_producer(case_id: str, folder: Path, meta: dict, tmp_path: Path) -> None:
    files = [folder / name for name in meta["variant"]["files"]]
    weights = files[1] if len(files) > 1 else None
    bundle = convert(files[0], tmp_path / "model.kif", weights=weights)
    report = kif.validate(bundle)
    assert report.ok, [str(f) for f in report.errors]
    model = kif.load(bundle)
    assert [s.name for s in model.inputs] == meta["input_order"], "graph inputs keep the Keras input names and order"
    inputs = dict(np.load(folder / "inputs.npz"))
    expected = np.load(folder / "outputs.npz")
    outputs = kif.run(model, {name: inputs[name] for name in meta["input_order"]})
    assert len(outputs) == len(meta["outputs"]), "graph outputs keep the model's output order"
    for got, key in zip(outputs.values(), meta["outputs"], strict=False):
        np.testing.assert_allclose(got, expected[key], rtol=MODEL_RTOL, atol=MODEL_ATOL, err_msg=case_id)
