"""Cases for what the layer groups leave out: bfloat16 tensors, integer and bool outputs, ReLU exactly at its
threshold and ceiling, sharded weights, a self_test member, model.kif as a directory and as a ZIP64 archive,
and second witnesses for readings where Keras 2 and Keras 3 (or two plausible readings) differ.

``python conformance/generators/coverage_gaps.py [OUT_ROOT] [-k SUBSTRING]`` rewrites ``cases/coverage_gaps/``.
Bundles built by hand have NumPy oracles written here, independent of kif's kernels; the others are Keras's.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import _suite as s
import kif
import ml_dtypes
import numpy as np
from _packed import Arrays, Packed, write_packed
from _suite import Case, layer_case
from _suite import keras as K

GROUP = "coverage_gaps"
L = K.layers
BF16 = np.dtype(ml_dtypes.bfloat16)
BF16_TOL = {
    "dtype": "bfloat16", "rtol": 0.016, "atol": 0.016,
    "reason": "bfloat16 keeps 8 significant bits: a half-ulp is 2^-9 relative, and a runtime MAY round partial sums",
}  # fmt: skip
EXACT_BF16 = {"dtype": "bfloat16", "rtol": 0.0, "atol": 0.0, "reason": "exact: max and clipping of bfloat16 values round nothing"}


def _f64(a: np.ndarray) -> np.ndarray:
    return np.asarray(a).astype(np.float64)


def _dense_model(name: str, dtype: str, sizes: Sequence[int], rng: np.random.Generator, activation: str = "linear") -> kif.Model:
    b = kif.GraphBuilder(name)
    t = b.input("x", dtype, (None, sizes[0]))
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        weights = {"kernel": rng.uniform(-0.5, 0.5, (n_in, n_out)), "bias": rng.uniform(-0.5, 0.5, (n_out,))}
        act = activation if i < len(sizes) - 2 else "linear"
        t = b.add("Dense", t, name=f"dense_{i}", weights={k: v.astype(dtype) for k, v in weights.items()}, units=n_out, activation=act)
    b.output(t)
    return b.build()


def _dense_oracle(dtype: np.dtype, activation: str = "linear") -> Callable[[kif.Model, Arrays], Arrays]:
    def oracle(model: kif.Model, xs: Arrays) -> Arrays:
        y = _f64(xs["x"])
        dense = [layer for layer in model.layers if layer.type == "Dense"]
        for i, layer in enumerate(dense):
            w = model.weights
            y = y @ _f64(w[f"{layer.name}/kernel"]) + _f64(w[f"{layer.name}/bias"])
            if activation == "relu" and i < len(dense) - 1:
                y = np.maximum(y, 0.0)
        return {model.outputs[0].name: y.astype(dtype)}

    return oracle


def _bf16_cases() -> Iterator[Packed]:
    rng = s.rng_for("bf16-dense")
    yield Packed(
        "bf16-dense", "Dense with bfloat16 weights, input and output", lambda: _dense_model("bf16_dense", "bfloat16", (5, 4), rng),
        {"x": rng.standard_normal((2, 5)).astype(BF16)}, _dense_oracle(BF16), tolerance=BF16_TOL, sections=["spec/tensors.md"],
        level="extended",
    )  # fmt: skip

    def layer_norm() -> kif.Model:
        r = s.rng_for("bf16-layernormalization", "weights")
        b = kif.GraphBuilder("bf16_layer_norm")
        weights = {"gamma": r.uniform(0.5, 1.5, 6).astype(BF16), "beta": r.uniform(-0.5, 0.5, 6).astype(BF16)}
        b.output(b.add("LayerNormalization", b.input("x", "bfloat16", (None, 3, 6)), name="norm", weights=weights, epsilon=1e-3))
        return b.build()

    def layer_norm_oracle(model: kif.Model, xs: Arrays) -> Arrays:
        x = _f64(xs["x"])
        centered = x - x.mean(-1, keepdims=True)
        y = centered / np.sqrt((centered**2).mean(-1, keepdims=True) + 1e-3)
        return {model.outputs[0].name: (y * _f64(model.weights["norm/gamma"]) + _f64(model.weights["norm/beta"])).astype(BF16)}

    yield Packed(
        "bf16-layernormalization", "LayerNormalization with bfloat16 weights, input and output", layer_norm,
        {"x": s.rng_for("bf16-layernormalization").standard_normal((2, 3, 6)).astype(BF16)}, layer_norm_oracle,
        tolerance=BF16_TOL, sections=["spec/tensors.md"], level="extended",
    )  # fmt: skip

    def pool_relu() -> kif.Model:
        b = kif.GraphBuilder("bf16_pool_relu")
        t = b.add("MaxPooling1D", b.input("x", "bfloat16", (None, 6, 3)), name="pool", pool_size=[2], strides=[2])
        b.output(b.add("ReLU", t, name="relu", max_value=1.0))
        return b.build()

    def pool_relu_oracle(model: kif.Model, xs: Arrays) -> Arrays:
        x = _f64(xs["x"])
        pooled = np.maximum(x[:, 0::2], x[:, 1::2])
        return {model.outputs[0].name: np.clip(pooled, 0.0, 1.0).astype(BF16)}

    yield Packed(
        "bf16-maxpooling1d-relu", "MaxPooling1D then ReLU max_value=1 on bfloat16, exact", pool_relu,
        {"x": (2 * s.rng_for("bf16-maxpooling1d-relu").standard_normal((2, 6, 3))).astype(BF16)}, pool_relu_oracle,
        tolerance=EXACT_BF16, sections=["spec/tensors.md"], level="extended",
    )  # fmt: skip


def _integer_cases() -> Iterator[Packed]:
    rng = s.rng_for("integer-outputs")
    a, b_ = rng.integers(-50, 50, (2, 3, 4)).astype(np.int32), rng.integers(-50, 50, (2, 3, 4)).astype(np.int32)

    def max_min() -> kif.Model:
        b = kif.GraphBuilder("int_max_min")
        x0, x1 = b.input("x0", "int32", (None, 3, 4)), b.input("x1", "int32", (None, 3, 4))
        b.output(b.add("Maximum", [x0, x1], name="maximum"))
        b.output(b.add("Minimum", [x0, x1], name="minimum"))
        return b.build()

    yield Packed(
        "int32-maximum-minimum", "Maximum and Minimum of int32 inputs: two int32 outputs", max_min, {"x0": a, "x1": b_},
        lambda m, xs: {
            "maximum": np.where(xs["x0"] > xs["x1"], xs["x0"], xs["x1"]), "minimum": np.where(xs["x0"] < xs["x1"], xs["x0"], xs["x1"]),
        },
    )  # fmt: skip

    def add_reshape() -> kif.Model:
        b = kif.GraphBuilder("int_add_reshape")
        x0, x1 = b.input("x0", "int32", (None, 3, 4)), b.input("x1", "int32", (None, 3, 4))
        b.output(b.add("Reshape", b.add("Add", [x0, x1], name="add"), name="reshape", target_shape=[4, 3]))
        return b.build()

    yield Packed(
        "int32-add-reshape", "Add of int32 inputs, then Reshape: an int32 output", add_reshape, {"x0": a, "x1": b_},
        lambda m, xs: {"reshape": (xs["x0"].astype(np.int64) + xs["x1"]).astype(np.int32).reshape(2, 4, 3)},
    )  # fmt: skip

    def int_pool() -> kif.Model:
        b = kif.GraphBuilder("int_pool")
        b.output(b.add("MaxPooling1D", b.input("x", "int32", (None, 5, 2)), name="pool", pool_size=[2], strides=[2], padding="same"))
        return b.build()

    x = rng.integers(-1000, -1, (2, 5, 2)).astype(np.int32)  # all negative: a zero-padded reading shows
    yield Packed(
        "int32-maxpooling1d-same", "MaxPooling1D same on negative int32: padding never wins", int_pool, {"x": x},
        lambda m, xs: {"pool": np.stack([xs["x"][:, 0:2].max(1), xs["x"][:, 2:4].max(1), xs["x"][:, 4]], axis=1)},
    )  # fmt: skip

    def bools() -> kif.Model:
        b = kif.GraphBuilder("bool_concat_permute")
        x0, x1 = b.input("x0", "bool", (None, 3, 2)), b.input("x1", "bool", (None, 3, 1))
        b.output(b.add("Permute", b.add("Concatenate", [x0, x1], name="concat", axis=-1), name="permute", dims=[2, 1]))
        return b.build()

    yield Packed(
        "bool-concatenate-permute", "Concatenate of bool inputs, then Permute: a bool output", bools,
        {"x0": rng.random((2, 3, 2)) > 0.5, "x1": rng.random((2, 3, 1)) > 0.5},
        lambda m, xs: {"permute": np.concatenate([xs["x0"], xs["x1"]], axis=-1).transpose(0, 2, 1)},
    )  # fmt: skip

    def uint8() -> kif.Model:
        b = kif.GraphBuilder("uint8_flatten")
        b.output(b.add("Flatten", b.add("Cropping1D", b.input("x", "uint8", (None, 4, 3)), name="crop", cropping=[1, 0]), name="flatten"))
        return b.build()

    yield Packed(
        "uint8-cropping1d-flatten", "Cropping1D then Flatten of uint8: a uint8 output", uint8,
        {"x": rng.integers(0, 256, (2, 4, 3)).astype(np.uint8)}, lambda m, xs: {"flatten": xs["x"][:, 1:].reshape(2, 9)},
    )  # fmt: skip


def _container_cases() -> Iterator[Packed]:
    """Several weight files, a self_test member, and the directory and ZIP64 forms of model.kif."""
    forms = [
        ("sharded-weights-mlp", "Three Dense layers, weights split over several safetensors files", "archive", 160, False),
        ("self-test-dense", "Dense whose bundle carries a self_test member", "archive", None, True),
        ("directory-form-dense", "Dense with model.kif given as a bundle directory", "directory", None, False),
        ("zip64-form-dense", "Dense with model.kif a ZIP64 archive (zip64 extras and end records)", "zip64", None, False),
        ("directory-form-sharded-self-test", "Bundle directory with sharded weights and a self_test", "directory", 160, True),
        ("zip64-form-sharded", "ZIP64 archive holding several weight files", "zip64", 160, False),
    ]
    for case_id, description, form, shard_bytes, self_test in forms:
        rng = s.rng_for(case_id)
        sizes = (6, 8, 5, 3) if shard_bytes else (6, 3)
        yield Packed(
            case_id, description, lambda r=rng, z=sizes, n=case_id: _dense_model(n.replace("-", "_"), "float32", z, r, "relu"),
            {"x": rng.standard_normal((2, 6)).astype(np.float32)}, _dense_oracle(np.dtype(np.float32), "relu"),
            form=form, shard_bytes=shard_bytes, self_test=self_test,
            sections=["spec/bundle.md"] + (["spec/self-test.md"] if self_test else []),
        )  # fmt: skip


def _relu_edges() -> Iterator[Case]:
    """ReLU at x == threshold and x == max_value: Keras computes x * (x > t), so x = t gives 0 (not t)."""
    variants = [
        ("relu-at-threshold", {"threshold": 0.5}),
        ("relu-at-threshold-slope", {"threshold": 0.5, "negative_slope": 0.25}),
        ("relu-at-threshold-and-ceiling", {"threshold": 0.25, "max_value": 1.0}),
        ("relu-at-threshold-above-ceiling", {"threshold": 1.0, "max_value": 0.5}),
        ("relu-at-threshold-slope-ceiling", {"threshold": 0.75, "max_value": 2.0, "negative_slope": 0.5}),
    ]
    grid = np.array([-1.0, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0], dtype=np.float32)
    for case_id, attrs in variants:
        x = np.stack([grid, grid[::-1]]).reshape(2, 2, 5)
        named = ", ".join(f"{k}={v}" for k, v in attrs.items())
        yield layer_case(case_id, f"ReLU {named} at x = threshold and max_value", lambda a=attrs: L.ReLU(**a), (2, 5), inputs=[x])


def _hard_sigmoid_keras2(x: K.KerasTensor) -> K.KerasTensor:
    return K.ops.clip(0.2 * x + 0.5, 0.0, 1.0)


def _recurrent_bundle(layer_type: str, **attrs: object) -> Callable[[K.Model], kif.Model]:
    """A one-layer recurrent bundle from a Keras GRU/LSTM whose gate activation is a Python callable."""

    def make(model: K.Model) -> kif.Model:
        layer = model.layers[-1]
        values = [np.asarray(K.ops.convert_to_numpy(v)) for v in layer.weights]
        weights = {"kernel": values[0], "recurrent_kernel": values[1]}
        if layer_type == "GRU":
            weights |= {"bias": values[2][0], "recurrent_bias": values[2][1]}
        else:
            weights["bias"] = values[2]
        b = kif.GraphBuilder(model.name)
        x = b.input(model.inputs[0].name, "float32", tuple(model.inputs[0].shape))
        b.output(b.add(layer_type, x, name=layer.name, weights=weights, units=layer.units, **attrs))
        return b.build()

    return make


def _keras2_readings() -> Iterator[Case]:
    """hard_sigmoid as Keras 2 wrote it (0.2 x + 0.5) had no case; plus second witnesses of other readings."""
    sections = ["spec/layers/activations.md"]
    wide = [np.linspace(-4, 4, 24, dtype=np.float32).reshape(2, 3, 4)]
    yield layer_case(
        "activation-hard-sigmoid-keras2", "Activation hard_sigmoid_keras2 across both kinks", lambda: L.Activation(_hard_sigmoid_keras2),
        (3, 4), inputs=wide, sections=sections, bundle=s.one_layer_bundle("Activation", activation="hard_sigmoid_keras2"),
    )  # fmt: skip
    yield layer_case(
        "dense-hard-sigmoid-keras2", "Dense with the Keras 2 hard_sigmoid activation", lambda: L.Dense(4, activation=_hard_sigmoid_keras2),
        (5,), sections=sections, inputs=[3 * s.normal(s.rng_for("dense-hard-sigmoid-keras2"), 2, 5)],
        bundle=s.one_layer_bundle("Dense", ("kernel", "bias"), units=4, activation="hard_sigmoid_keras2"),
    )  # fmt: skip
    for layer_type, extra in (("GRU", {"reset_after": True}), ("LSTM", {})):
        factory = getattr(L, layer_type)
        yield layer_case(
            f"{layer_type.lower()}-recurrent-hard-sigmoid-keras2", f"{layer_type} gated by the Keras 2 hard_sigmoid",
            lambda f=factory: f(3, recurrent_activation=_hard_sigmoid_keras2), (4, 2), sections=sections,
            inputs=[2 * s.normal(s.rng_for(f"{layer_type}-hs2"), 2, 4, 2)],
            bundle=_recurrent_bundle(layer_type, recurrent_activation="hard_sigmoid_keras2", **extra),
        )  # fmt: skip


def _second_witnesses() -> Iterator[Case]:
    """Readings the mutation check (benchmarks/mutations.py) found caught by one case only."""
    sections = ["spec/layers/activations.md"]
    yield layer_case("dense-hard-silu", "Dense with a hard_silu activation", lambda: L.Dense(4, activation="hard_silu"), (5,),
                     inputs=[4 * s.normal(s.rng_for("dense-hard-silu"), 2, 5)], sections=sections)  # fmt: skip
    yield layer_case("dense-leaky-relu", "Dense with a leaky_relu activation (slope 0.2)", lambda: L.Dense(4, activation="leaky_relu"),
                     (5,), sections=sections)  # fmt: skip
    yield layer_case("elu-alpha-2-rank3", "ELU alpha=2 on a rank-3 input", lambda: L.ELU(alpha=2.0), (3, 4))
    yield layer_case("softmax-rank3-default-axis", "Softmax default axis on a rank-3 input: the last axis", lambda: L.Softmax(), (3, 4))
    yield layer_case("softmax-rank4-default-axis", "Softmax default axis on a rank-4 input", lambda: L.Softmax(), (2, 3, 4))
    small = [0.01 * s.normal(s.rng_for("rmsnormalization-small-inputs"), 2, 3, 4)]
    yield layer_case("rmsnormalization-small-inputs", "RMSNormalization where epsilon matters: inputs near 1e-2",
                     lambda: L.RMSNormalization(epsilon=1e-4), (3, 4), inputs=small)  # fmt: skip
    yield layer_case("rmsnormalization-epsilon-0.1", "RMSNormalization epsilon=0.1 over the last axis",
                     lambda: L.RMSNormalization(epsilon=0.1), (3, 4))  # fmt: skip


def _partly_masked(case_id: str) -> np.ndarray:
    """[2, 5, 3]: steps wholly at mask_value 0.5, and steps where only some features are 0.5 (those are kept)."""
    x = s.normal(s.rng_for(case_id), 2, 5, 3)
    x[0, 1] = x[1, 3] = 0.5
    x[0, 2, :2] = x[1, 0, 1:] = x[1, 4, 0] = 0.5
    return x


def _masking_then(head: Callable[[], object] | None) -> Callable[[], K.Model]:
    def build() -> K.Model:
        x = K.Input((5, 3), name="x")
        y = L.Masking(mask_value=0.5)(x)
        return K.Model(x, y if head is None else head()(y))

    return build


def _causal_cross(layer: Callable[[], object], call: Callable[[object, object, object], object]) -> Callable[[], K.Model]:
    """Three queries over five keys with a causal mask: top-left aligned, query i sees keys 0..i."""

    def build() -> K.Model:
        q, v = K.Input((3, 4), name="q"), K.Input((5, 4), name="v")
        return K.Model([q, v], call(layer(), q, v))

    return build


def _masks_and_causality() -> Iterator[Case]:
    for case_id, head, what in (("masking-partial-steps", None, ""), ("masking-partial-steps-lstm", lambda: L.LSTM(3), " feeding LSTM")):
        yield Case(case_id, f"Masking{what}: a step is masked only when every feature is mask_value", _masking_then(head),
                   [_partly_masked(case_id)])  # fmt: skip
    rng = s.rng_for("causal-cross")
    qv = [s.normal(rng, 2, 3, 4), s.normal(rng, 2, 5, 4)]
    yield Case("multiheadattention-causal-cross", "MultiHeadAttention causal over more keys than queries (top-left)",
               _causal_cross(lambda: L.MultiHeadAttention(2, 3), lambda lay, q, v: lay(q, v, use_causal_mask=True)), qv)  # fmt: skip
    yield Case("attention-causal-cross", "Attention causal over more keys than queries (top-left)",
               _causal_cross(lambda: L.Attention(), lambda lay, q, v: lay([q, v], use_causal_mask=True)), qv)  # fmt: skip


def cases() -> Iterator[Case | Packed]:
    yield from _bf16_cases()
    yield from _integer_cases()
    yield from _container_cases()
    yield from _relu_edges()
    yield from _keras2_readings()
    yield from _second_witnesses()
    yield from _masks_and_causality()


def _write(group: str, case: Packed | s.Case, out: Path) -> None:
    (write_packed if isinstance(case, Packed) else s.write_case)(group, case, out)


def main(argv: Sequence[str] | None = None) -> None:
    """``_suite.main`` for a mix of Keras cases and hand-built (``Packed``) ones."""
    s.main(GROUP, cases, argv, writer=_write)


if __name__ == "__main__":
    main()
