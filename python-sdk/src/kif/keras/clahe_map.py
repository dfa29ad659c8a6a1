"""Keras 3 ``ContrastLimitedAdaptiveHistogramEqualization`` → the KIF type of that name
(spec/layers/ContrastLimitedAdaptiveHistogramEqualization.md)."""

from __future__ import annotations

import math
from numbers import Real

from kif.keras.mapping import Context, MappedLayer, generic_attributes, mapper

TYPE = "ContrastLimitedAdaptiveHistogramEqualization"


def _number(v: object) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(v)


@mapper(TYPE)
def map_clahe(ctx: Context) -> list[MappedLayer]:
    attrs = generic_attributes(ctx, TYPE)
    bounds = attrs["value_range"]
    if not all(_number(v) for v in bounds) or bounds[0] == bounds[1]:
        raise ctx.fail(f"option value_range={bounds!r} cannot be represented in KIF {TYPE}: it needs two finite, unequal numbers")
    if not _number(attrs["clip_limit"]):
        raise ctx.fail(f"option clip_limit={attrs['clip_limit']!r} cannot be represented in KIF {TYPE}: it needs a finite number")
    return [MappedLayer(TYPE, attrs, list(ctx.node.inputs), list(ctx.node.outputs))]
