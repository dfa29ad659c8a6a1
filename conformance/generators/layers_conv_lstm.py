"""Cases for ConvLSTM1D, ConvLSTM2D and ConvLSTM3D.

``python conformance/generators/layers_conv_lstm.py [OUT_ROOT]`` rewrites ``cases/layers_conv_lstm/``.
"""

from __future__ import annotations

from collections.abc import Iterator

import _suite as s
from _suite import Case, layer_case
from _suite import keras as K

L = K.layers
STEP = {1: (6, 2), 2: (5, 4, 2), 3: (4, 3, 3, 2)}
VARIANTS = [
    ("valid", {}, "core"),
    ("same", {"padding": "same"}, "core"),
    ("strides", {"strides": 2}, "core"),
    ("same-strides", {"padding": "same", "strides": 2}, "extended"),
    ("dilation", {"dilation_rate": 2, "padding": "same"}, "extended"),
    ("sequences-state", {"return_sequences": True, "return_state": True}, "core"),
    ("backwards-sequences", {"go_backwards": True, "return_sequences": True}, "extended"),
    ("nobias-relu", {"use_bias": False, "activation": "relu", "recurrent_activation": "hard_sigmoid"}, "extended"),
]


def cases() -> Iterator[Case]:
    for rank, step in STEP.items():
        kind = f"ConvLSTM{rank}D"
        layer = getattr(L, kind)
        for name, cfg, level in VARIANTS:
            yield layer_case(f"convlstm{rank}d-{name}", f"{kind} {name}", lambda c=cfg, f=layer: f(2, 2, **c), (3, *step), level=level)
    yield layer_case(
        "convlstm2d-channels-first",
        "ConvLSTM2D channels_first",
        lambda: L.ConvLSTM2D(2, 2, data_format="channels_first", return_sequences=True),
        (3, 2, 5, 4),
        level="extended",
    )


if __name__ == "__main__":
    s.main("layers_conv_lstm", cases)
