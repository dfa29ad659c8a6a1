"""A ``Lambda`` layer → the composite its user says it computes (``--custom``), or a refusal naming how.

A Lambda's config holds Python bytecode (marshal) or source, which KIF never decodes, stores or runs. The user who
knows what ``lambda_1`` computes gives it as a composite definition keyed ``"Lambda"`` with ``"when": {"name":
"lambda_1"}``: one entry per layer, so one definition can never silently stand for another Lambda. The code keys of
the config are then accounted for by the definition itself; any other key must still be a parameter or ignored.
"""

from __future__ import annotations

from dataclasses import replace

from kif.keras.mapping import Context, MappedLayer

# Config keys that carry the function (Keras 2: function/function_type/module, Keras 3: function as a
# {"class_name": "__lambda__", ...} object) and its shape function: the definition replaces all of them.
CODE_KEYS = frozenset(
    {"function", "function_type", "module", "output_shape", "output_shape_type", "output_shape_module", "mask", "arguments"}
)

_HOW = (
    'give what it computes as a composite definition in --custom DEFS.json, keyed "Lambda" with '
    '"when": {{"name": "{name}"}} (docs: Custom layers, "A Lambda layer")'
)


def map_lambda(ctx: Context) -> list[MappedLayer]:
    from kif.keras.composite_mapper import map_composite
    from kif.keras.custom_defs import Definitions

    name = ctx.node.layer_name
    entries = (ctx.custom or Definitions()).classes.get("Lambda", [])
    unnamed = [e for e in entries if "name" not in e.when]
    if unnamed:
        raise ctx.fail('a "Lambda" entry of --custom must say which layer it is for, with "when": {"name": ...}; ' + _HOW.format(name=name))
    mine = [replace(e, ignore=e.ignore | CODE_KEYS) for e in entries if e.when.get("name") == name]
    if not mine:
        raise ctx.fail("a Lambda layer holds Python code, which KIF never stores or runs; " + _HOW.format(name=name))
    return map_composite(ctx, mine)


__all__ = ["CODE_KEYS", "map_lambda"]
