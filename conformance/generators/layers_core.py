"""Cases for core layers: Dense, EinsumDense, activations, dropout-style no-ops, Embedding, preprocessing.

``python conformance/generators/layers_core.py [OUT_ROOT]`` rewrites ``cases/layers_core/``.
"""

from __future__ import annotations

from collections.abc import Iterator

import _suite as s
import numpy as np
from _suite import Case, layer_case
from _suite import keras as K

L = K.layers
ACTIVATIONS = [
    "linear", "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "sigmoid", "hard_sigmoid",
    "hard_silu", "silu", "tanh", "softmax", "log_softmax", "softplus", "softsign", "exponential", "mish",
]  # fmt: skip
ACTIVATIONS_0_2 = [
    "celu", "glu", "hard_shrink", "hard_tanh", "log_sigmoid", "soft_shrink", "sparse_plus", "sparse_sigmoid", "sparsemax",
    "squareplus", "tanh_shrink",
]  # fmt: skip


def _simplex_projection(z: np.ndarray) -> np.ndarray:
    """Sparsemax as the definition states it, by bisection on τ in float64 (independent of the sorted algorithm)."""
    z = z.astype(np.float64)
    lo, hi = z.min(axis=-1, keepdims=True) - 1.0, z.max(axis=-1, keepdims=True)
    for _ in range(200):
        tau = (lo + hi) / 2
        above = np.maximum(z - tau, 0).sum(axis=-1, keepdims=True) > 1
        lo, hi = np.where(above, tau, lo), np.where(above, hi, tau)
    return np.maximum(z - (lo + hi) / 2, 0).astype(np.float32)


def _activations_0_2() -> Iterator[Case]:
    """The activations of spec 0.2.0; sparsemax's oracle is the definition (Keras <= 3.15 is wrong there, keras#23425)."""
    sections = ["spec/layers/activations.md"]
    sparsemax = {"formula": lambda m, xs: [_simplex_projection(xs[0])]}
    for act in ACTIVATIONS_0_2:
        yield layer_case(
            f"activation-{act.replace('_', '-')}", f"Activation {act}", lambda a=act: L.Activation(a), (3, 4), sections=sections,
            **(sparsemax if act == "sparsemax" else {}),
        )  # fmt: skip
    kinks = np.array([[-2.0, -1.0, -0.75, -0.5], [-0.25, 0.0, 0.25, 0.5], [0.75, 1.0, 2.0, -1e-3]], dtype="float32")
    for act in ("hard_shrink", "soft_shrink", "sparse_plus", "sparse_sigmoid", "hard_tanh"):
        yield layer_case(
            f"activation-{act.replace('_', '-')}-kinks", f"Activation {act} at its kinks (|x| = 0.5 is not shrunk past 0)",
            lambda a=act: L.Activation(a), (3, 4), inputs=[np.stack([kinks, -kinks])], sections=sections,
        )  # fmt: skip
    ties = np.array([[[0.5, 0.5, 0.5, -1.0], [1.0, 1.0, -3.0, -3.0], [0.0, 0.0, 0.0, 0.0]]] * 2, dtype="float32")
    yield layer_case(
        "activation-sparsemax-ties", "Activation sparsemax with tied values in and out of the support",
        lambda: L.Activation("sparsemax"), (3, 4), inputs=[ties], sections=sections, **sparsemax,
    )  # fmt: skip
    yield layer_case(
        "dense-6-glu", "Dense, 6 units, glu: the output has 3", lambda: L.Dense(6, activation="glu"), (5,), sections=sections
    )
    yield layer_case(
        "conv1d-glu", "Conv1D, 4 filters, glu halves the channel axis", lambda: L.Conv1D(4, 3, activation="glu"), (5, 2),
        sections=sections,
    )  # fmt: skip


def cases() -> Iterator[Case]:
    for units, act, bias in [(3, "linear", True), (4, "relu", True), (5, "tanh", False), (2, "softmax", True), (3, "sigmoid", False)]:
        yield layer_case(
            f"dense-{units}-{act}-{'bias' if bias else 'nobias'}",
            f"Dense, {units} units, {act}, use_bias={bias}",
            lambda u=units, a=act, b=bias: L.Dense(u, activation=a, use_bias=b),
            (6,),
        )
    yield layer_case("dense-rank3", "Dense applied to the last axis of a rank-3 input", lambda: L.Dense(4), (3, 5))
    yield layer_case("dense-rank4", "Dense applied to the last axis of a rank-4 input", lambda: L.Dense(2, activation="relu"), (2, 3, 4))
    yield layer_case("dense-float16", "Dense in float16", lambda: L.Dense(3, dtype="float16"), (6,), dtype="float16", level="extended")
    for eq, shp, bias, inp in [
        ("ab,bc->ac", [4], "c", (5,)),
        ("abc,cd->abd", [3, 4], "d", (3, 5)),
        ("abc,cde->abde", [3, 2, 4], "de", (3, 5)),
        ("abc,bcd->ad", [4], None, (3, 5)),
        ("abcd,cde->abe", [2, 6], "e", (2, 3, 4)),
    ]:
        cid = "einsumdense-" + eq.replace(",", "-").replace("->", "-to-") + ("-bias" if bias else "")
        yield layer_case(
            cid, f"EinsumDense {eq}, bias_axes={bias}", lambda e=eq, o=shp, b=bias: L.EinsumDense(e, output_shape=o, bias_axes=b), inp
        )
    yield layer_case(
        "einsumdense-activation",
        "EinsumDense with a relu activation",
        lambda: L.EinsumDense("ab,bc->ac", output_shape=[3], bias_axes="c", activation="relu"),
        (4,),
    )
    for act in ACTIVATIONS:
        yield layer_case(f"activation-{act.replace('_', '-')}", f"Activation {act}", lambda a=act: L.Activation(a), (3, 4))
    yield from _activations_0_2()
    for cfg in [
        {},
        {"max_value": 6.0},
        {"negative_slope": 0.1},
        {"threshold": 0.5},
        {"max_value": 1.0, "negative_slope": 0.2, "threshold": 0.25},
    ]:
        cid = "relu" + "".join(f"-{k}-{v}" for k, v in cfg.items()).replace("_", "")
        yield layer_case(cid, f"ReLU {cfg or 'defaults'}", lambda c=cfg: L.ReLU(**c), (3, 4))
    for slope in (0.3, 0.01):
        yield layer_case(f"leakyrelu-{slope}", f"LeakyReLU, negative_slope={slope}", lambda a=slope: L.LeakyReLU(negative_slope=a), (3, 4))
    for alpha in (1.0, 0.5):
        yield layer_case(f"elu-{alpha}", f"ELU, alpha={alpha}", lambda a=alpha: L.ELU(alpha=a), (3, 4))
    yield layer_case("prelu", "PReLU with one slope per element", lambda: L.PReLU(), (3, 4))
    yield layer_case("prelu-shared-axes", "PReLU sharing slopes over axes 1 and 2", lambda: L.PReLU(shared_axes=[1, 2]), (3, 4, 2))
    for axis in (-1, 1):
        yield layer_case(f"softmax-axis{axis}", f"Softmax over axis {axis}", lambda a=axis: L.Softmax(axis=a), (3, 4))
    yield layer_case("identity", "Identity passes its input through", lambda: L.Identity(), (3, 4))
    noops = [
        ("dropout", lambda: L.Dropout(0.5), (3, 4)),
        ("dropout-noise-shape", lambda: L.Dropout(0.3, noise_shape=(None, 1, 4)), (3, 4)),
        ("spatialdropout1d", lambda: L.SpatialDropout1D(0.5), (3, 4)),
        ("spatialdropout2d", lambda: L.SpatialDropout2D(0.5), (3, 3, 2)),
        ("spatialdropout3d", lambda: L.SpatialDropout3D(0.5), (2, 2, 2, 2)),
        ("gaussiandropout", lambda: L.GaussianDropout(0.4), (3, 4)),
        ("gaussiannoise", lambda: L.GaussianNoise(0.7), (3, 4)),
        ("alphadropout", lambda: L.AlphaDropout(0.2), (3, 4)),
        ("activityregularization", lambda: L.ActivityRegularization(l1=0.1, l2=0.2), (3, 4)),
    ]
    for cid, factory, shape in noops:
        yield layer_case(f"{cid}-inference", f"{cid} is the identity at inference", factory, shape)
    ids = s.rng_for("embedding", "ids").integers(0, 10, size=(2, 5)).astype("int32")
    ids[:, -2:] = 0
    yield layer_case("embedding", "Embedding lookup of int32 ids", lambda: L.Embedding(10, 4), (5,), dtype="int32", inputs=[ids])
    yield layer_case(
        "embedding-int64", "Embedding lookup of int64 ids", lambda: L.Embedding(10, 3), (5,), dtype="int64", inputs=[ids.astype("int64")]
    )
    yield layer_case(
        "embedding-mask-zero",
        "Embedding with mask_zero, values only",
        lambda: L.Embedding(10, 4, mask_zero=True),
        (5,),
        dtype="int32",
        inputs=[ids],
    )
    yield layer_case("rescaling", "Rescaling by 1/255", lambda: L.Rescaling(1 / 255.0), (3, 3, 2))
    yield layer_case("rescaling-offset", "Rescaling with scale 2 and offset -1", lambda: L.Rescaling(2.0, offset=-1.0), (4,))
    yield layer_case(
        "rescaling-per-channel",
        "Rescaling with a per-channel scale and offset",
        lambda: L.Rescaling([0.5, 2.0], offset=[1.0, -1.0]),
        (3, 2),
        level="extended",
    )
    for cid, desc, axis, invert, shape in [
        ("normalization", "Normalization with per-feature mean and variance", -1, False, (3,)),
        ("normalization-invert", "Normalization with invert=True", -1, True, (3,)),
        ("normalization-axis1", "Normalization over axis 1 of a rank-3 input", 1, False, (4, 2)),
    ]:
        # Built from the layer's variables: kif.keras.convert does not map Keras 3's Normalization config.
        yield layer_case(
            cid,
            desc,
            lambda a=axis, i=invert: L.Normalization(axis=a, invert=i),
            shape,
            bundle=s.one_layer_bundle("Normalization", ("mean", "variance"), flatten=True, axis=[axis], invert=invert),
        )

    def resizing(**attrs: object) -> object:
        keys = ("height", "width", "interpolation", "crop_to_aspect_ratio", "pad_to_aspect_ratio", "fill_value")
        full = {"interpolation": "bilinear", "crop_to_aspect_ratio": False, "pad_to_aspect_ratio": False, "fill_value": 0.0, **attrs}
        return {"bundle": s.one_layer_bundle("Resizing", **{k: full[k] for k in keys})}

    for interp in ("nearest", "bilinear"):
        yield layer_case(
            f"resizing-up-{interp}",
            f"Resizing 4x4 to 6x8, {interp}",
            lambda i=interp: L.Resizing(6, 8, interpolation=i),
            (4, 4, 2),
            **resizing(height=6, width=8, interpolation=interp),
        )
        yield layer_case(
            f"resizing-down-{interp}",
            f"Resizing 6x6 to 3x4, {interp}",
            lambda i=interp: L.Resizing(3, 4, interpolation=i),
            (6, 6, 2),
            **resizing(height=3, width=4, interpolation=interp),
        )
    yield layer_case(
        "resizing-crop-aspect",
        "Resizing with crop_to_aspect_ratio",
        lambda: L.Resizing(4, 4, crop_to_aspect_ratio=True),
        (6, 8, 1),
        level="extended",
        **resizing(height=4, width=4, crop_to_aspect_ratio=True),
    )
    yield layer_case(
        "resizing-pad-aspect",
        "Resizing with pad_to_aspect_ratio",
        lambda: L.Resizing(4, 4, pad_to_aspect_ratio=True, fill_value=0.5),
        (6, 8, 1),
        level="extended",
        **resizing(height=4, width=4, pad_to_aspect_ratio=True, fill_value=0.5),
    )
    yield layer_case("centercrop", "CenterCrop 6x5 to 4x3", lambda: L.CenterCrop(4, 3), (6, 5, 2))
    yield layer_case("centercrop-odd", "CenterCrop with an odd margin", lambda: L.CenterCrop(3, 2), (6, 5, 1))


if __name__ == "__main__":
    s.main("layers_core", cases)
