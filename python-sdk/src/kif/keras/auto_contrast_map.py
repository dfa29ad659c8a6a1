"""Keras 3 ``AutoContrast`` → KIF AutoContrast (spec/layers/AutoContrast.md).

Keras 3.15 reduces over axes 1 and 2 whatever ``data_format`` says, so either value maps to the same KIF layer.
"""

from __future__ import annotations

import math
from numbers import Real

from kif.keras.mapping import Context, MappedLayer, generic_attributes, mapper


@mapper("AutoContrast")
def map_auto_contrast(ctx: Context) -> list[MappedLayer]:
    if ctx.config.get("data_format") not in (None, "channels_last", "channels_first"):
        raise ctx.fail(f"option data_format={ctx.config['data_format']!r} is not a Keras data format")
    attrs = generic_attributes(ctx, "AutoContrast", extra_ignored={"data_format"})
    bounds = attrs["value_range"]
    if not all(isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(v) for v in bounds) or bounds[0] == bounds[1]:
        raise ctx.fail(f"option value_range={bounds!r} cannot be represented in KIF AutoContrast: it needs two finite, unequal numbers")
    attrs["value_range"] = sorted(bounds)  # Keras sorts them too
    return [MappedLayer("AutoContrast", attrs, list(ctx.node.inputs), list(ctx.node.outputs))]
