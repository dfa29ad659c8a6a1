"""KIF: a framework-neutral interchange format for trained Keras-style models.

The public surface::

    kif.save(model, "model.kif")      # write a bundle (directory or .kif archive)
    model = kif.load("model.kif")     # open it lazily, weights memory-mapped
    report = kif.validate("model.kif")
    outputs = kif.run(model, inputs)  # NumPy reference runtime
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from kif.builder import GraphBuilder
from kif.bundle.reader import load
from kif.bundle.writer import save
from kif.errors import KifError, ValidationError
from kif.graph import SPEC_VERSION, Layer, Model, SelfTest, TensorSpec
from kif.validate import validate

if TYPE_CHECKING:  # names for run's annotations only; NumPy is not imported at run time here
    import os
    from collections.abc import Mapping

    import numpy

    import kif.graph

__all__ = [
    "SPEC_VERSION",
    "GraphBuilder",
    "KifError",
    "Layer",
    "Model",
    "SelfTest",
    "TensorSpec",
    "ValidationError",
    "__version__",
    "load",
    "run",
    "save",
    "validate",
]


def run(
    model: kif.graph.Model | str | os.PathLike[str], inputs: Mapping[str, Any] | numpy.ndarray
) -> dict[str, numpy.ndarray]:
    """Run ``model`` on ``inputs`` with the NumPy reference runtime.

    Args:
        model: a :class:`kif.Model`, or the path of a bundle to load.
        inputs: one array for a single-input model, or a dict keyed by input name.

    Returns:
        The outputs keyed by graph output name, in graph order.

    Raises:
        kif.KifError: an unreadable bundle, inputs that do not match the declared names,
            dtypes or shapes, or a layer the reference runtime does not implement.
    """
    from kif.runtime import run as _run

    return _run(model, inputs)
