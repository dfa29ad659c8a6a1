"""The PyTorch importer: ``kif.torch.load(path_or_model) -> torch.nn.Module`` (extra ``kif-format[torch]``).

The module is built from real torch modules (nn.Linear, nn.ConvNd, nn.LSTM, ...) or equivalent
functional code where torch has no module with the exact KIF semantics; weights are converted
from the canonical (Keras) layouts. It is returned in eval mode; ``forward`` takes the graph
inputs positionally and returns a tensor (one output) or a tuple in graph-output order. It
works eagerly, under ``torch.no_grad``, ``torch.jit.trace`` and ``torch.export``.
Unsupported layer types fail at load time with UnsupportedLayerError (code ``layer-unsupported``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

import numpy as np

from kif._optional import require

require("torch", "kif.torch (the PyTorch importer)")  # one line with the install command instead of a traceback

from kif.graph import Model  # noqa: E402
from kif.torch.module import KifModule, as_tensor  # noqa: E402

__all__ = ["KifModule", "conformance_backend", "load", "supported_types"]


def load(model: Model | str | os.PathLike[str]) -> KifModule:
    """A torch module for a KIF bundle path (directory or .kif) or an in-memory Model."""
    if not isinstance(model, Model):
        from kif.bundle.reader import load as load_bundle

        model = load_bundle(model)
    return KifModule(model)


def supported_types() -> list[str]:
    from kif.torch.layers import converters

    return sorted(converters())


class _Backend:
    """The conformance-runner contract: ``load(bundle_path)`` returns a callable on ``dict[str, ndarray]``."""

    name = "torch"

    def load(self, bundle_path: str | os.PathLike[str]) -> Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]]:
        import torch

        from kif.bundle.reader import load as load_bundle

        model = load_bundle(bundle_path)
        text = [s.name for s in (*model.inputs, *model.outputs) if s.dtype == "string"]
        if text:  # refused before any layer: the runner then scores the case "not-supported"
            from kif.errors import UnsupportedLayerError

            names = ", ".join(text)
            raise UnsupportedLayerError(f"kif.torch cannot take or return string tensors ({names})", code="layer-unsupported")
        module = KifModule(model)
        specs = model.inputs

        def run(inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
            with torch.no_grad():
                out = module(*[as_tensor(np.asarray(inputs[s.name])) for s in specs])
            outs = out if isinstance(out, tuple) else (out,)
            return {name: _to_numpy(t) for name, t in zip(module.output_names, outs, strict=True)}

        return run


def _to_numpy(t: object) -> np.ndarray:
    import torch

    assert isinstance(t, torch.Tensor)
    if t.dtype == torch.bfloat16:
        import ml_dtypes

        return t.view(torch.uint16).numpy().view(ml_dtypes.bfloat16)
    return t.detach().numpy()


conformance_backend = _Backend()
