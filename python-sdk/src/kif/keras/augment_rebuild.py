"""KIF Augmentation → the Keras augmentation layer it came from (``to_keras``).

The Keras 3 class is rebuilt from the kept config; a class Keras 3 lacks (tf.keras 2's RandomHeight, RandomWidth) or
a config it refuses becomes ``keras.layers.Identity``, which is what the layer computes at inference.
"""

from __future__ import annotations

import warnings
from typing import Any


def augmentation_layer(attrs: dict[str, Any], name: str | None, extra: dict[str, Any]) -> Any:
    import keras

    cls = getattr(keras.layers, attrs["keras_class"], None)
    if cls is not None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return keras.layers.deserialize(
                    {"class_name": attrs["keras_class"], "module": "keras.layers", "config": {**attrs["config"], "name": name, **extra}}
                )
        except (TypeError, ValueError, KeyError):
            pass  # a tf.keras 2 config Keras 3 does not take: the inference identity instead
    return keras.layers.Identity(name=name, **extra)
