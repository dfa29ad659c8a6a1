"""The shape rule of op.einsum: NumPy's subscripts (letters, one '...' per operand, explicit or implicit output)."""

from __future__ import annotations

from collections.abc import Sequence

from kif.graph import Shape
from kif.layers.registry import ShapeError
from kif.ops._types import broadcast


def _term(term: str, shape: Shape) -> tuple[list[str], Shape]:
    """A term's letters and the sizes its '...' stands for."""
    letters_only = term.replace("...", "")
    if term.count("...") > 1 or (letters_only and not (letters_only.isascii() and letters_only.isalpha())):
        raise ShapeError(f"expected letters and at most one '...' in an einsum term. Received: {term!r}")
    head, dots, tail = term.partition("...")
    letters = list(head + tail)
    extra = len(shape) - len(letters)
    if extra < 0 or (extra and not dots):
        raise ShapeError(f"expected einsum term {term!r} to match rank {len(shape)}")
    ellipsis = tuple(shape[len(head) : len(head) + extra])
    named = [*shape[: len(head)], *shape[len(head) + extra :]]
    return letters, (ellipsis, tuple(named))  # type: ignore[return-value]


def einsum_shape(equation: str, shapes: Sequence[Shape]) -> Shape:
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ShapeError(f"expected {len(terms)} inputs for einsum {equation!r}. Received: {len(shapes)}")
    sizes: dict[str, int | None] = {}
    counts: dict[str, int] = {}
    ellipses = []
    for term, shape in zip(terms, shapes, strict=True):
        letters, (ellipsis, named) = _term(term, shape)  # type: ignore[misc]
        ellipses.append(ellipsis)
        for letter, size in zip(letters, named, strict=True):
            counts[letter] = counts.get(letter, 0) + 1
            known = sizes.get(letter)
            if known is not None and size is not None and known != size and 1 not in (known, size):
                raise ShapeError(f"expected one size for subscript {letter!r} in {equation!r}. Received: {known} and {size}")
            sizes[letter] = size if known in (None, 1) else known
    dots = broadcast(ellipses) if any(ellipses) else ()
    if not arrow:
        rhs = ("..." if any("..." in t for t in terms) else "") + "".join(sorted(c for c, n in counts.items() if n == 1))
    head, has_dots, tail = rhs.partition("...")
    out = list(head + tail)
    if len(set(out)) != len(out) or any(c not in sizes for c in out) or ("..." in tail):
        raise ShapeError(f"expected output subscripts that appear in the inputs, once each. Received: {equation!r}")
    return (*[sizes[c] for c in head], *(dots if has_dots else ()), *[sizes[c] for c in tail])
