"""Engines: run a KIF model with the NumPy reference runtime, ONNX Runtime or torch, behind one contract.

``kif.run(model, inputs, engine="onnxruntime")``, ``model(inputs, engine="torch")`` and
``kif run --engine NAME`` choose one; the default is ``reference`` (exact, no extra dependency).

* ``onnxruntime``: the model is exported with ``kif.onnx`` (in memory) and run in an
  ``onnxruntime.InferenceSession`` (extra ``kif-format[onnx]``);
* ``torch``: the model is imported with ``kif.torch`` and run under ``torch.inference_mode``
  (extra ``kif-format[torch]``).

Every engine takes the inputs the reference runtime takes, checked by the same code
(``kif.runtime.Binder``: names, dtype casts, shapes, the same codes and messages; a signature that
passed once passes by a set lookup), checks the concrete shapes and the resource limits once per
input signature and limits in force, and returns NumPy arrays
keyed by graph output name in graph order. The session (export + InferenceSession, or the
torch module) is built on the first call and kept for as long as the Model object lives: call
``kif.load`` once and run the model many times; a Model changed after its first run needs
``forget(model)``. ``threads`` is the engines' intra-op thread count (1 by default; 0 leaves
the library's default); the reference runtime does not use it.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from kif.errors import KifError, UsageError
from kif.graph import Model

ENGINES = ("reference", "onnxruntime", "torch")
DEFAULT = "reference"
_EXTRA = {"onnxruntime": ("onnx", "onnxruntime"), "torch": ("torch",)}

Runner = Callable[[Mapping[str, Any] | np.ndarray], dict[str, np.ndarray]]
_SESSIONS: dict[int, dict[tuple[str, int], Runner]] = {}
_LOCK = threading.Lock()
_AVAILABLE: set[str] = {"reference"}

__all__ = ["DEFAULT", "ENGINES", "check", "forget", "run", "session"]


def check(engine: str, threads: int = 1) -> str:
    """``engine`` if it is a known name whose dependencies are installed; else UsageError or MissingDependencyError."""
    if engine not in ENGINES:
        raise UsageError(f"Expected an engine, one of {', '.join(ENGINES)}. Received: engine={engine!r}", code="usage")
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
        raise UsageError(f"Expected threads to be an integer >= 0 (0: the engine's default). Received: threads={threads!r}", code="usage")
    if engine not in _AVAILABLE:  # the dependency check imports modules: once per engine, not on every run
        from kif._optional import require

        for module in _EXTRA.get(engine, ()):
            require(module, f"the {engine} engine")
        _AVAILABLE.add(engine)
    return engine


def session(model: Model, engine: str, threads: int = 1) -> Runner:
    """The cached runner of ``model`` on ``engine``: built on first use, kept while the Model object lives."""
    key = (check(engine, threads), threads)
    cached = _SESSIONS.get(id(model))  # a dict read needs no lock; building does
    if cached is not None and key in cached:
        return cached[key]
    runner = _build(model, engine, threads)
    with _LOCK:
        if id(model) not in _SESSIONS:
            _SESSIONS[id(model)] = {}
            weakref.finalize(model, _SESSIONS.pop, id(model), None)  # the runners hold no reference to the model
        return _SESSIONS[id(model)].setdefault(key, runner)


def forget(model: Model) -> None:
    """Drop the sessions built for ``model`` (call it after changing the model's layers or weights)."""
    with _LOCK:
        _SESSIONS.pop(id(model), None)


def run(
    model: Model | str | os.PathLike[str],
    inputs: Mapping[str, Any] | np.ndarray,
    *,
    engine: str = DEFAULT,
    threads: int = 1,
) -> dict[str, np.ndarray]:
    """Outputs keyed by graph output name, in graph order, from ``engine``."""
    if engine == "reference" and type(threads) is int and threads >= 0 and isinstance(model, Model):
        return (_REFERENCE or _reference())[0](model, inputs)  # the common call: no engine check, no session lookup
    check(engine, threads)  # a wrong engine or a missing extra fails before the model is read
    if not isinstance(model, Model):
        from kif.bundle.reader import load

        model = load(model)
    if engine == "reference":
        return _reference()[0](model, inputs)
    cached = _SESSIONS.get(id(model))
    runner = cached.get((engine, threads)) if cached is not None else None
    return (runner or session(model, engine, threads))(inputs)  # the runner binds and checks the inputs itself


_REFERENCE: list[Callable[[Model, Mapping[str, Any] | np.ndarray], dict[str, np.ndarray]]] = []


def _reference() -> list[Callable[[Model, Mapping[str, Any] | np.ndarray], dict[str, np.ndarray]]]:
    if not _REFERENCE:
        from kif.runtime import run  # lazy: the runtime imports every kernel

        _REFERENCE.append(run)
    return _REFERENCE


def _build(model: Model, engine: str, threads: int) -> Runner:
    from kif.engines._guard import Guarded

    if engine == "onnxruntime":
        from kif.engines._onnxruntime import OrtRunner

        return Guarded(model, OrtRunner(model, threads))
    if engine == "torch":
        from kif.engines._torch import TorchRunner

        return Guarded(model, TorchRunner(model, threads))
    raise KifError(f"No runner for engine {engine!r}", code="usage")  # unreachable: check() names the engines
