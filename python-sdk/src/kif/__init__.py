"""KIF: a framework-neutral interchange format for trained Keras-style models.

The public surface::

    kif.save(model, "model.kif")      # write a bundle (directory or .kif archive)
    model = kif.load("model.kif")     # open it lazily, weights memory-mapped
    report = kif.validate("model.kif")
    outputs = kif.run(model, inputs)  # NumPy reference runtime
"""

from __future__ import annotations

__version__ = "0.1.0"

from kif.builder import GraphBuilder
from kif.bundle.reader import load
from kif.bundle.writer import save
from kif.errors import KifError, ValidationError
from kif.graph import SPEC_VERSION, Layer, Model, SelfTest, TensorSpec
from kif.validate import validate

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


def run(model, inputs):  # type: ignore[no-untyped-def]
    """Run ``model`` (a Model or a bundle path) on ``inputs`` with the NumPy reference runtime."""
    from kif.runtime import run as _run

    return _run(model, inputs)
