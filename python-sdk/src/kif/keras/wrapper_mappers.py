"""Keras wrappers that are their wrapped layer at inference.

SpectralNormalization (Keras 3, and tfa's ``Addons>SpectralNormalization``): ``call(training=False)`` is ``self.layer(inputs)``. The
power iteration and the division by sigma run only in training, which writes the normalized kernel back into the
wrapped layer's variable, so the stored kernel is what inference uses. The wrapper's own variables (``vector_u``, tfa's
``sn_u``, and in saving_lib files a second reference to the kernel) are dropped.
"""

from __future__ import annotations

from dataclasses import replace

from kif.keras import reversible_embedding_map  # noqa: F401  (registration: ReversibleEmbedding)
from kif.keras.mapping import Context, MappedLayer, mapper
from kif.keras.weights import LayerWeights

_OWN = {"vector_u", "sn_u"}


@mapper("SpectralNormalization", "Addons>SpectralNormalization")  # tfa registers it under package "Addons"
def _spectral_normalization(ctx: Context) -> list[MappedLayer]:
    from kif.keras.layer_mappers import _map_inner

    inner = ctx.config.get("layer")
    if not isinstance(inner, dict) or not isinstance(inner.get("class_name"), str) or not isinstance(inner.get("config"), dict):
        raise ctx.fail("expected the wrapped layer as {class_name, config} in the config's 'layer'")
    stored = ctx.load_weights()
    if any(key.startswith("layer/") for key, _ in stored.items):  # saving_lib: the wrapped layer's own group
        kept = [(key, ds) for key, ds in stored.items if key.startswith("layer/")]
    else:
        kept = [(key, ds) for (key, ds), short in zip(stored.items, stored.short_names(), strict=True) if short not in _OWN]
    weights = LayerWeights(stored.layer, kept)
    names = {"class_name": inner["class_name"], "module": inner.get("module"), "registered_name": inner.get("registered_name")}
    node = replace(ctx.node, config=inner["config"], **names)
    return [_map_inner(replace(ctx, node=node, load_weights=lambda: weights))]
