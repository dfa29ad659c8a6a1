"""The ``torch`` engine: the ``kif.torch`` module of the model, called under ``torch.inference_mode``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np

from kif._optional import require
from kif.errors import KifError, UnsupportedLayerError
from kif.graph import Model

NAME = "torch"


@contextlib.contextmanager
def _threads(torch: object, threads: int) -> Iterator[None]:
    """torch's intra-op thread count is process-wide: set for the call, then put back."""
    before = torch.get_num_threads()  # type: ignore[attr-defined]
    if threads <= 0 or before == threads:
        yield
        return
    torch.set_num_threads(threads)  # type: ignore[attr-defined]
    try:
        yield
    finally:
        torch.set_num_threads(before)  # type: ignore[attr-defined]


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
        try:
            with _threads(self.torch, self.threads), self.torch.inference_mode():
                out = self.module(*args)
        except KifError:
            raise
        except Exception as exc:
            raise KifError(f"engine {NAME!r} failed: {' '.join(str(exc).split()) or type(exc).__name__}", code="run-failed") from None
        outs = out if isinstance(out, tuple) else (out,)
        return {name: self.to_numpy(t) for name, t in zip(self.outputs, outs, strict=True)}
