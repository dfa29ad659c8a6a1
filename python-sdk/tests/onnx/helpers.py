"""Shared pieces of the ONNX exporter tests: one-layer bundles, export + full check + ONNX Runtime run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

import kif
import kif.onnx
from kif.graph import Model


def one_layer(
    layer_type: str,
    inputs: Sequence[np.ndarray | None],
    weights: Mapping[str, np.ndarray] | None = None,
    *,
    num_outputs: int = 1,
    static: bool = False,
    **attributes: Any,
) -> Model:
    """A one-layer model (builder, schema defaults), inputs named in0, in1, … with a free batch axis unless ``static``."""
    b = kif.GraphBuilder("onnx_layer_test")
    names: list[str | None] = []
    for i, array in enumerate(inputs):
        if array is None:
            names.append(None)
            continue
        shape = array.shape if static else (None, *array.shape[1:])
        names.append(b.input(f"in{i}", kif.dtypes.from_numpy(array.dtype).name, shape))
    out = b.add(layer_type, names, name="layer", weights=dict(weights or {}), num_outputs=num_outputs, **attributes)
    for name in [out] if num_outputs == 1 else list(out):
        b.output(name)
    return b.build()


def feeds_for(inputs: Sequence[np.ndarray | None]) -> dict[str, np.ndarray]:
    return {f"in{i}": a for i, a in enumerate(inputs) if a is not None}


def run_onnx(model: Model | Path, feeds: Mapping[str, np.ndarray], tmp_path: Path, **export_args: Any) -> list[np.ndarray]:
    """Export, check with onnx.checker (full_check), run in ONNX Runtime; outputs in graph order."""
    # tests export several models into one tmp_path; each replaces the previous one (the exporter refuses otherwise)
    path = kif.onnx.export(model, tmp_path / "model.onnx", **{"overwrite": True, **export_args})
    onnx.checker.check_model(str(path), full_check=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return [np.asarray(o) for o in session.run(None, dict(feeds))]


def tolerance(*layer_types: str) -> dict[str, float]:
    """The loosest float32 tolerance class among the types (the catalog's x-kif tolerance)."""
    from kif import catalog

    tols = [catalog.get(t).tolerance["float32"] for t in layer_types]
    return {"rtol": max(t["rtol"] for t in tols), "atol": max(t["atol"] for t in tols)}
