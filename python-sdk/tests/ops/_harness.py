"""One call per Keras op model: build with keras.ops (KERAS_BACKEND=torch), save .keras, convert, then compare the
reference runtime, the torch module and ONNX Runtime with Keras's own outputs (the oracle)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import numpy as np

import kif
import kif.onnx
import kif.torch
from kif.keras import convert


def check(
    build: Callable[..., Any],
    inputs: Sequence[np.ndarray],
    tmp_path: Path,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-6,
    backends: Sequence[str] = ("runtime", "torch", "onnx"),
) -> kif.Model:
    """``build(*keras_inputs)`` returns the output tensor(s); inputs carry the batch axis."""
    tensors = [keras.Input(x.shape[1:], dtype=str(x.dtype)) for x in inputs]
    out = build(*tensors)
    model = keras.Model(tensors, out if isinstance(out, (list, tuple)) else [out])
    src = tmp_path / "model.keras"
    model.save(src)
    predicted = model(list(inputs), training=False)  # not predict(): it cannot batch outputs reduced over the batch axis
    want = [np.asarray(keras.ops.convert_to_numpy(w)) for w in (predicted if isinstance(predicted, (list, tuple)) else [predicted])]
    bundle = convert(src, tmp_path / "model.kif")
    loaded = kif.load(bundle)
    assert kif.validate(bundle).ok, [str(f) for f in kif.validate(bundle).errors]
    feed = {s.name: x for s, x in zip(loaded.inputs, inputs, strict=True)}
    runs = {
        "runtime": lambda: kif.run(loaded, feed),
        "torch": lambda: kif.torch.conformance_backend.load(bundle)(feed),
        "onnx": lambda: kif.onnx.conformance_backend.load(bundle)(feed),
    }
    for backend in backends:
        got = list(runs[backend]().values())
        assert len(got) == len(want), backend
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            g = np.asarray(g)
            assert g.shape == w.shape, f"{backend} output {i}: shape {g.shape} != Keras {w.shape}"
            assert g.dtype == w.dtype or (g.dtype.kind == w.dtype.kind == "i"), f"{backend} output {i}: {g.dtype} != {w.dtype}"
            np.testing.assert_allclose(
                g.astype(np.float64), w.astype(np.float64), rtol=rtol, atol=atol, equal_nan=True, err_msg=f"{backend} output {i}"
            )
    return loaded


def types(model: kif.Model) -> set[str]:
    return {layer.type for layer in model.layers}
