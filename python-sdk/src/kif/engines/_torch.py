"""The ``torch`` engine: the ``kif.torch`` module of the model, called under ``torch.inference_mode``."""

from __future__ import annotations

import numpy as np

from kif._optional import require
from kif.errors import KifError, UnsupportedLayerError
from kif.graph import Model

NAME = "torch"


class TorchRunner:
    """Imports once; each call wraps the input arrays (no copy where torch can share them) and returns NumPy arrays."""

    def __init__(self, model: Model, threads: int) -> None:
        self.torch = require("torch", f"the {NAME} engine")
        from kif.torch import _to_numpy
        from kif.torch.module import KifModule, as_tensor

        try:
            self.module = KifModule(model)
        except UnsupportedLayerError as exc:
            raise UnsupportedLayerError(f"engine {NAME!r}: {exc.message}", code=exc.code, pointer=exc.pointer) from None
        self.forward = self.module.forward  # the engine's own module (no hooks anyone could add): no nn.Module.__call__
        self.threads = threads
        self.inputs = [spec.name for spec in model.inputs]
        self.outputs = [spec.name for spec in model.outputs]
        self.copy = as_tensor
        self.to_numpy = _to_numpy

    def _tensor(self, array: np.ndarray) -> object:
        if array.flags.writeable:
            try:
                return self.torch.from_numpy(array)
            except (TypeError, ValueError, RuntimeError):  # bfloat16, negative strides: a copy
                pass
        return self.copy(array)  # torch warns on read-only arrays it would share

    def __call__(self, bound: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        args = [self._tensor(bound[name]) for name in self.inputs]
        torch, threads = self.torch, self.threads
        before = torch.get_num_threads() if threads > 0 else 0  # torch's intra-op thread count is process-wide:
        if before != threads:  # set for the call, then put back
            torch.set_num_threads(threads)
        try:
            with torch.inference_mode():
                out = self.forward(*args)
        except KifError:
            raise
        except Exception as exc:
            raise KifError(f"engine {NAME!r} failed: {' '.join(str(exc).split()) or type(exc).__name__}", code="run-failed") from None
        finally:
            if before != threads:
                torch.set_num_threads(before)
        outs = out if isinstance(out, tuple) else (out,)
        return {name: self._array(t) for name, t in zip(self.outputs, outs, strict=True)}

    def _array(self, t: object) -> np.ndarray:
        try:
            return t.numpy()  # type: ignore[attr-defined,no-any-return]  # shares the tensor's memory, as to_numpy does
        except (TypeError, RuntimeError):  # bfloat16 (NumPy has no such dtype), a tensor that requires grad
            return self.to_numpy(t)  # type: ignore[no-any-return]
