"""Cases for convolutions: Conv1D/2D/3D, their transposes, depthwise and separable convolutions.

``python conformance/generators/layers_conv.py [OUT_ROOT]`` rewrites ``cases/layers_conv/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import _suite as s
from _suite import Case, layer_case
from _suite import keras as K

L = K.layers
SHAPES = {1: (9, 3), 2: (7, 6, 3), 3: (5, 5, 5, 2)}
FIRST = {1: (3, 9), 2: (3, 7, 6), 3: (2, 5, 5, 5)}


def variants(rank: int) -> list[tuple[str, dict[str, Any]]]:
    k = [3] * rank
    out = [
        ("valid", {"kernel_size": k}),
        ("same", {"kernel_size": k, "padding": "same"}),
        ("stride2-valid", {"kernel_size": k, "strides": 2}),
        ("stride2-same", {"kernel_size": k, "strides": 2, "padding": "same"}),
        ("kernel2-same", {"kernel_size": [2] * rank, "padding": "same"}),
        ("dilation2", {"kernel_size": k, "dilation_rate": 2}),
        ("dilation2-same", {"kernel_size": k, "dilation_rate": 2, "padding": "same"}),
        ("relu-nobias", {"kernel_size": k, "activation": "relu", "use_bias": False}),
        ("channels-first", {"kernel_size": k, "data_format": "channels_first"}),
    ]
    if rank < 3:
        out.append(("channels-first-same-stride2", {"kernel_size": k, "strides": 2, "padding": "same", "data_format": "channels_first"}))
    return out


def shape(rank: int, cfg: dict[str, Any]) -> tuple[int, ...]:
    return FIRST[rank] if cfg.get("data_format") == "channels_first" else SHAPES[rank]


def cases() -> Iterator[Case]:
    for rank in (1, 2, 3):
        conv, tconv = getattr(L, f"Conv{rank}D"), getattr(L, f"Conv{rank}DTranspose")
        for name, cfg in variants(rank):
            yield layer_case(f"conv{rank}d-{name}", f"Conv{rank}D {name}", lambda c=cfg, f=conv: f(4, **c), shape(rank, cfg))
        yield layer_case(
            f"conv{rank}d-groups",
            f"Conv{rank}D with 2 groups",
            lambda f=conv, r=rank: f(4, [3] * r, groups=2, padding="same"),
            (*SHAPES[rank][:-1], 4),
        )
        for name, cfg in variants(rank):
            if "dilation" in name and "same" in name:
                continue
            yield layer_case(
                f"conv{rank}dtranspose-{name}", f"Conv{rank}DTranspose {name}", lambda c=cfg, f=tconv: f(3, **c), shape(rank, cfg)
            )
        yield layer_case(
            f"conv{rank}dtranspose-output-padding",
            f"Conv{rank}DTranspose with output_padding 1",
            lambda f=tconv, r=rank: f(3, [3] * r, strides=2, output_padding=1),
            SHAPES[rank],
        )
    for rank in (1, 2):
        dw, sep = getattr(L, f"DepthwiseConv{rank}D"), getattr(L, f"SeparableConv{rank}D")
        for name, cfg in variants(rank):
            yield layer_case(f"depthwiseconv{rank}d-{name}", f"DepthwiseConv{rank}D {name}", lambda c=cfg, f=dw: f(**c), shape(rank, cfg))
            yield layer_case(
                f"separableconv{rank}d-{name}", f"SeparableConv{rank}D {name}", lambda c=cfg, f=sep: f(4, **c), shape(rank, cfg)
            )
        yield layer_case(
            f"depthwiseconv{rank}d-multiplier2",
            f"DepthwiseConv{rank}D with depth_multiplier 2",
            lambda f=dw, r=rank: f([3] * r, depth_multiplier=2),
            SHAPES[rank],
        )
        yield layer_case(
            f"separableconv{rank}d-multiplier2",
            f"SeparableConv{rank}D with depth_multiplier 2",
            lambda f=sep, r=rank: f(5, [3] * r, depth_multiplier=2, padding="same"),
            SHAPES[rank],
        )
    yield layer_case(
        "conv2d-float16",
        "Conv2D in float16",
        lambda: L.Conv2D(4, 3, padding="same", dtype="float16"),
        SHAPES[2],
        dtype="float16",
        level="extended",
    )


if __name__ == "__main__":
    s.main("layers_conv", cases)
