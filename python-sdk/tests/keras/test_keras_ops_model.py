"""A Keras 3 functional model built from keras.ops calls between layers (a masked attention block with pooling),
saved as .keras (KERAS_BACKEND=torch), converts with ``kif convert`` and reproduces ``model.predict`` in the
reference runtime, the torch importer and ONNX Runtime. Keras is the oracle."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kif
import kif.onnx
import kif.torch

keras = pytest.importorskip("keras")
ops = keras.ops


def _model() -> keras.Model:
    x = keras.Input((5, 8), name="tokens")
    q, k, v = (keras.layers.Dense(8, name=n)(x) for n in ("q", "k", "v"))
    scores = ops.matmul(q, ops.transpose(k, (0, 2, 1))) / np.sqrt(8.0).item()
    keep = ops.greater(ops.expand_dims(x[:, :, 0], 1), -0.5)  # mask keys whose first feature is low
    scores = ops.where(keep, scores, -1e9)
    h = ops.matmul(ops.softmax(scores, axis=-1), v)
    pooled = ops.mean(h, axis=1)
    first = h[:, 0]
    peak = ops.max(ops.abs(x), axis=(1, 2), keepdims=False)
    joined = ops.concatenate([pooled, first, ops.expand_dims(peak, -1)], axis=-1)
    joined = ops.maximum(joined, ops.minimum(joined, 0.0) * 0.1)  # a leaky ReLU from ops
    grid = ops.reshape(joined, (-1, 1, 17))
    out = keras.layers.Dense(3, name="head")(ops.squeeze(grid, axis=1))
    return keras.Model(x, [out, ops.sqrt(ops.square(first) + 1.0)], name="ops_model")


def test_keras_ops_functional_model_converts_and_matches_predict(tmp_path: Path) -> None:
    keras.utils.set_random_seed(7)
    model = _model()
    src = tmp_path / "ops_model.keras"
    model.save(src)
    x = np.random.default_rng(3).normal(size=(4, 5, 8)).astype("float32")
    want = [np.asarray(w) for w in model.predict(x, verbose=0)]
    env = {**os.environ, "PYTHONPATH": str(Path(kif.__file__).parents[1])}
    done = subprocess.run(
        [sys.executable, "-m", "kif", "convert", str(src), str(tmp_path / "m.kif")], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    bundle = tmp_path / "m.kif"
    report = kif.validate(bundle)
    assert report.ok, [str(f) for f in report.errors]
    kinds = {layer.type for layer in kif.load(bundle).layers}
    # ops that a layer computes become that layer (Concatenate, Permute, Maximum, ...); the rest primitive ops
    assert {"op.matmul", "op.where", "op.mean", "op.max", "op.strided_slice", "Concatenate", "Permute"} <= kinds, kinds
    assert not any(":" in kind for kind in kinds), "no custom type"
    runs = {
        "runtime": lambda feed: kif.run(kif.load(bundle), feed),
        "torch": kif.torch.conformance_backend.load(bundle),
        "onnx": kif.onnx.conformance_backend.load(bundle),
    }
    for backend, run in runs.items():
        got = [np.asarray(g) for g in run({"tokens": x}).values()]
        assert len(got) == len(want), backend
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert g.shape == w.shape and g.dtype == w.dtype, f"{backend} output {i}"
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5, err_msg=f"{backend} output {i}")
