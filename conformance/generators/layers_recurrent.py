"""Cases for recurrent layers and wrappers: SimpleRNN, LSTM, GRU, Bidirectional, TimeDistributed.

``python conformance/generators/layers_recurrent.py [OUT_ROOT]`` rewrites ``cases/layers_recurrent/``.
"""

from __future__ import annotations

from collections.abc import Iterator

import _suite as s
from _suite import Case, layer_case
from _suite import keras as K

L = K.layers
SEQ = (5, 3)


def cases() -> Iterator[Case]:
    for kind in ("SimpleRNN", "LSTM", "GRU"):
        layer = getattr(L, kind)
        low = kind.lower()
        variants = [
            ("last", {}),
            ("sequences", {"return_sequences": True}),
            ("state", {"return_state": True}),
            ("sequences-state", {"return_sequences": True, "return_state": True}),
            ("backwards", {"go_backwards": True}),
            ("backwards-sequences", {"go_backwards": True, "return_sequences": True}),
            ("nobias", {"use_bias": False}),
            ("relu", {"activation": "relu"}),
        ]
        if kind != "SimpleRNN":
            variants.append(("recurrent-hard-sigmoid", {"recurrent_activation": "hard_sigmoid"}))
        if kind == "GRU":
            variants.append(("reset-before", {"reset_after": False}))
            variants.append(("reset-before-sequences", {"reset_after": False, "return_sequences": True}))
        for name, cfg in variants:
            yield layer_case(f"{low}-{name}", f"{kind} {name}", lambda c=cfg, f=layer: f(4, **c), SEQ)
    for inner in ("LSTM", "GRU", "SimpleRNN"):
        layer = getattr(L, inner)
        for mode in ("concat", "sum", "mul", "ave", None):
            yield layer_case(
                f"bidirectional-{inner.lower()}-{mode or 'none'}",
                f"Bidirectional {inner}, merge_mode={mode}",
                lambda f=layer, m=mode: L.Bidirectional(f(3), merge_mode=m),
                SEQ,
            )
        yield layer_case(
            f"bidirectional-{inner.lower()}-sequences",
            f"Bidirectional {inner} returning sequences",
            lambda f=layer: L.Bidirectional(f(3, return_sequences=True)),
            SEQ,
        )
    yield layer_case(
        "bidirectional-lstm-state",
        "Bidirectional LSTM returning states",
        lambda: L.Bidirectional(L.LSTM(3, return_state=True)),
        SEQ,
        level="extended",
    )
    yield layer_case("timedistributed-dense", "TimeDistributed Dense", lambda: L.TimeDistributed(L.Dense(3, activation="relu")), SEQ)
    yield layer_case("timedistributed-conv2d", "TimeDistributed Conv2D", lambda: L.TimeDistributed(L.Conv2D(2, 2)), (3, 4, 4, 2))
    yield layer_case("timedistributed-flatten", "TimeDistributed Flatten", lambda: L.TimeDistributed(L.Flatten()), (3, 2, 2))


if __name__ == "__main__":
    s.main("layers_recurrent", cases)
