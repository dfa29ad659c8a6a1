"""The explicit registry of reference kernels: ``@register_layer("Dense")``.

A kernel class has two static methods:

* ``infer(attrs, inputs, weights) -> list[TensorType]``: the shape rule. ``inputs``
  holds a TensorType per input (None for an unset optional input), ``weights`` the
  shape of each weight by role. Raises ShapeError when the inputs are unacceptable.
* ``run(attrs, inputs, weights) -> list[np.ndarray]``: the NumPy kernel.

Registration fails for a type with no schema in ``schemas/layers`` and for a type
registered twice, so the catalog and the runtime cannot drift silently.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from kif import catalog
from kif.graph import Shape


class TensorType(tuple[str, Shape]):
    """A tensor's dtype and shape: the tuple subclass ``typing.NamedTuple`` would make (equal to the plain tuple, named
    fields, ``_replace``, ``_asdict``, pickling), written out because NamedTuple builds its class with ``eval``, 0.15 ms
    of every open (tests/test_open_imports.py compares it with the NamedTuple)."""

    __slots__ = ()
    _fields = ("dtype", "shape")
    __match_args__ = ("dtype", "shape")

    def __new__(cls, dtype: str, shape: Shape) -> TensorType:
        return tuple.__new__(cls, (dtype, shape))

    if TYPE_CHECKING:
        dtype: str
        shape: Shape
    else:
        dtype = property(itemgetter(0), doc="Alias for field number 0")
        shape = property(itemgetter(1), doc="Alias for field number 1")

    def __repr__(self) -> str:
        return f"TensorType(dtype={self[0]!r}, shape={self[1]!r})"

    def __getnewargs__(self) -> tuple[str, Shape]:
        return (self[0], self[1])

    def _replace(self, **changes: Any) -> TensorType:
        made = TensorType(changes.pop("dtype", self[0]), changes.pop("shape", self[1]))
        if changes:
            raise ValueError(f"Got unexpected field names: {list(changes)!r}")
        return made

    def _asdict(self) -> dict[str, Any]:
        return {"dtype": self[0], "shape": self[1]}


class ShapeError(ValueError):
    """A shape rule rejects its inputs; the message says what was expected."""


class Kernel(Protocol):
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: Sequence[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]: ...

    @staticmethod
    def run(attrs: dict[str, Any], inputs: Sequence[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]: ...


KERNELS: dict[str, type[Kernel]] = {}
REGISTERED_BY: dict[str, str] = {}  # type -> the module whose code registered it (kif/layers/_kernel_index.py)


def register_layer(layer_type: str) -> Callable[[type], type]:
    def decorate(cls: type) -> type:
        if layer_type in KERNELS:
            raise RuntimeError(f"Layer type {layer_type!r} is registered twice")
        catalog.get(layer_type)  # raises if the schema is missing
        for method in ("infer", "run"):
            if not callable(getattr(cls, method, None)):
                raise RuntimeError(f"Kernel for {layer_type!r} lacks a {method}() method")
        attributes = catalog.get(layer_type).attributes
        if "activation" in attributes and layer_type != "Activation":
            cls.infer = _with_activation_shape(cls.infer, recurrent="return_sequences" in attributes)  # type: ignore[method-assign]
        KERNELS[layer_type] = cls
        REGISTERED_BY[layer_type] = sys._getframe(1).f_globals.get("__name__", "")
        return cls

    return decorate


def _with_activation_shape(infer: Callable[..., list[TensorType]], *, recurrent: bool) -> Callable[..., list[TensorType]]:
    """A layer's shape rule followed by its ``activation``'s: glu halves the last axis of the first output.

    A recurrent cell feeds its activation back as state, so glu cannot be its activation (Keras fails too).
    """

    def rule(attrs: dict[str, Any], inputs: Sequence[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        glu = "glu" in (attrs.get("activation"), attrs.get("recurrent_activation"))
        if glu and recurrent:
            raise ShapeError("expected an activation that keeps the state's shape. Received: glu, which halves the last axis")
        outs = infer(attrs, inputs, weights)
        if not glu:
            return outs  # an open need not import the activation functions
        from kif.layers.activations import output_type  # activations imports this module

        return [output_type("glu", outs[0]), *outs[1:]]

    return staticmethod(rule)  # type: ignore[return-value]
