"""Cases for the miscellaneous types of spec 0.2: Augmentation (the identity at inference), and others as they come.

``python conformance/generators/layers_misc.py [OUT_ROOT]`` rewrites ``cases/layers_misc/``.
"""

from __future__ import annotations

from collections.abc import Iterator

import _suite as s
from _suite import Case, layer_case
from _suite import keras as K

L = K.layers

AUGMENTATIONS = [
    ("randomflip", lambda: L.RandomFlip("horizontal_and_vertical", seed=3)),
    ("randomrotation", lambda: L.RandomRotation(0.4, fill_mode="constant")),
    ("randomzoom", lambda: L.RandomZoom(0.3, 0.2)),
    ("randomtranslation", lambda: L.RandomTranslation(0.3, 0.2)),
    ("randomcrop", lambda: L.RandomCrop(4, 5)),
    ("randomcontrast", lambda: L.RandomContrast(0.5)),
    ("randombrightness", lambda: L.RandomBrightness(0.4, value_range=(0, 1))),
    ("randomhue", lambda: L.RandomHue(0.5, value_range=(0, 1))),
    ("randomsaturation", lambda: L.RandomSaturation(0.6, value_range=(0, 1))),
    ("randomgrayscale", lambda: L.RandomGrayscale(1.0)),
    ("randomcolorjitter", lambda: L.RandomColorJitter(value_range=(0, 1), brightness_factor=0.2, contrast_factor=0.3)),
    ("randomcolordegeneration", lambda: L.RandomColorDegeneration(0.5)),
    ("randomsharpness", lambda: L.RandomSharpness(0.8, value_range=(0, 1))),
    ("randomshear", lambda: L.RandomShear(x_factor=(0.1, 0.4), y_factor=(0.0, 0.3))),
    ("randomperspective", lambda: L.RandomPerspective(factor=1.0, scale=0.8)),
    ("randomposterization", lambda: L.RandomPosterization(2, value_range=(0, 1))),
    ("randominvert", lambda: L.RandomInvert(1.0, value_range=(0, 1))),
    ("randomerasing", lambda: L.RandomErasing(factor=1.0, value_range=(0, 1))),
    ("randomgaussianblur", lambda: L.RandomGaussianBlur(factor=1.0, kernel_size=3, sigma=0.8, value_range=(0, 1))),
    ("randomelastictransform", lambda: L.RandomElasticTransform(factor=1.0, scale=0.5, value_range=(0, 1))),
    ("augmix", lambda: L.AugMix(value_range=(0, 1))),
    ("cutmix", lambda: L.CutMix(factor=0.5)),
    ("mixup", lambda: L.MixUp(alpha=0.3)),
    ("randaugment", lambda: L.RandAugment(value_range=(0, 1), num_ops=3)),
    ("solarization", lambda: L.Solarization(addition_factor=0.5, threshold_factor=0.5, value_range=(0, 1))),
]


def cases() -> Iterator[Case]:
    for cid, factory in AUGMENTATIONS:
        yield layer_case(f"augmentation-{cid}", f"{cid} is the identity at inference", factory, (6, 7, 3))


if __name__ == "__main__":
    s.main("layers_misc", cases)
