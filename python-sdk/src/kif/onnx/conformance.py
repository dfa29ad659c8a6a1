"""The ONNX Runtime conformance backend: each bundle is exported to ONNX and run in an InferenceSession.

``python conformance/runner/kif_conformance.py --backend kif.onnx:conformance_backend``
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from kif._optional import require


class OnnxRuntimeBackend:
    """``load(bundle_path)`` exports the bundle (opset ``OPSET``) and returns a callable on ``dict[str, ndarray]``."""

    @property
    def name(self) -> str:  # a property: importing kif.onnx (export only) must not need onnxruntime
        return f"kif.onnx → onnxruntime {require('onnxruntime', 'the ONNX Runtime backend').__version__}"

    def load(self, bundle_path: str | os.PathLike[str]) -> Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]]:
        onnxruntime = require("onnxruntime", "the ONNX Runtime backend")

        from kif.onnx.export import export

        with tempfile.TemporaryDirectory(prefix="kif-onnx-") as tmp:
            path = export(bundle_path, Path(tmp) / "model.onnx")
            _refuse_bfloat16(path)
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1  # the runner already runs cases in parallel threads
            session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]

        def run(inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
            feed = {i.name: np.asarray(inputs[i.name]) for i in session.get_inputs()}
            return dict(zip(names, session.run(names, feed), strict=True))

        return run


def _refuse_bfloat16(path: Path) -> None:
    """The exported model is valid ONNX, but ONNX Runtime's CPU provider has almost no bfloat16 kernels (no Gemm,
    MaxPool, LayerNormalization) and its Python API cannot take ml_dtypes arrays: refuse, in one line."""
    import onnx

    from kif.errors import UnsupportedLayerError

    graph = onnx.load(str(path), load_external_data=False).graph
    types = [v.type.tensor_type.elem_type for v in (*graph.input, *graph.output)] + [t.data_type for t in graph.initializer]
    if onnx.TensorProto.BFLOAT16 in types:
        raise UnsupportedLayerError(
            "ONNX Runtime (CPUExecutionProvider) cannot run bfloat16 tensors; the exported ONNX model itself is valid",
            code="layer-unsupported",
        )
