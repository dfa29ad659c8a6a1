"""The run plan of the reference runtime: what ``kif.run`` resolves once per model and input signature.

Built on a model's first run (``plan_for``) and kept while the model is unchanged:

* per model: composites inlined, a kernel per layer, every weight read once (digests checked first), the
  fusions of ``kif.plan_fuse`` (BatchNormalization folded into the Conv/Dense before it, an activation layer
  into the layer before it, an Add written into an input nothing else reads);
* per input signature (dtypes and shapes of the inputs): the input check (``self.bind``, a
  ``kif.runtime.Binder``: an input that passed unchanged passes again by a set lookup);
* per input signature and limits in force: every layer's shape rule and cost check (``kif.cost``) on the
  concrete shapes, before anything runs, and the point where each intermediate is released.

A call is then a loop of kernel calls. When a shape rule leaves an output extent unknown (data
dependent), calls with that signature run layer by layer, each layer guarded on the arrays it receives (as
the runtime did before the plan); so does a call in which a kernel's result departs from its shape rule.

"Unchanged" means: the same layers, attributes, inputs, outputs and composites (compared with a copy taken
when the plan was built) and the same weight arrays (the same mapping; for a dict, the same array objects).
Writing into a weight array in place is not seen by the weights the plan derived from it (folded
BatchNormalization): call ``forget(model)`` after such an edit.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from kif import cost, limits, strings
from kif.errors import KifError
from kif.graph import Layer, Model
from kif.layers import Kernel, ShapeError, TensorType

Fn = Callable[[list[np.ndarray | None]], list[np.ndarray]]


@dataclass
class Step:
    """One kernel call: a layer, or a fused chain of layers (``layers``, the first one's kernel)."""

    layers: list[Layer]
    fn: Fn
    inputs: list[str | None]
    outputs: list[str]
    free: tuple[str, ...] = ()
    expect: tuple[tuple[tuple[int, ...], np.dtype], ...] | None = None  # (shape, dtype) per output; None: not known

    def __post_init__(self) -> None:
        self.unary = len(self.inputs) == 1 and self.inputs[0] is not None  # one argument: no list comprehension per call

    @property
    def head(self) -> Layer:
        return self.layers[0]


class Plan:
    def __init__(self, model: Model) -> None:
        from kif import plan_fuse
        from kif.runtime import Binder, _kernel_for, _verify_weights

        self._layers = copy.deepcopy(_fields(model.layers))
        self._io = copy.deepcopy((_fields(model.inputs), _fields(model.outputs), model.composites))
        self._mapping = model.weights
        graph = model.inlined()  # no reference to the model is kept: the cache below must not keep it alive
        self.layers, self.outputs = graph.layers, [spec.name for spec in graph.outputs]
        self.table = _kernel_for(graph)
        _verify_weights(graph)
        self.weights = {layer.name: {role: model.weights[t] for role, t in layer.weights.items()} for layer in graph.layers}
        used = {t for layer in graph.layers for t in layer.weights.values()}
        self._same_arrays = [(t, model.weights[t]) for t in used] if isinstance(model.weights, dict) else []
        self.groups, self.fresh = plan_fuse.groups(graph)
        self._schedules: dict[tuple[Any, ...], list[Step]] = {}
        self._last: tuple[Any, Any, list[Step]] = (None, None, [])
        self.bind = Binder(model.inputs)  # the input check, once per input signature (kif.runtime.Binder)

    def current(self, model: Model) -> bool:
        """Whether ``model`` is still what this plan was built from (see the module docstring)."""
        weights = model.weights
        if weights is not self._mapping or list(map(vars, model.layers)) != self._layers:
            return False
        if (list(map(vars, model.inputs)), list(map(vars, model.outputs)), model.composites) != self._io:
            return False
        same = self._same_arrays  # a dict's arrays (none for a bundle's weights: no generator then)
        return not same or all(weights.get(t) is a for t, a in same)  # type: ignore[attr-defined]

    def run(self, bound: dict[str, np.ndarray], signature: tuple[Any, ...] | None = None) -> dict[str, np.ndarray]:
        """The outputs of the bound inputs (``signature``: their dtypes and shapes, as ``self.bind`` returns them)."""
        if signature is None:
            signature = tuple((a.dtype, a.shape) for a in bound.values())
        bounds = limits.current()
        last = self._last
        if last[0] is bounds and last[1] == signature:  # the same limits object (held here) and input signature
            steps = last[2]
        else:
            steps = self._steps(signature, bounds, bound)
            self._last = (bounds, signature, steps)
        if steps is _DYNAMIC:
            return self._run_dynamic(bound)
        values = dict(bound)
        for step in steps:  # kept lean: this loop is the per-call cost of a run (zip without strict= skips kwargs parsing)
            try:
                ins = step.inputs
                results = step.fn([values[ins[0]]] if step.unary else [values[t] if t is not None else None for t in ins])
            except (ValueError, IndexError, TypeError, MemoryError) as exc:
                raise _failure(step, exc) from (None if isinstance(exc, MemoryError) else exc)
            outputs = step.outputs
            if len(results) != len(outputs):
                results = _trim(step, results)
            for r, expected in zip(results, step.expect):  # type: ignore[arg-type]  # noqa: B905 (equal lengths)
                if (r.shape, r.dtype) != expected:
                    return self._run_dynamic(bound)  # a kernel departed from its shape rule: run again, guarding each layer
            if len(outputs) == 1:
                values[outputs[0]] = results[0]
            else:
                values.update(zip(outputs, results))  # noqa: B905 (equal lengths: _trim)
            for tensor in step.free:
                del values[tensor]
        return {name: values[name] for name in self.outputs}

    def _steps(self, signature: tuple[Any, ...], bounds: limits.Limits, bound: dict[str, np.ndarray]) -> list[Step]:
        key = (signature, bounds)
        steps = self._schedules.get(key)
        if steps is None:
            steps = self._schedule(bound)
            if any(step.expect is None for step in steps):
                steps = _DYNAMIC
            self._schedules[key] = steps
        return steps

    def _run_dynamic(self, bound: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Layer by layer, each guarded on the arrays it receives (an output extent only a run tells)."""
        values = dict(bound)
        steps = [Step([layer], plan_fuse_generic(self, layer), list(layer.inputs), list(layer.outputs)) for layer in self.layers]
        _set_frees(steps, set(self.outputs), set(bound))
        for step in steps:
            args = [values[t] if t is not None else None for t in step.inputs]
            layer = step.head
            ins = [None if x is None else TensorType(strings.dtype_name(x), tuple(x.shape)) for x in args]
            _guard(self.table[layer.name], layer, ins, self.weights[layer.name])
            values.update(zip(step.outputs, _call(step, args), strict=True))
            for tensor in step.free:
                values.pop(tensor, None)
        return {name: values[name] for name in self.outputs}

    # ------------------------------------------------------------------ building a schedule

    def _schedule(self, bound: Mapping[str, np.ndarray]) -> list[Step]:
        from kif import plan_fuse

        types: dict[str, TensorType | None] = {n: TensorType(strings.dtype_name(a), tuple(a.shape)) for n, a in bound.items()}
        steps: list[Step] = []
        for group in self.groups:
            known = self._types(group, types)
            fn = plan_fuse.step_fn(group, self.table, self.weights, types, self.fresh) if known else None
            if fn is None and len(group) > 1:  # a fusion condition does not hold: layer by layer
                steps += [self._step([layer], plan_fuse_generic(self, layer), types) for layer in group]
            else:
                steps.append(self._step(group, fn or plan_fuse_generic(self, group[0]), types))
        _set_frees(steps, set(self.outputs), set(bound))
        return steps

    def _types(self, group: list[Layer], types: dict[str, TensorType | None]) -> bool:
        """Guard each layer of the group on the known types; record its output types (None: known only by a run)."""
        known = True
        for layer in group:
            ins = [None if t is None else types.get(t) for t in layer.inputs]
            if any(t is None and name is not None for t, name in zip(ins, layer.inputs, strict=True)):
                known = False
                types.update(dict.fromkeys(layer.outputs))
                continue
            outs = _guard(self.table[layer.name], layer, ins, self.weights[layer.name])
            for out, t in zip(layer.outputs, outs, strict=False):
                concrete = all(isinstance(d, int) for d in t.shape)
                types[out] = t if concrete else None
                known = known and concrete
        return known

    def _step(self, group: list[Layer], fn: Fn, types: Mapping[str, TensorType | None]) -> Step:
        found = [types.get(o) for o in group[-1].outputs]
        expect = None if any(t is None for t in found) else tuple((tuple(t.shape), _np_dtype(t.dtype)) for t in found if t is not None)
        if expect is not None and any(types.get(t) is None for layer in group for t in layer.inputs if t is not None):
            expect = None
        return Step(group, fn, list(group[0].inputs), list(group[-1].outputs), (), expect)


_DYNAMIC: list[Step] = []


def _fields(items: list[Any]) -> list[dict[str, Any]]:
    """The instance dicts of dataclass objects (layers, specs), as ``current`` compares them (inline there): in C,
    without the dataclasses' ``__eq__`` building two tuples per object on every call; every field is there (an
    extra attribute only rebuilds the plan)."""
    return list(map(vars, items))


def _np_dtype(name: str) -> np.dtype:
    from kif.runtime import _numpy_dtype

    return np.dtype(object) if name == strings.STRING else _numpy_dtype(name)


def plan_fuse_generic(plan: Plan, layer: Layer) -> Fn:
    from kif import plan_fuse

    return plan_fuse.generic(plan.table[layer.name], layer, plan.weights[layer.name])


def _guard(kernel: type[Kernel], layer: Layer, ins: list[TensorType | None], weights: Mapping[str, np.ndarray]) -> list[TensorType]:
    """Shape rule on the concrete shapes, then the cost check, before anything is allocated."""
    shapes = {role: tuple(w.shape) for role, w in weights.items()}
    try:
        outs = kernel.infer(layer.attributes, ins, shapes)
    except (ShapeError, ValueError, TypeError, KeyError, IndexError) as exc:
        message = f"Layer {layer.name!r} ({layer.type}) cannot run on these inputs: {exc}"
        raise KifError(message, code="run-failed", pointer=layer.name) from None
    cost.check(layer.type, layer.name, layer.attributes, ins, outs, shapes)
    return outs


def _call(step: Step, args: list[np.ndarray | None]) -> list[np.ndarray]:
    try:
        results = step.fn(args)
    except (ValueError, IndexError, TypeError, MemoryError) as exc:
        raise _failure(step, exc) from (None if isinstance(exc, MemoryError) else exc)
    return results if len(results) == len(step.outputs) else _trim(step, results)


def _failure(step: Step, exc: BaseException) -> KifError:
    layer = step.head
    if isinstance(exc, MemoryError):  # the estimates bound the kernels' arrays; this is the machine having less than the limits
        message = f"Layer {layer.name!r} ({layer.type}) ran out of memory; lower the kif.limits to fail earlier"
        return KifError(message, code="limit-exceeded", pointer=layer.name)
    return KifError(f"Layer {layer.name!r} ({layer.type}) failed: {exc}", code="run-failed", pointer=layer.name)


def _trim(step: Step, results: list[np.ndarray]) -> list[np.ndarray]:
    last = step.layers[-1]
    if len(results) < len(last.outputs):
        raise KifError(
            f"Layer {last.name!r} ({last.type}): expected {len(last.outputs)} outputs from the kernel. Received: {len(results)}",
            code="run-failed",
            pointer=last.name,
        )
    return results[: len(last.outputs)]  # a layer may leave trailing optional outputs (e.g. Masking's mask) undeclared


def _set_frees(steps: list[Step], keep: set[str], inputs: set[str]) -> None:
    """Each step releases the intermediates it is the last reader of (graph outputs stay)."""
    last: dict[str, int] = {}
    for index, step in enumerate(steps):
        for tensor in step.inputs:
            if tensor is not None:
                last[tensor] = index
    for index, step in enumerate(steps):
        step.free = tuple(dict.fromkeys(t for t in step.inputs if t is not None and last[t] == index and t not in keep))


# ---------------------------------------------------------------------- the cache

_PLANS: dict[int, tuple[weakref.ref[Model], Plan]] = {}


def plan_for(model: Model) -> Plan:
    """The plan of ``model``, built on first use and rebuilt when the model changed."""
    entry = _PLANS.get(id(model))
    if entry is not None and entry[0]() is model and entry[1].current(model):
        return entry[1]
    built = Plan(model)
    key = id(model)
    _PLANS[key] = (weakref.ref(model, lambda ref: _drop(key, ref)), built)
    return built


def _drop(key: int, ref: weakref.ref[Model]) -> None:
    plans = _PLANS
    if plans is not None and plans.get(key, (None,))[0] is ref:  # not a later model that got the same id
        del plans[key]


def forget(model: Model) -> None:
    """Drop the plan of ``model``: the next run builds a new one (after writing into a weight array in place)."""
    _PLANS.pop(id(model), None)
