"""Keras ⇄ KIF. Reading Keras files needs only h5py (a core dependency); no Keras, no TensorFlow.

``convert(src, dst)`` converts a ``.keras`` / ``.h5`` / architecture JSON file.
``export(model, dst)`` writes an in-memory Keras 3 model, and ``to_keras(bundle)`` builds a
Keras 3 model from a KIF bundle. Both need Keras 3 (``kif-format[keras]``), which they import only
when called: importing this package never imports Keras.
"""

from __future__ import annotations

from kif.keras.convert import convert, keras_to_model
from kif.keras.live import export
from kif.keras.source import ConversionError, open_source

# Bound after the submodule import so that the name is the function, not the module kif.keras.to_keras.
from kif.keras.to_keras import to_keras

__all__ = ["ConversionError", "convert", "export", "keras_to_model", "open_source", "to_keras"]
