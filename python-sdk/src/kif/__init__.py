"""KIF: a framework-neutral interchange format for trained Keras-style models.

The public surface::

    kif.save(model, "model.kif")      # write a bundle (directory or .kif archive)
    model = kif.load("model.kif")     # open it lazily, weights memory-mapped
    report = kif.validate("model.kif")
    outputs = kif.run(model, inputs)  # NumPy reference runtime (engine="onnxruntime" | "torch")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from kif import limits as limits  # stdlib only: `kif.limits.override(...)` works right after `import kif`
from kif.errors import KifError, ValidationError  # no dependencies: every error path needs them

# Bound eagerly (kif.validate is light; its pipeline is imported when called): the attribute must be the function,
# and a later `import kif.validate.<module>` would otherwise leave the subpackage under that name.
from kif.validate import validate

__version__ = "0.1.0"
SPEC_VERSION = "0.2.0"  # the KIF specification version this package reads and writes (also kif.graph.SPEC_VERSION)

if TYPE_CHECKING:  # static names; at run time each one is imported on first use (module __getattr__ below)
    import os
    from collections.abc import Mapping

    import numpy

    import kif.graph
    from kif.builder import GraphBuilder
    from kif.bundle.reader import load
    from kif.bundle.writer import save
    from kif.graph import Layer, Model, SelfTest, TensorSpec

# Lazy public names: `import kif` and `kif --version` must not pay for NumPy, ml_dtypes or jsonschema (about 1 s).
_LAZY = {
    "GraphBuilder": "kif.builder",
    "load": "kif.bundle.reader",
    "save": "kif.bundle.writer",
    "Layer": "kif.graph",
    "Model": "kif.graph",
    "SelfTest": "kif.graph",
    "TensorSpec": "kif.graph",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kif' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


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


_RUN: list[Any] = []  # kif.engines.run, bound by kif.run's first call (kif.engines imports NumPy)


def run(
    model: kif.graph.Model | str | os.PathLike[str],
    inputs: Mapping[str, Any] | numpy.ndarray,
    *,
    engine: str = "reference",
    threads: int = 1,
) -> dict[str, numpy.ndarray]:
    """Run ``model`` on ``inputs`` with the NumPy reference runtime, or another engine (:mod:`kif.engines`).

    Args:
        model: a :class:`kif.Model`, or the path of a bundle to load.
        inputs: one array for a single-input model, or a dict keyed by input name.
        engine: ``"reference"`` (the default), ``"onnxruntime"`` (through ``kif.onnx``) or ``"torch"``
            (through ``kif.torch``); the session is built on the first call and kept with the Model.
        threads: intra-op threads of the onnxruntime and torch engines (0: the library's default).

    Returns:
        The outputs keyed by graph output name, in graph order.

    Raises:
        kif.KifError: an unreadable bundle, inputs that do not match the declared names,
            dtypes or shapes, a layer the engine cannot run, an unknown engine (``usage``) or one
            whose library is not installed (``dependency-missing``).
    """
    if not _RUN:  # bound on the first call: a `from kif.engines import run` per call costs an import lookup each time
        from kif.engines import run as engines_run

        _RUN.append(engines_run)
    return _RUN[0](model, inputs, engine=engine, threads=threads)
