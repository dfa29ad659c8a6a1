"""Helpers shared by the shape rules: checking ranks and counts with readable errors."""

from __future__ import annotations

from collections.abc import Sequence

from kif.layers.registry import ShapeError, TensorType


def only(inputs: Sequence[TensorType | None]) -> TensorType:
    if len(inputs) != 1 or inputs[0] is None:
        raise ShapeError(f"expected exactly one input. Received: {len(inputs)}")
    return inputs[0]


def require_rank(t: TensorType, low: int, high: int | None = None, what: str = "input") -> None:
    rank = len(t.shape)
    high = low if high is None else high
    if not low <= rank <= high:
        expected = str(low) if low == high else f"{low} to {high}"
        raise ShapeError(f"expected {what} of rank {expected}. Received: shape {list(t.shape)}")


def norm_axis(axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        raise ShapeError(f"axis {axis} is out of range for rank {rank}")
    return axis % rank
