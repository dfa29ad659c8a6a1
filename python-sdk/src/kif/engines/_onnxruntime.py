"""The ``onnxruntime`` engine: the model exported by ``kif.onnx`` (in memory) in one ``onnxruntime.InferenceSession``."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from kif._optional import require
from kif.errors import KifError, UnsupportedLayerError
from kif.graph import Model

NAME = "onnxruntime"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


class OrtRunner:
    """Exports once, opens one CPU session with ``threads`` intra-op threads (0: ONNX Runtime's default)."""

    def __init__(self, model: Model, threads: int) -> None:
        ort = require("onnxruntime", f"the {NAME} engine")
        require("onnx", f"the {NAME} engine")
        from kif.onnx.export import EXTERNAL_DATA_THRESHOLD, _nbytes, build, export

        try:
            proto = build(model)
        except UnsupportedLayerError as exc:
            raise UnsupportedLayerError(f"engine {NAME!r}: {exc.message}", code=exc.code, pointer=exc.pointer) from None
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = threads
        providers = ["CPUExecutionProvider"]
        try:
            if sum(_nbytes(t) for t in proto.graph.initializer) <= EXTERNAL_DATA_THRESHOLD:
                self.session = ort.InferenceSession(proto.SerializeToString(), options, providers=providers)
            else:  # protobuf cannot hold 2 GiB: the file and its external data, read by the session, then removed
                with tempfile.TemporaryDirectory(prefix="kif-ort-") as tmp:
                    path = export(model, Path(tmp) / "model.onnx")
                    self.session = ort.InferenceSession(str(path), options, providers=providers)
        except KifError:
            raise
        except Exception as exc:  # ONNX Runtime's own error types (Fail, InvalidGraph, NotImplemented, ...)
            raise KifError(f"engine {NAME!r} could not load the exported model: {_one_line(exc)}", code="run-failed") from None
        self.outputs = [spec.name for spec in model.outputs]
        # InferenceSession.run checks the feed's names in Python, then calls its C session: kif.runtime.Binder has
        # checked them (the graph inputs are the model's), so the C session is called itself where there is one
        inner = getattr(self.session, "_sess", None)
        self.run = inner.run if callable(getattr(inner, "run", None)) else self.session.run  # type: ignore[union-attr]

    def __call__(self, bound: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        try:
            results = self.run(self.outputs, bound, None)
        except Exception as exc:
            raise KifError(f"engine {NAME!r} failed: {_one_line(exc)}", code="run-failed") from None
        return dict(zip(self.outputs, results, strict=True))
