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
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1  # the runner already runs cases in parallel threads
            session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]

        def run(inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
            feed = {i.name: np.asarray(inputs[i.name]) for i in session.get_inputs()}
            return dict(zip(names, session.run(names, feed), strict=True))

        return run
