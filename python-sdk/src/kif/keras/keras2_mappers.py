"""tf.keras 2 classes that Keras 3 removed, found in old files: each maps onto the catalog type that computes the
same thing (spec/layers/<Type>.md says which Keras 2 class it covers)."""

from __future__ import annotations

from dataclasses import replace

from kif.keras import locally_connected_map  # noqa: F401  (registration: LocallyConnected1D/2D)
from kif.keras.mapping import Context, MappedLayer, generic_attributes, mapper


@mapper("ThresholdedReLU")
def _thresholded_relu(ctx: Context) -> list[MappedLayer]:
    # tf.keras 2: y = x * (x > theta), theta >= 0; exactly KIF ReLU(threshold=theta) with no slope or ceiling.
    config = dict(ctx.config)
    theta = config.pop("theta", 1.0)
    if not isinstance(theta, (int, float)) or isinstance(theta, bool) or not theta >= 0:
        raise ctx.fail(f"expected theta to be a number >= 0. Received: theta={theta!r}")
    config.update(threshold=float(theta), negative_slope=0.0, max_value=None)
    attrs = generic_attributes(replace(ctx, node=replace(ctx.node, config=config)), "ReLU")
    return [MappedLayer("ReLU", attrs, list(ctx.node.inputs), list(ctx.node.outputs))]
