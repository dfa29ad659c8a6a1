"""Keras ⇄ KIF. Reading Keras files needs only h5py (``kif[h5]``); no Keras, no TensorFlow.

``convert(src, dst)`` converts a ``.keras`` / ``.h5`` / architecture JSON file.
"""

from __future__ import annotations

from kif.keras.convert import convert, keras_to_model
from kif.keras.source import ConversionError, open_source

__all__ = ["ConversionError", "convert", "keras_to_model", "open_source"]
