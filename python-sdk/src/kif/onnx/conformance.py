"""The ONNX Runtime conformance backend: each bundle is exported to ONNX and run in an InferenceSession.

``python conformance/runner/kif_conformance.py --backend kif.onnx:conformance_backend``
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np


class OnnxRuntimeBackend:
    """``load(bundle_path)`` exports the bundle (opset ``OPSET``) and returns a callable on ``dict[str, ndarray]``."""

    def __init__(self) -> None:
        import onnxruntime

        self.name = f"kif.onnx → onnxruntime {onnxruntime.__version__}"

    def load(self, bundle_path: str | os.PathLike[str]) -> Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]]:
        import onnxruntime

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
