"""Keras data augmentation layers → KIF Augmentation: the identity at inference (spec/layers/Augmentation.md).

Every class keeps its Keras config (less the bookkeeping keys) so that ``to_keras`` rebuilds it. tf.keras 2's
``RandomCrop`` center-crops and resizes at inference, unlike Keras 3's, so it is refused rather than mapped.
"""

from __future__ import annotations

from typing import Any

from kif import catalog
from kif.keras.mapping import Context, MappedLayer, mapper

CLASSES: tuple[str, ...] = tuple(catalog.get("Augmentation").attributes["keras_class"]["enum"])
_BOOKKEEPING = {"name", "trainable", "dtype", "dtype_policy", "batch_input_shape", "batch_shape", "build_config"}


@mapper(*CLASSES)
def map_augmentation(ctx: Context) -> list[MappedLayer]:
    if ctx.node.class_name == "RandomCrop" and ctx.generation == 2:
        raise ctx.fail(
            "tf.keras 2 RandomCrop center-crops and resizes its input at inference (Keras 3 returns it unchanged); "
            "KIF does not represent that resize yet"
        )
    config: dict[str, Any] = {k: v for k, v in ctx.config.items() if k not in _BOOKKEEPING}
    attrs = {"keras_class": ctx.node.class_name, "config": config}
    return [MappedLayer("Augmentation", attrs, list(ctx.node.inputs), list(ctx.node.outputs))]
