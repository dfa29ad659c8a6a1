"""Cases for merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot.

``python conformance/generators/layers_merge.py [OUT_ROOT]`` rewrites ``cases/layers_merge/``.
"""

from __future__ import annotations

from collections.abc import Iterator

import _suite as s
from _suite import Case, layer_case
from _suite import keras as K

L = K.layers


def cases() -> Iterator[Case]:
    for kind in ("Add", "Multiply", "Average", "Maximum", "Minimum"):
        layer = getattr(L, kind)
        yield layer_case(f"{kind.lower()}-two", f"{kind} of two inputs", lambda f=layer: f(), (3, 4), (3, 4))
        yield layer_case(f"{kind.lower()}-three", f"{kind} of three inputs", lambda f=layer: f(), (4,), (4,), (4,))
    yield layer_case("add-broadcast", "Add with broadcasting over a length-1 axis", lambda: L.Add(), (3, 4), (1, 4), level="extended")
    yield layer_case("subtract", "Subtract two inputs", lambda: L.Subtract(), (3, 4), (3, 4))
    for axis, shapes in [(-1, ((3, 2), (3, 4))), (1, ((2, 4), (3, 4))), (-1, ((5,), (2,), (3,)))]:
        yield layer_case(
            f"concatenate-axis{axis}-{len(shapes)}",
            f"Concatenate {len(shapes)} inputs on axis {axis}",
            lambda a=axis: L.Concatenate(axis=a),
            *shapes,
        )
    for axes, shapes, norm in [
        (1, ((4,), (4,)), False),
        (1, ((4,), (4,)), True),
        ((2, 2), ((3, 4), (5, 4)), False),
        ((1, 1), ((3, 4), (3, 5)), False),
        ((2, 1), ((3, 4), (4, 2)), False),
    ]:
        name = "-".join(map(str, axes if isinstance(axes, tuple) else (axes,)))
        yield layer_case(
            f"dot-axes{name}{'-normalize' if norm else ''}",
            f"Dot over axes {axes}, normalize={norm}",
            lambda a=axes, n=norm: L.Dot(axes=a, normalize=n),
            *shapes,
        )


if __name__ == "__main__":
    s.main("layers_merge", cases)
