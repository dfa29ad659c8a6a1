"""Cases for reshaping layers: Flatten, Reshape, Permute, RepeatVector, cropping, zero padding, upsampling.

``python conformance/generators/layers_reshaping.py [OUT_ROOT]`` rewrites ``cases/layers_reshaping/``.
"""

from __future__ import annotations

from collections.abc import Iterator

import _suite as s
from _suite import Case, layer_case
from _suite import keras as K

L = K.layers
SHAPES = {1: (6, 2), 2: (5, 4, 2), 3: (4, 4, 3, 2)}
FIRST = {1: (2, 6), 2: (2, 5, 4), 3: (2, 4, 4, 3)}


def cases() -> Iterator[Case]:
    yield layer_case("flatten", "Flatten a rank-4 input", lambda: L.Flatten(), (3, 2, 2))
    yield layer_case("flatten-channels-first", "Flatten with channels_first", lambda: L.Flatten(data_format="channels_first"), (3, 2, 2))
    yield layer_case("flatten-rank2", "Flatten a rank-2 input", lambda: L.Flatten(), (5,))
    for name, target, shape in [("2d-to-3d", (3, 4), (12,)), ("minus-one", (-1, 2), (3, 4)), ("to-rank4", (2, 3, 2), (12,))]:
        yield layer_case(f"reshape-{name}", f"Reshape {shape} to {target}", lambda t=target: L.Reshape(t), shape)
    for dims, shape in [((2, 1), (3, 4)), ((3, 1, 2), (2, 3, 4)), ((1, 3, 2), (2, 3, 4))]:
        yield layer_case("permute-" + "".join(map(str, dims)), f"Permute {dims}", lambda d=dims: L.Permute(d), shape)
    yield layer_case("repeatvector", "RepeatVector 3 times", lambda: L.RepeatVector(3), (4,))
    yield layer_case("cropping1d", "Cropping1D (1, 2)", lambda: L.Cropping1D((1, 2)), SHAPES[1])
    yield layer_case("cropping1d-default", "Cropping1D defaults", lambda: L.Cropping1D(), SHAPES[1])
    yield layer_case("cropping2d", "Cropping2D ((1, 0), (1, 2))", lambda: L.Cropping2D(((1, 0), (1, 2))), SHAPES[2])
    yield layer_case("cropping2d-symmetric", "Cropping2D by 1 on every side", lambda: L.Cropping2D(1), SHAPES[2])
    yield layer_case(
        "cropping2d-channels-first",
        "Cropping2D channels_first",
        lambda: L.Cropping2D(((1, 1), (0, 1)), data_format="channels_first"),
        FIRST[2],
    )
    yield layer_case("cropping3d", "Cropping3D ((1, 0), (0, 1), (1, 1))", lambda: L.Cropping3D(((1, 0), (0, 1), (1, 1))), SHAPES[3])
    yield layer_case(
        "cropping3d-channels-first", "Cropping3D channels_first", lambda: L.Cropping3D(1, data_format="channels_first"), FIRST[3]
    )
    yield layer_case("zeropadding1d", "ZeroPadding1D (1, 2)", lambda: L.ZeroPadding1D((1, 2)), SHAPES[1])
    yield layer_case("zeropadding1d-default", "ZeroPadding1D defaults", lambda: L.ZeroPadding1D(), SHAPES[1])
    yield layer_case("zeropadding2d", "ZeroPadding2D ((1, 0), (2, 1))", lambda: L.ZeroPadding2D(((1, 0), (2, 1))), SHAPES[2])
    yield layer_case(
        "zeropadding2d-channels-first", "ZeroPadding2D channels_first", lambda: L.ZeroPadding2D(1, data_format="channels_first"), FIRST[2]
    )
    yield layer_case(
        "zeropadding3d", "ZeroPadding3D ((1, 0), (0, 1), (1, 1))", lambda: L.ZeroPadding3D(((1, 0), (0, 1), (1, 1))), SHAPES[3]
    )
    yield layer_case(
        "zeropadding3d-channels-first", "ZeroPadding3D channels_first", lambda: L.ZeroPadding3D(1, data_format="channels_first"), FIRST[3]
    )
    yield layer_case("upsampling1d", "UpSampling1D by 2", lambda: L.UpSampling1D(), SHAPES[1])
    yield layer_case("upsampling1d-size3", "UpSampling1D by 3", lambda: L.UpSampling1D(3), SHAPES[1])
    yield layer_case("upsampling2d-nearest", "UpSampling2D nearest by (2, 3)", lambda: L.UpSampling2D((2, 3)), SHAPES[2])
    yield layer_case("upsampling2d-bilinear", "UpSampling2D bilinear by 2", lambda: L.UpSampling2D(2, interpolation="bilinear"), SHAPES[2])
    yield layer_case(
        "upsampling2d-channels-first", "UpSampling2D channels_first", lambda: L.UpSampling2D(2, data_format="channels_first"), FIRST[2]
    )
    yield layer_case("upsampling3d", "UpSampling3D by (2, 1, 2)", lambda: L.UpSampling3D((2, 1, 2)), SHAPES[3])
    yield layer_case(
        "upsampling3d-channels-first", "UpSampling3D channels_first", lambda: L.UpSampling3D(2, data_format="channels_first"), FIRST[3]
    )


if __name__ == "__main__":
    s.main("layers_reshaping", cases)
