"""A custom Keras layer → one call of a composite type (spec/composites.md), from a definitions entry.

The definition joins the model's ``composites``; the call's attributes are the config values of the definition's
parameters and its weights the layer's stored weights bound to the definition's roles.
"""

from __future__ import annotations

import json
from typing import Any

from kif.keras.custom_defs import CustomEntry, Definitions, typed
from kif.keras.mapping import _TRAINING_SUFFIXES, IGNORED, Context, MappedLayer


def map_composite(ctx: Context, entries: list[CustomEntry]) -> list[MappedLayer]:
    config = ctx.config
    entry = next((e for e in entries if all(config.get(k) == v for k, v in e.when.items())), None)
    if entry is None:
        wanted = " or ".join(json.dumps(e.when, sort_keys=True) for e in entries)
        raise ctx.fail(f"no composite definition of this class applies to its config (they need {wanted})")
    definition = entry.definition
    _register(ctx, entry)
    params = definition.get("parameters", {})
    attrs: dict[str, Any] = {}
    for name, spec in params.items():
        if name in config:
            value = _plain(config[name])
            if not typed(value, spec["type"]):
                raise ctx.fail(f"config {name}={value!r} is not a {spec['type']}, as parameter {name!r} of {entry.type} requires")
            attrs[name] = value
        elif "default" not in spec:
            raise ctx.fail(f"config lacks {name!r}, a parameter of composite {entry.type} with no default")
    for key, value in config.items():
        if key in params or key in IGNORED or key in entry.ignore or key.endswith(_TRAINING_SUFFIXES):
            continue
        raise ctx.fail(
            f"config {key}={value!r} is not a parameter of composite {entry.type}; "
            "add it to the definition's parameters, or to the entry's 'ignore' if it has no effect at inference"
        )
    inputs, outputs = definition["inputs"], definition["outputs"]
    if len(ctx.node.inputs) != len(inputs):
        raise ctx.fail(f"called with {len(ctx.node.inputs)} inputs; composite {entry.type} takes {len(inputs)} ({', '.join(inputs)})")
    mapped_outputs = [ctx.output(i) for i in range(len(outputs))]
    weights = _bind(ctx, entry)
    return [MappedLayer(entry.type, attrs, list(ctx.node.inputs), mapped_outputs, weights, output_mask=None)]


def _register(ctx: Context, entry: CustomEntry) -> None:
    known = ctx.composites.get(entry.type)
    if known is not None and known != entry.definition:
        raise ctx.fail(f"composite {entry.type} is already defined differently in this model; give each definition its own type name")
    _add(ctx, entry.type, entry.definition, 0)


def _add(ctx: Context, type_name: str, definition: dict[str, Any], depth: int) -> None:
    from kif import catalog
    from kif.composites import MAX_DEPTH

    ctx.composites[type_name] = definition
    for inner in definition["layers"]:  # the composites its body calls come along
        if not catalog.is_custom(inner["type"]) or inner["type"] in ctx.composites or depth >= MAX_DEPTH:
            continue  # a missing or recursive one is reported by the validator (layer-type-unknown, composite-recursive)
        nested = (ctx.custom or Definitions()).definition(inner["type"])
        if nested is not None:
            _add(ctx, inner["type"], nested, depth + 1)


def _bind(ctx: Context, entry: CustomEntry) -> dict[str, Any]:
    roles = list(entry.definition.get("weights", []))
    stored = ctx.load_weights()
    names = stored.short_names()
    by_name = {n: ds for n, (_, ds) in zip(names, stored.items, strict=False)}
    wanted = [entry.weights.get(role, role) for role in roles]
    if set(wanted) <= set(by_name) and len(by_name) == len(roles):
        return {role: by_name[name] for role, name in zip(roles, wanted, strict=True)}
    if len(stored) != len(roles):
        raise ctx.fail(
            f"composite {entry.type} has weight roles {roles or '(none)'}; the layer stores {len(stored)} weights "
            f"({', '.join(names) or 'none'}). Map them with the entry's 'weights'"
        )
    return {role: ds for role, (_, ds) in zip(roles, stored.items, strict=True)}  # Keras's order


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


__all__ = ["map_composite"]
