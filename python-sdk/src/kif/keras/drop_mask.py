"""``kif>DropMask``: the Keras layer to_keras puts where Keras would pass a mask that the KIF layer does not take.

KIF's masks are explicit inputs; Keras attaches masks to tensors and some layers read them from the
tensor itself (MultiHeadAttention reads its query's). DropMask passes its input on as a new tensor with
no mask. Being a layer (not a ``keras.ops.copy`` node), it is recognised by ``kif.keras.export``, which
maps it to nothing: the KIF graph comes back without an extra layer. Loading a saved ``.keras`` file
that uses it needs ``kif.keras.to_keras.register_keras_objects()`` first, as for the registered activations.
"""

from __future__ import annotations

import functools
from typing import Any

REGISTERED_NAME = "kif>DropMask"


@functools.cache
def drop_mask_class() -> type:
    """The registered Keras layer class (created on first use: importing this module does not import Keras)."""
    import keras

    def call(self: Any, inputs: Any) -> Any:
        return keras.ops.copy(inputs)  # a new tensor: the input's attached mask stays with the input

    def compute_mask(self: Any, inputs: Any, mask: Any = None) -> None:
        return None

    def init(self: Any, **kwargs: Any) -> None:
        keras.layers.Layer.__init__(self, **kwargs)
        self.supports_masking = True  # accepts a masked input (and drops the mask)

    body = {"__init__": init, "call": call, "compute_mask": compute_mask, "__module__": __name__, "__doc__": __doc__}
    cls = type("DropMask", (keras.layers.Layer,), body)
    return keras.saving.register_keras_serializable(package="kif", name="DropMask")(cls)


__all__ = ["REGISTERED_NAME", "drop_mask_class"]
