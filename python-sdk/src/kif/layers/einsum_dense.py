"""EinsumDense: y = activation(einsum(equation, x, kernel) + bias) (spec/layers/EinsumDense.md).

The equation has one of Keras's three forms: ``X,W->Z``, ``...X,W->...Z`` (leading axes
elided) or ``X...,W->Z...`` (trailing axes elided). The kernel has one axis per letter
of W; the bias covers the output letters from the first letter in ``bias_axes`` to
the last output letter (size 1 where a letter has no bias), plus a 1 per right-elided
axis, and is added with right-aligned broadcasting, exactly as Keras builds it.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import numpy as np

from kif.layers import activations
from kif.layers._common import only
from kif.layers.registry import ShapeError, TensorType, register_layer

_FORMS = (
    (re.compile(r"^([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)$"), None),
    (re.compile(r"^\.\.\.([a-zA-Z]+),([a-zA-Z]+)->\.\.\.([a-zA-Z]+)$"), "left"),
    (re.compile(r"^([a-zA-Z]{2,})\.\.\.,([a-zA-Z]+)->([a-zA-Z]+)\.\.\.$"), "right"),
)


Sizes = dict[str, int | None]  # size of the axis of each letter, None when unknown


class Equation(NamedTuple):
    x: str
    kernel: str
    out: str
    elided: str | None  # None, "left" or "right"


def parse(equation: str) -> Equation:
    for pattern, form in _FORMS:
        match = pattern.match(equation)
        if match:
            x, kernel, out = match.groups()
            elided = form
            break
    else:
        raise ShapeError(f"expected an equation of the form X,W->Z, ...X,W->...Z or X...,W->Z.... Received: {equation!r}")
    for letter in out:
        if letter not in x and letter not in kernel:
            raise ShapeError(f"output letter {letter!r} appears in neither the input nor the kernel term of {equation!r}")
    for letter in kernel:
        if letter not in x and letter not in out:
            raise ShapeError(f"kernel letter {letter!r} appears in neither the input nor the output term of {equation!r}")
    for term in (x, kernel, out):
        if len(set(term)) != len(term):
            raise ShapeError(f"expected no repeated letter within a term. Received: {equation!r}")
    return Equation(x, kernel, out, elided)


def bias_shape(eq: Equation, bias_axes: str, sizes: Sizes, n_elided: int) -> tuple[int | None, ...]:
    """Keras's bias layout: output letters from the first bias letter on, 1 where no bias, then 1 per right-elided axis."""
    for letter in bias_axes:
        if letter not in eq.out:
            raise ShapeError(f"bias letter {letter!r} is not an output letter of {eq.x},{eq.kernel}->{eq.out}")
    first = min(eq.out.index(letter) for letter in bias_axes)
    shape = [sizes[c] if c in bias_axes else 1 for c in eq.out[first:]]
    if eq.elided == "right":
        shape += [1] * n_elided
    return tuple(shape)


def _output_shape(attrs: dict[str, Any], x: TensorType, kernel: tuple[int, ...] | None) -> tuple[tuple[int | None, ...], Sizes, int]:
    """(output shape, size per letter, number of elided axes)."""
    eq = parse(attrs["equation"])
    rank = len(x.shape)
    n_elided = rank - len(eq.x)
    if (eq.elided is None and n_elided != 0) or (eq.elided == "left" and n_elided < 1) or n_elided < 0:
        need = f"{len(eq.x)}" if eq.elided is None else f"at least {len(eq.x) + (eq.elided == 'left')}"
        raise ShapeError(f"expected input of rank {need} for {attrs['equation']!r}. Received: shape {list(x.shape)}")
    left = n_elided if eq.elided == "left" else 0  # where the output letters start
    sizes: Sizes = dict(zip(eq.x, x.shape[left : left + len(eq.x)], strict=True))
    if kernel is not None:
        if len(kernel) != len(eq.kernel):
            raise ShapeError(f"expected a kernel of rank {len(eq.kernel)} ({eq.kernel}). Received: kernel shape {list(kernel)}")
        for letter, size in zip(eq.kernel, kernel, strict=True):
            if sizes.get(letter) not in (None, size):
                raise ShapeError(
                    f"kernel axis {letter!r} has size {size}, the input {sizes[letter]}. Received: kernel shape {list(kernel)}"
                )
            sizes[letter] = size
    # Keras's output_shape leaves out the batch axis, except in the left-elided form where the batch is an elided axis.
    declared = list(attrs["output_shape"])
    length = len(eq.out) - (eq.elided != "left")
    if len(declared) != length:
        raise ShapeError(f"expected output_shape of length {length} for {attrs['equation']!r}. Received: {declared}")
    if eq.elided != "left":
        declared.insert(0, None)
    for letter, want in zip(eq.out, declared, strict=True):
        if want is not None and sizes.get(letter) not in (None, want):
            raise ShapeError(f"output_shape {attrs['output_shape']} disagrees with the equation: axis {letter!r} has size {sizes[letter]}")
        if sizes.get(letter) is None:
            sizes[letter] = want
    out = tuple(sizes[c] for c in eq.out)
    shape = (*x.shape[:left], *out, *(x.shape[len(eq.x) :] if eq.elided == "right" else ()))
    return shape, sizes, n_elided


@register_layer("EinsumDense")
class EinsumDense:
    @staticmethod
    def infer(attrs: dict[str, Any], inputs: list[TensorType | None], weights: dict[str, tuple[int, ...]]) -> list[TensorType]:
        x = only(inputs)
        activations.require_float(x)
        shape, sizes, n_elided = _output_shape(attrs, x, weights.get("kernel"))
        eq = parse(attrs["equation"])
        if attrs["bias_axes"] is not None:
            expected = bias_shape(eq, attrs["bias_axes"], sizes, n_elided)
            bias = weights.get("bias")
            if bias is not None and (
                len(bias) != len(expected) or any(e is not None and e != b for e, b in zip(expected, bias, strict=True))
            ):
                raise ShapeError(f"expected bias of shape {list(expected)}. Received: bias shape {list(bias)}")
        return [TensorType(x.dtype, shape)]

    @staticmethod
    def run(attrs: dict[str, Any], inputs: list[np.ndarray | None], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        assert x is not None
        y = np.einsum(attrs["equation"], x, weights["kernel"].astype(x.dtype, copy=False), optimize=True)
        if attrs["bias_axes"] is not None:
            y = y + weights["bias"].astype(x.dtype, copy=False)
        return [activations.apply(attrs["activation"], y)]
