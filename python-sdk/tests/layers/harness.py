"""The one-call harness every layer test uses.

``run_layer`` builds a one-layer KIF model with the builder (so attributes get the
schema's defaults), writes it as a bundle, validates it (schema, weights, shape
inference), loads it back and runs the reference runtime. It also checks that the
shape rule agrees with the shapes the kernel actually produced. Tests then compare
the result with an independent oracle (Keras itself, or a hand-derived value).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import kif
from kif import catalog
from kif.shapes import compatible, infer


def build_layer(
    layer_type: str,
    inputs: np.ndarray | Sequence[np.ndarray | None],
    weights: Mapping[str, np.ndarray] | None = None,
    *,
    num_outputs: int = 1,
    free_batch: bool = True,
    **attributes: Any,
) -> kif.Model:
    """The one-layer model: an input per array (batch dimension free), the layer, its outputs."""
    arrays = [inputs] if isinstance(inputs, np.ndarray) else list(inputs)
    b = kif.GraphBuilder("layer_test")
    names: list[str | None] = []
    for i, array in enumerate(arrays):
        if array is None:
            names.append(None)
            continue
        shape = (None, *array.shape[1:]) if free_batch and array.ndim > 0 else array.shape
        names.append(b.input(f"in{i}", kif.dtypes.from_numpy(array.dtype).name, shape))
    out = b.add(layer_type, names, name="layer", weights=dict(weights or {}), num_outputs=num_outputs, **attributes)
    for name in [out] if num_outputs == 1 else list(out):
        b.output(name)
    return b.build()


def run_layer(
    layer_type: str,
    inputs: np.ndarray | Sequence[np.ndarray | None],
    weights: Mapping[str, np.ndarray] | None = None,
    *,
    num_outputs: int = 1,
    free_batch: bool = True,
    **attributes: Any,
) -> Any:
    """Run one layer through save → validate → load → run; return its output(s)."""
    arrays = [inputs] if isinstance(inputs, np.ndarray) else list(inputs)
    model = build_layer(layer_type, arrays, weights, num_outputs=num_outputs, free_batch=free_batch, **attributes)
    outs = [spec.name for spec in model.outputs]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "layer.kif"
        kif.save(model, path)
        report = kif.validate(path)
        assert report.ok, [str(f) for f in report.findings]
        loaded = kif.load(path)
        feed = {f"in{i}": a for i, a in enumerate(arrays) if a is not None}
        result = kif.run(loaded, feed)
        inferred = infer(loaded.inputs, loaded.layers, {n: tuple(a.shape) for n, a in loaded.weights.items()})
        for name in outs:
            got = result[name]
            rule = inferred[name]
            assert compatible(rule.shape, got.shape), f"shape rule says {rule.shape}, kernel produced {got.shape}"
            assert rule.dtype == kif.dtypes.from_numpy(got.dtype).name, f"shape rule says {rule.dtype}, kernel produced {got.dtype}"
            result[name] = np.array(got)  # copy out of the memory map before the files go
    values = [result[name] for name in outs]
    return values[0] if num_outputs == 1 else values


def tolerance(layer_type: str, dtype: str = "float32") -> dict[str, float]:
    tol = catalog.get(layer_type).tolerance[dtype]
    return {"rtol": tol["rtol"], "atol": tol["atol"]}


def assert_close(actual: np.ndarray, expected: Any, layer_type: str, dtype: str = "float32") -> None:
    """Compare with the layer type's declared tolerance class."""
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"shape {actual.shape} != expected {expected.shape}"
    np.testing.assert_allclose(actual.astype(np.float64), expected.astype(np.float64), **tolerance(layer_type, dtype))


def keras_output(layer: Any, inputs: np.ndarray | Sequence[np.ndarray], **call_kwargs: Any) -> Any:
    """Call a Keras layer eagerly and return NumPy output(s)."""
    import keras

    out = layer(inputs, **call_kwargs) if isinstance(inputs, np.ndarray) else layer(list(inputs), **call_kwargs)
    if isinstance(out, (list, tuple)):
        return [keras.ops.convert_to_numpy(o) for o in out]
    return keras.ops.convert_to_numpy(out)
