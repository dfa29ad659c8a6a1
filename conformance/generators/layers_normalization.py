"""Cases for normalization layers: BatchNormalization, LayerNormalization, GroupNormalization,
RMSNormalization and UnitNormalization.

``python conformance/generators/layers_normalization.py [OUT_ROOT]`` rewrites ``cases/layers_normalization/``.
"""

from __future__ import annotations

from collections.abc import Iterator

import _suite as s
from _suite import Case, layer_case
from _suite import keras as K

L = K.layers


def cases() -> Iterator[Case]:
    for name, cfg, shape in [
        ("default", {}, (4,)),
        ("rank4", {}, (3, 3, 4)),
        ("axis1", {"axis": 1}, (3, 4)),
        ("no-center", {"center": False}, (4,)),
        ("no-scale", {"scale": False}, (4,)),
        ("epsilon", {"epsilon": 0.1}, (4,)),
    ]:
        yield layer_case(f"batchnormalization-{name}", f"BatchNormalization {name}", lambda c=cfg: L.BatchNormalization(**c), shape)
    for name, cfg, shape in [
        ("default", {}, (3, 4)),
        ("rank2", {}, (6,)),
        ("axes-last-two", {"axis": [-2, -1]}, (3, 4)),
        ("no-center", {"center": False}, (3, 4)),
        ("no-scale", {"scale": False}, (3, 4)),
        ("epsilon", {"epsilon": 0.1}, (3, 4)),
    ]:
        yield layer_case(f"layernormalization-{name}", f"LayerNormalization {name}", lambda c=cfg: L.LayerNormalization(**c), shape)
    # Keras 3 stores only gamma for rms_scaling (a deprecated option): built from that weight with center=False.
    yield layer_case(
        "layernormalization-rms-scaling",
        "LayerNormalization with rms_scaling",
        lambda: L.LayerNormalization(rms_scaling=True),
        (3, 4),
        level="extended",
        bundle=s.one_layer_bundle("LayerNormalization", ("gamma",), rms_scaling=True, center=False),
    )
    yield layer_case(
        "layernormalization-float16",
        "LayerNormalization in float16",
        lambda: L.LayerNormalization(dtype="float16"),
        (3, 4),
        dtype="float16",
        level="extended",
    )
    for name, cfg, shape in [
        ("groups2", {"groups": 2}, (3, 4)),
        ("groups1", {"groups": 1}, (3, 4)),
        ("groups-per-channel", {"groups": 4}, (3, 3, 4)),
        ("rank4", {"groups": 2}, (3, 3, 4)),
        ("axis1", {"groups": 2, "axis": 1}, (4, 3)),
        ("no-center-no-scale", {"groups": 2, "center": False, "scale": False}, (3, 4)),
    ]:
        yield layer_case(f"groupnormalization-{name}", f"GroupNormalization {name}", lambda c=cfg: L.GroupNormalization(**c), shape)
    for name, cfg, shape in [("default", {}, (3, 4)), ("epsilon", {"epsilon": 0.01}, (5,))]:
        yield layer_case(f"rmsnormalization-{name}", f"RMSNormalization {name}", lambda c=cfg: L.RMSNormalization(**c), shape)
    for name, cfg, shape in [("default", {}, (3, 4)), ("axis1", {"axis": 1}, (3, 4)), ("axes", {"axis": [1, 2]}, (3, 4))]:
        yield layer_case(f"unitnormalization-{name}", f"UnitNormalization {name}", lambda c=cfg: L.UnitNormalization(**c), shape)


if __name__ == "__main__":
    s.main("layers_normalization", cases)
