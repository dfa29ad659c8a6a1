"""Augmentation: a training-time data augmentation layer, the identity at inference (spec/layers/Augmentation.md).

Keras's Random* image layers, AugMix, CutMix, Equalization, MixUp, RandAugment and Solarization transform images only when called
with ``training=True``; at inference they return their input. ``keras_class`` and ``config`` are kept so that a
converted model converts back; a runtime returns the input unchanged.
"""

from __future__ import annotations

from kif.layers.noop import _Identity
from kif.layers.registry import register_layer


@register_layer("Augmentation")
class Augmentation(_Identity):
    pass
