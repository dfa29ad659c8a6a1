"""CategoryEncoding, Discretization and IntegerLookup: Keras options the generic rule would ignore but KIF cannot
express (``sparse=True``, a non-float32 dtype policy), and Keras's old spellings (spec/layers/CategoryEncoding.md)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from kif.keras.mapping import Context, MappedLayer, generic_attributes, mapper


def _policy(value: Any) -> str:
    if isinstance(value, dict):
        config = value.get("config")
        return str(config.get("name", "float32")) if isinstance(config, dict) else "float32"
    return "float32" if value is None else str(value)


def check_common(ctx: Context) -> dict[str, Any]:
    """The config less the options every encoding layer refuses; ``binary`` read as ``multi_hot``."""
    config = dict(ctx.config)
    if config.get("sparse"):
        raise ctx.fail("option sparse=True (a sparse output tensor) cannot be represented in KIF; save with sparse=False")
    if config.get("ragged"):
        raise ctx.fail("option ragged=True (a ragged output tensor) cannot be represented in KIF")
    if config.get("output_mode") == "binary":
        config["output_mode"] = "multi_hot"
    return config


def with_config(ctx: Context, config: dict[str, Any]) -> Context:
    return replace(ctx, node=replace(ctx.node, config=config))


@mapper("CategoryEncoding")
def _category_encoding(ctx: Context) -> list[MappedLayer]:
    config = check_common(ctx)
    policy = _policy(config.get("dtype"))
    if policy != "float32":
        raise ctx.fail(f"option dtype={policy!r}: KIF CategoryEncoding outputs float32 only")
    attrs = generic_attributes(with_config(ctx, config), "CategoryEncoding")
    return [MappedLayer("CategoryEncoding", attrs, list(ctx.node.inputs), list(ctx.node.outputs))]
