"""The NumPy reference runtime: executes a Model layer by layer with the registered kernels, through the run
plan of kif/plan.py (built once per model and input signature).

Before a layer runs, its shape rule is applied to the concrete input shapes and kif.cost
checks the outputs, scratch arrays and work against kif.limits: a small file cannot make
the runtime allocate terabytes or loop for hours, it gets ``limit-exceeded`` naming the layer.
"""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from kif import cost, strings
from kif.errors import KifError, UnsupportedLayerError
from kif.graph import Model, TensorSpec
from kif.layers import Kernel, ShapeError, TensorType, kernels
from kif.plan import plan_for

_CUSTOM: dict[str, type[Kernel]] = {}


def register_custom(layer_type: str, kernel: type[Kernel]) -> None:
    """Provide an implementation for a namespaced custom type (``vendor.name:Layer``)."""
    if ":" not in layer_type:
        raise KifError(f"Expected a namespaced custom type like 'vendor.name:Layer'. Received: {layer_type!r}", code="layer-type-unknown")
    _CUSTOM[layer_type] = kernel


def _kernel_for(model: Model) -> dict[str, type[Kernel]]:
    registry = kernels()
    found: dict[str, type[Kernel]] = {}
    for layer in model.layers:
        kernel = registry.get(layer.type) or _CUSTOM.get(layer.type)
        if kernel is None:
            why = (
                "a custom type with no registered implementation (kif.runtime.register_custom)"
                if ":" in layer.type
                else "a layer type the reference runtime does not implement"
            )
            raise UnsupportedLayerError(
                f"Layer {layer.name!r} has type {layer.type!r}: {why}", code="layer-unsupported", pointer=layer.name
            )
        found[layer.name] = kernel
    return found


def _bind_inputs(model: Model, inputs: Mapping[str, Any] | np.ndarray) -> dict[str, np.ndarray]:
    return _bind(model.inputs, inputs)


def _bind(specs: list[TensorSpec], inputs: Mapping[str, Any] | np.ndarray) -> dict[str, np.ndarray]:
    if not isinstance(inputs, Mapping):
        if len(specs) != 1:
            names = ", ".join(s.name for s in specs)
            raise KifError(f"Model has {len(specs)} inputs ({names}); pass a dict keyed by input name", code="run-inputs")
        inputs = {specs[0].name: inputs}
    expected = [s.name for s in specs]
    missing = [n for n in expected if n not in inputs]
    extra = [n for n in inputs if n not in expected]
    if missing or extra:
        raise KifError(f"Expected inputs {expected}. Missing: {missing}; unknown: {extra}", code="run-inputs")
    bound = {}
    for spec in specs:
        array = np.asarray(inputs[spec.name])
        if spec.dtype == strings.STRING:
            array = strings.as_strings(array, spec.name)
        elif strings.is_string_array(array):
            raise KifError(f"Input {spec.name!r}: expected {spec.dtype}. Received: strings", code="run-inputs", pointer=spec.name)
        target = array.dtype if spec.dtype == strings.STRING else np.dtype(_numpy_dtype(spec.dtype))
        if array.dtype != target:
            if not np.can_cast(array.dtype, target, casting="same_kind"):
                raise KifError(
                    f"Input {spec.name!r}: expected {spec.dtype}. Received: dtype={array.dtype}", code="run-inputs", pointer=spec.name
                )
            array = array.astype(target)
        if array.ndim != len(spec.shape) or any(d is not None and d != a for d, a in zip(spec.shape, array.shape, strict=True)):
            raise KifError(
                f"Input {spec.name!r}: expected shape {list(spec.shape)}. Received: {list(array.shape)}",
                code="run-inputs",
                pointer=spec.name,
            )
        bound[spec.name] = array
    return bound


Signature = tuple[tuple[np.dtype, tuple[int, ...]], ...]
_MAX_SIGNATURES = 256  # input signatures remembered per model


class Binder:
    """``_bind`` for one model's inputs, with the check done once per input signature (dtype and shape of each
    input): an input whose signature passed ``_bind`` unchanged (no cast, no conversion) passes again by a set
    lookup. Anything else (another signature, a cast, strings, whose every element is checked, a Mapping that
    is not a dict, an ndarray subclass, a list) takes ``_bind`` itself, with its errors and messages."""

    def __init__(self, specs: list[TensorSpec]) -> None:
        self.specs = copy.deepcopy(specs)
        self.names = tuple(s.name for s in specs)
        self.cacheable = all(s.dtype != strings.STRING for s in specs)
        self.seen: set[Signature] = set()

    def __call__(self, inputs: Mapping[str, Any] | np.ndarray) -> tuple[dict[str, np.ndarray], Signature]:
        names, kind = self.names, type(inputs)
        if len(names) == 1:  # the common case without a loop: an array, or a dict of one array
            array = inputs if kind is np.ndarray else inputs.get(names[0]) if kind is dict and len(inputs) == 1 else None  # type: ignore[union-attr]
            if type(array) is np.ndarray:
                signature: Signature = ((array.dtype, array.shape),)  # type: ignore[union-attr]
                if signature in self.seen:
                    return {names[0]: array}, signature  # type: ignore[dict-item]
        elif kind is dict and len(inputs) == len(names):
            arrays = [inputs.get(n) for n in names]  # type: ignore[union-attr]
            if all(type(a) is np.ndarray for a in arrays):
                signature = tuple([(a.dtype, a.shape) for a in arrays])  # type: ignore[union-attr]
                if signature in self.seen:
                    return dict(zip(names, arrays, strict=True)), signature  # type: ignore[arg-type]
        bound = _bind(self.specs, inputs)
        signature = tuple((a.dtype, a.shape) for a in bound.values())
        given = {names[0]: inputs} if kind is np.ndarray and len(names) == 1 else inputs
        if self.cacheable and isinstance(given, dict) and all(given.get(n) is bound[n] for n in names):
            if len(self.seen) >= _MAX_SIGNATURES:
                self.seen.clear()
            self.seen.add(signature)  # type(array) is np.ndarray is checked on the fast path itself
        return bound, signature


@functools.lru_cache(maxsize=64)
def _numpy_dtype(name: str) -> np.dtype:
    from kif.dtypes import by_name

    return np.dtype(by_name(name).numpy)


def _verify_weights(model: Model) -> None:
    """Every digest still pending, on every core, before the first layer runs (not for a URL: each tensor is then
    checked over the bytes of its one ranged read, so nothing is fetched twice)."""
    from kif.bundle.reader import LazyWeights

    if isinstance(model.weights, LazyWeights) and not model.weights.remote:
        model.weights.verify()


def run(model: Model | str | os.PathLike[str], inputs: Mapping[str, Any] | np.ndarray) -> dict[str, np.ndarray]:
    """Outputs keyed by graph output name, in graph order."""
    if not isinstance(model, Model):
        from kif.bundle.reader import load

        model = load(model)
    return plan_for(model)(inputs)  # composites inlined, kernels, weights, fusions: once per model (kif/plan.py)


def _guard(kernel: type[Kernel], layer: Any, args: list[np.ndarray | None], weights: Mapping[str, np.ndarray]) -> None:
    """Shape rule on the concrete shapes, then the cost check, before anything is allocated."""
    ins = [None if a is None else TensorType(strings.dtype_name(a), tuple(a.shape)) for a in args]
    shapes = {role: tuple(w.shape) for role, w in weights.items()}
    try:
        outs = kernel.infer(layer.attributes, ins, shapes)
    except (ShapeError, ValueError, TypeError, KeyError, IndexError) as exc:
        message = f"Layer {layer.name!r} ({layer.type}) cannot run on these inputs: {exc}"
        raise KifError(message, code="run-failed", pointer=layer.name) from None
    cost.check(layer.type, layer.name, layer.attributes, ins, outs, shapes)


def _last_uses(model: Model) -> dict[str, int]:
    last: dict[str, int] = {}
    for index, layer in enumerate(model.layers):
        for tensor in layer.inputs:
            if tensor is not None:
                last[tensor] = index
    return last
