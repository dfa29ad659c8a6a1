"""The run plan of the reference runtime: what ``kif.run`` resolves once per model and input signature.

Built on a model's first run (``plan_for``) and kept while the model is unchanged:

* per model: composites inlined, a kernel per layer, every weight read once (digests checked first), the
  fusions of ``kif.plan_fuse`` (BatchNormalization folded into the Conv/Dense before it, an activation layer
  into the layer before it, an Add written into an input nothing else reads);
* per input signature (dtypes and shapes of the inputs): the input check (``self.bind``, a
  ``kif.runtime.Binder``: an input that passed unchanged passes again by a set lookup);
* per input signature and limits in force: every layer's shape rule and cost check (``kif.cost``) on the
  concrete shapes, before anything runs, and the point where each intermediate is released.

A call is then a loop of kernel calls; each step's outputs are checked against the (shape, dtype) its shape rule
gave, except where the step function fixes that type itself (plan_fuse's Dense with linear, relu or softmax).
A schedule that is a straight line of such steps (one input, one output, each step reading only the one before:
an mlp) runs as a loop of one-array functions, and a call on an exact ndarray of the last such signature, under
the same limits object, goes straight to it (``Plan.__call__``). When a shape rule leaves an output extent
unknown (data dependent), calls with that signature run layer by layer, each layer guarded on the arrays it
receives (as the runtime did before the plan); so does a call in which a kernel's result departs from its
shape rule.

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
        # A function whose output type is fixed by its construction (plan_fuse: ``fn.out``, equal to the shape rule's)
        # needs no per-call check of that output: its input's type is the signature's or a checked step's output.
        out = getattr(self.fn, "out", None)
        fixed = self.expect is not None and len(self.expect) == 1 and out == self.expect[0]
        self.check = None if fixed else self.expect
        self.one: Callable[[np.ndarray], np.ndarray] | None = getattr(self.fn, "one", None) if fixed and self.unary else None

    @property
    def head(self) -> Layer:
        return self.layers[0]


class Plan:
    def __init__(self, model: Model) -> None:
        from kif import plan_fuse
        from kif.runtime import Binder, _kernel_for, _verify_weights

        self._fields = copy.deepcopy(_fields(model))
        self._counts = (len(model.layers), len(model.inputs))
        self._composites = copy.deepcopy(model.composites)
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
        self._chains: dict[tuple[Any, ...], Chain | None] = {}
        self._last: tuple[Any, Any, list[Step], Chain | None] = (None, None, [], None)
        self._fast: tuple[Any, ...] | None = None  # (input name, dtype, shape, limits, chain steps, output name): __call__
        self.bind = Binder(model.inputs)  # the input check, once per input signature (kif.runtime.Binder)

    def current(self, model: Model) -> bool:
        """Whether ``model`` is still what this plan was built from (see the module docstring)."""
        weights = model.weights
        if weights is not self._mapping or [*map(vars, model.layers), *map(vars, model.inputs), *map(vars, model.outputs)] != self._fields:
            return False
        if (len(model.layers), len(model.inputs)) != self._counts or model.composites != self._composites:
            return False
        same = self._same_arrays  # a dict's arrays (none for a bundle's weights: no generator then)
        return not same or all(weights.get(t) is a for t, a in same)  # type: ignore[attr-defined]

    def __call__(self, inputs: Mapping[str, Any] | np.ndarray) -> dict[str, np.ndarray]:
        """The outputs of ``inputs``: checked (``self.bind``), then run.

        When the last call ran a straight line of steps (``_chain``) on one exact ndarray that passed the input
        check unchanged, a call with an exact ndarray of that dtype object and shape, under the same limits
        object, runs that line directly: the Binder's cached check (``Binder.seen``) for that one signature and
        the schedule lookup of ``run``, with no dicts built. Anything else takes ``self.bind`` and ``run``."""
        fast = self._fast
        if fast is not None:
            kind = type(inputs)  # below: limits._current is what limits.current() returns once it was called (by run)
            array = inputs if kind is np.ndarray else inputs.get(fast[0]) if kind is dict and len(inputs) == 1 else None  # type: ignore[union-attr]
            if type(array) is np.ndarray and array.dtype is fast[1] and array.shape == fast[2] and limits._current is fast[3]:
                y, step = array, None
                try:
                    for one, step in fast[4]:  # noqa: B007 (the except clause names the step)
                        y = one(y)
                except (ValueError, IndexError, TypeError, MemoryError) as exc:
                    raise _failure(step, exc) from (None if isinstance(exc, MemoryError) else exc)  # type: ignore[arg-type]
                return {fast[5]: y}
        bound, signature = self.bind(inputs)
        result = self.run(bound, signature)
        last = self._last
        if last[3] is not None and last[1] == signature and signature in self.bind.seen:  # an exact array, no cast
            ((dtype, shape),) = signature
            self._fast = (self.bind.names[0], dtype, shape, last[0], last[3][1], last[3][2])
        return result

    def run(self, bound: dict[str, np.ndarray], signature: tuple[Any, ...] | None = None) -> dict[str, np.ndarray]:
        """The outputs of the bound inputs (``signature``: their dtypes and shapes, as ``self.bind`` returns them)."""
        if signature is None:
            signature = tuple((a.dtype, a.shape) for a in bound.values())
        bounds = limits.current()
        last = self._last
        if last[0] is bounds and last[1] == signature:  # the same limits object (held here) and input signature
            steps, chain = last[2], last[3]
        else:
            steps, chain = self._steps(signature, bounds, bound)
            self._last = (bounds, signature, steps, chain)
        if chain is not None:
            return self._run_chain(chain, bound)
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
            check = step.check  # None: an output type fixed by the step function (Step.__post_init__)
            if check is not None:
                for r, expected in zip(results, check):  # noqa: B905 (equal lengths)
                    if (r.shape, r.dtype) != expected:
                        return self._run_dynamic(bound)  # a kernel departed from its shape rule: run again, guarding each layer
            if len(outputs) == 1:
                values[outputs[0]] = results[0]
            else:
                values.update(zip(outputs, results))  # noqa: B905 (equal lengths: _trim)
            for tensor in step.free:
                del values[tensor]
        return {name: values[name] for name in self.outputs}

    def _run_chain(self, chain: Chain, bound: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """A straight line of one-array steps whose output types are fixed: each step's array feeds the next."""
        source, ones, output = chain
        y, step = bound[source], None
        try:
            for one, step in ones:  # noqa: B007 (the except clause names the step)
                y = one(y)
        except (ValueError, IndexError, TypeError, MemoryError) as exc:
            raise _failure(step, exc) from (None if isinstance(exc, MemoryError) else exc)  # type: ignore[arg-type]
        return {output: y}

    def _steps(self, signature: tuple[Any, ...], bounds: limits.Limits, bound: dict[str, np.ndarray]) -> tuple[list[Step], Chain | None]:
        key = (signature, bounds)
        steps = self._schedules.get(key)
        if steps is None:
            steps = self._schedule(bound)
            if any(step.expect is None for step in steps):
                steps = _DYNAMIC
            self._schedules[key] = steps
            self._chains[key] = _chain(steps, list(bound), self.outputs)
        return steps, self._chains[key]

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
Chain = tuple[str, list[tuple[Callable[[np.ndarray], np.ndarray], Step]], str]  # input, (one, step) per step, output


def _chain(steps: list[Step], inputs: list[str], outputs: list[str]) -> Chain | None:
    """The schedule as a straight line, when it is one: one graph input and one graph output, each step a
    one-array function with a fixed output type (``Step.one``) reading the previous step's output (or the input),
    every intermediate read by the next step only (released there) and none a graph output."""
    if not steps or steps is _DYNAMIC or len(inputs) != 1 or len(outputs) != 1 or steps[-1].outputs != outputs:
        return None
    previous = inputs[0]
    for index, step in enumerate(steps):
        if step.one is None or step.inputs != [previous] or len(step.outputs) != 1:
            return None
        if index and step.free != (previous,):  # the previous step's output is read here only
            return None
        previous = step.outputs[0]
    if previous in inputs:
        return None
    return inputs[0], [(step.one, step) for step in steps if step.one is not None], outputs[0]


def _fields(model: Model) -> list[dict[str, Any]]:
    """The instance dicts of the layers, inputs and outputs (dataclass objects), as ``current`` compares them
    (inline there): in C, without the dataclasses' ``__eq__`` building two tuples per object on every call; every
    field is there (an extra attribute only rebuilds the plan). ``current`` compares the counts too."""
    return [*map(vars, model.layers), *map(vars, model.inputs), *map(vars, model.outputs)]


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
