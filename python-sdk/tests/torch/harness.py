"""The torch counterpart of tests.layers.harness.run_layer: the same one-layer bundle, run by kif.torch.

``run_torch`` builds the one-layer model with the same ``build_layer`` run_layer uses, loads it with
``kif.torch.load`` and runs the torch module under ``torch.no_grad``.
Tests compare its result with an independent oracle (Keras itself, or a hand-derived value).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

import kif
import kif.torch
from kif.errors import KifError
from kif.torch.module import as_tensor
from tests.layers.harness import build_layer


def to_numpy(t: torch.Tensor) -> np.ndarray:
    if t.dtype == torch.bfloat16:
        import ml_dtypes

        return t.view(torch.uint16).numpy().view(ml_dtypes.bfloat16)
    return t.detach().numpy().copy()


def run_torch(
    layer_type: str,
    inputs: np.ndarray | Sequence[np.ndarray | None],
    weights: Mapping[str, np.ndarray] | None = None,
    *,
    num_outputs: int = 1,
    free_batch: bool = True,
    round_trip: bool = False,
    **attributes: Any,
) -> Any:
    """Run one layer through kif.torch.load → forward; return its output(s) as NumPy.

    The builder has already checked attributes, weights and shapes; ``round_trip`` also saves, validates and
    loads the bundle from disk (tests/layers does that for every one of these bundles already).
    """
    model = build_layer(layer_type, inputs, weights, num_outputs=num_outputs, free_batch=free_batch, **attributes)
    arrays = [inputs] if isinstance(inputs, np.ndarray) else [a for a in inputs if a is not None]
    if round_trip:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "layer.kif"
            kif.save(model, path)
            report = kif.validate(path)
            assert report.ok, [str(f) for f in report.findings]
            module = kif.torch.load(path)
    else:
        module = kif.torch.load(model)
    assert not module.training
    try:
        with torch.no_grad():
            out = module(*[as_tensor(a) for a in arrays])
    except (RuntimeError, IndexError, ValueError, TypeError) as exc:  # as the reference runtime reports kernel failures
        raise KifError(f"Layer 'layer' ({layer_type}) failed: {exc}", code="run-failed", pointer="layer") from exc
    outs = [to_numpy(t) for t in (out if isinstance(out, tuple) else (out,))]
    return outs[0] if num_outputs == 1 else outs
