"""NumPy basic indexing for op.strided_slice: the ``index`` attribute, its shape rule and per-axis plan.

An index item is an integer (picks one position, drops the axis), ``[start, stop, step]`` (a slice; each may be
null, step != 0), ``"newaxis"`` (inserts a size-1 axis) or ``"..."`` (as many full slices as the other items leave).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kif.layers.registry import ShapeError

Item = Any  # int | list[int | None] | "newaxis" | "..."


def expand(index: Sequence[Item], rank: int) -> list[Item]:
    """The index with its ellipsis (or the missing trailing axes) written out as full slices."""
    ellipses = sum(1 for i in index if i == "...")
    if ellipses > 1:
        raise ShapeError(f"expected at most one '...' in index. Received: {list(index)}")
    used = sum(1 for i in index if i not in ("...", "newaxis"))
    if used > rank:
        raise ShapeError(f"expected at most {rank} indexed axes for rank {rank}. Received: index={list(index)}")
    full: list[Item] = [[None, None, None]] * (rank - used)
    if not ellipses:
        return [*index, *full]
    at = list(index).index("...")
    return [*index[:at], *full, *index[at + 1 :]]


def check_item(item: Item) -> None:
    if item in ("...", "newaxis") or (isinstance(item, int) and not isinstance(item, bool)):
        return
    if isinstance(item, list) and len(item) == 3 and all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in item):
        if item[2] == 0:
            raise ShapeError("expected a slice step other than 0. Received: step=0")
        return
    raise ShapeError(f"expected an index item: an integer, [start, stop, step], 'newaxis' or '...'. Received: {item!r}")


def plan(index: Sequence[Item], shape: Sequence[int | None]) -> tuple[list[tuple[str, Any]], tuple[int | None, ...]]:
    """Per-item steps ``("pick", i)``, ``("slice", (start, stop, step))`` or ``("new", None)``, and the output shape.

    Positions are resolved against known sizes (Python's ``slice.indices`` rules); on an unknown size a slice keeps
    the size unknown and a pick is checked at run time.
    """
    for item in index:
        check_item(item)
    steps: list[tuple[str, Any]] = []
    out: list[int | None] = []
    axis = 0
    for item in expand(index, len(shape)):
        if item == "newaxis":
            steps.append(("new", None))
            out.append(1)
            continue
        size = shape[axis]
        axis += 1
        if isinstance(item, int):
            if size is not None and not -size <= item < size:
                raise ShapeError(f"expected index {item} within an axis of size {size}")
            steps.append(("pick", item))
            continue
        steps.append(("slice", tuple(item)))
        out.append(None if size is None else len(range(*slice(*item).indices(size))))
    return steps, tuple(out)


__all__ = ["check_item", "expand", "plan"]
