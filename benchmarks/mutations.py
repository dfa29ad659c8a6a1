"""Mutation check of the conformance suite: flip one documented reading of a layer in the reference runtime
(a monkeypatched kernel), run the cases that touch that layer on the reference backend, and count the cases
that fail. A reading no case catches is a reading a third-party importer could get wrong and still pass.

    PYTHONPATH=python-sdk/src python benchmarks/mutations.py [--write benchmarks/results/mutations.md] [-k ID]

The mutants stand in for plausible misreadings (another framework's convention, Keras 2's formula, an
off-by-one at a boundary); each one is undone when its run ends.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from kif.conformance import ReferenceBackend, runner, suite_dir
from kif.layers import (
    _attention,
    _conv_utils,
    _resize,
    activation_layers,
    activations,
    masking,
    normalization,
    pooling,
    preprocessing,
    recurrent,
    wrappers,
)

Patch = Callable[[], contextlib.AbstractContextManager[None]]
CONV = ("Conv1D", "Conv2D", "Conv3D", "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D")
TRANSPOSE = ("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")
AVG = ("AveragePooling1D", "AveragePooling2D", "AveragePooling3D")
MAX = ("MaxPooling1D", "MaxPooling2D", "MaxPooling3D")
ATTENTION = ("Attention", "AdditiveAttention", "MultiHeadAttention", "GroupQueryAttention")


@dataclass(frozen=True)
class Mutation:
    id: str
    reading: str  # the reading the spec documents
    mutant: str  # what the mutant computes instead
    patch: Patch
    types: tuple[str, ...] = ()  # run the cases holding any of these layer types ...
    text: str | None = None  # ... or whose model.json holds this text


@contextlib.contextmanager
def _replaced(owner: Any, name: str, make: Callable[[Any], Any], static: bool = False) -> Iterator[None]:
    """Replace ``owner.name`` (or ``owner[name]`` for a dict) by ``make(original)`` for the duration."""
    is_dict = isinstance(owner, dict)
    original = owner[name] if is_dict else getattr(owner, name)
    new = make(original)
    if is_dict:
        owner[name] = new
    else:
        setattr(owner, name, staticmethod(new) if static else new)
    try:
        yield
    finally:
        if is_dict:
            owner[name] = original
        else:
            setattr(owner, name, staticmethod(original) if static else original)


def patch(owner: Any, name: str, make: Callable[[Any], Any], static: bool = False) -> Patch:
    return lambda: _replaced(owner, name, make, static)


# --- mutant kernels -------------------------------------------------------------------------------------------


def _relu_inclusive(original: Any) -> Any:
    def relu(x: np.ndarray, *, max_value: float | None, negative_slope: float, threshold: float) -> np.ndarray:
        w = x.astype(np.float64)
        upper = w if max_value is None else np.minimum(w, max_value)
        return np.where(w >= threshold, upper, negative_slope * (w - threshold)).astype(x.dtype)

    return relu


def _gates_swapped(blocks: int, a: int, b: int) -> Callable[[Any], Any]:
    """A step factory whose kernels' gate blocks a and b trade places (another framework's gate order)."""

    def make(original: Any) -> Any:
        def factory(attrs: dict[str, Any], w: dict[str, np.ndarray]) -> Any:
            u = attrs["units"]
            order = np.arange(blocks * u).reshape(blocks, u)
            order[[a, b]] = order[[b, a]]
            for role in ("kernel", "recurrent_kernel", "bias", "recurrent_bias"):
                if role in w:
                    w[role] = np.ascontiguousarray(w[role][..., order.reshape(-1)])
            return original(attrs, w)

        return factory

    return make


def _pool_counting_padding(original: Any) -> Any:
    def pool(x: np.ndarray, pool_size: list[int], strides: list[int], padding: str, mode: str) -> np.ndarray:
        if mode != "average":
            return original(x, pool_size, strides, padding, mode)
        n = len(pool_size)
        geometry = [pooling.pool_geometry(x.shape[1 + i], pool_size[i], strides[i], padding) for i in range(n)]
        xp = np.pad(x.astype(np.float64), [(0, 0), *[(lo, hi) for _, lo, hi in geometry], (0, 0)])
        windows = np.lib.stride_tricks.sliding_window_view(xp, tuple(pool_size), axis=tuple(range(1, n + 1)))
        windows = windows[(slice(None), *[slice(0, out * s, s) for (out, _, _), s in zip(geometry, strides, strict=True)])]
        return windows.mean(axis=tuple(range(-n, 0))).astype(x.dtype)  # padded cells count in the mean

    return pool


def _batchnorm_eps_outside(original: Any) -> Any:
    def run(attrs: dict[str, Any], inputs: list[Any], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        var = np.asarray(weights["moving_variance"], np.float64)
        moved = {**weights, "moving_variance": ((np.sqrt(var) + attrs["epsilon"]) ** 2).astype(weights["moving_variance"].dtype)}
        return original({**attrs, "epsilon": 0.0}, inputs, moved)  # 1 / (sqrt(var) + eps)

    return run


def _normalize(axes_of: Callable[[dict[str, Any], int], tuple[int, ...]], rms: bool) -> Callable[[Any], Any]:
    """LayerNormalization (rms=False) or RMSNormalization (rms=True) with epsilon added outside the square root."""

    def make(original: Any) -> Any:
        def run(attrs: dict[str, Any], inputs: list[Any], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
            x = inputs[0]
            w = x.astype(np.float64)
            axes = axes_of(attrs, x.ndim)
            shape = [x.shape[i] if i in axes else 1 for i in range(x.ndim)]
            centered = w if rms else w - w.mean(axis=axes, keepdims=True)
            y = centered / (np.sqrt(np.mean(centered**2, axis=axes, keepdims=True)) + attrs["epsilon"])
            if rms:
                return [(y * weights["scale"].astype(np.float64).reshape(shape)).astype(x.dtype)]
            if attrs["rms_scaling"]:
                return original(attrs, inputs, weights)
            if attrs["scale"]:
                y = y * weights["gamma"].astype(np.float64).reshape(shape)
            if attrs["center"]:
                y = y + weights["beta"].astype(np.float64).reshape(shape)
            return [y.astype(x.dtype)]

        return run

    return make


def _axes(attrs: dict[str, Any], rank: int) -> tuple[int, ...]:
    return normalization._axes(attrs["axis"], rank)


def _groups_interleaved(original: Any) -> Any:
    def run(attrs: dict[str, Any], inputs: list[Any], weights: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = inputs[0]
        (axis,) = _axes(attrs, x.ndim)
        c = x.shape[axis]
        groups = c if attrs["groups"] == -1 else attrs["groups"]
        perm = np.argsort(np.arange(c) % groups, kind="stable")  # group g = channels g, g + G, g + 2G, ...
        moved = {k: np.asarray(v)[..., perm] for k, v in weights.items()}
        (y,) = original(attrs, [np.take(x, perm, axis=axis)], moved)
        return [np.take(y, np.argsort(perm), axis=axis)]

    return run


def _bilinear_asymmetric(original: Any) -> Any:
    def weights(n_in: int, n_out: int, antialias: bool = False) -> np.ndarray:
        src = np.arange(n_out) * (n_in / n_out)  # no half-pixel centres (TF 1 / align_corners=False legacy)
        lo = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
        hi, t = np.minimum(lo + 1, n_in - 1), src - lo
        w = np.zeros((n_out, n_in))
        np.add.at(w, (np.arange(n_out), lo), 1.0 - t)
        np.add.at(w, (np.arange(n_out), hi), t)
        return w

    return weights


class _AllForAny:
    """numpy as seen by the Masking kernel, with ``any`` read as ``all``."""

    def __getattr__(self, name: str) -> Any:
        return np.all if name == "any" else getattr(np, name)


def _causal_bottom_right(original: Any) -> Any:
    def band(tq: int, tv: int, causal: bool, window: int | None) -> np.ndarray | None:
        mask = original(tq, tv, False, window)
        if not causal:
            return mask
        keep = np.arange(tv)[None, :] <= np.arange(tq)[:, None] + (tv - tq)  # the last query sees every key
        return keep if mask is None else mask & keep

    return band


def _crop_ceil(original: Any) -> Any:
    def before(padding: str, n: int, k: int, s: int, d: int, out: int) -> int:
        return 0 if padding == "valid" else -(-max((n - 1) * s + (k - 1) * d + 1 - out, 0) // 2)

    return before


def _offset_first(original: Any) -> Any:
    """(x + offset) * scale, as x * scale + offset * scale."""
    return lambda attrs, xs, w: original({**attrs, "offset": np.multiply(attrs["offset"], attrs["scale"]).tolist()}, xs, w)


def _softmax_first_axis(original: Any) -> Any:
    return lambda axis, rank: original(1 if axis == -1 else axis, rank)


# --- the mutations ---------------------------------------------------------------------------------------------

A = activations.ACTIVATIONS
MUTATIONS: list[Mutation] = [
    Mutation("relu-threshold-inclusive", "ReLU: x = threshold takes the lower branch (y = 0)", "x >= threshold keeps x",
             patch(activation_layers, "_relu", _relu_inclusive), ("ReLU",)),
    Mutation("hard-sigmoid-as-keras2", "hard_sigmoid is Keras 3's relu6(x + 3) / 6", "Keras 2's clip(0.2 x + 0.5, 0, 1)",
             patch(A, "hard_sigmoid", lambda f: A["hard_sigmoid_keras2"]), text='"hard_sigmoid"'),
    Mutation("hard-sigmoid-keras2-as-keras3", "hard_sigmoid_keras2 is clip(0.2 x + 0.5, 0, 1)", "Keras 3's (x + 3) / 6",
             patch(A, "hard_sigmoid_keras2", lambda f: A["hard_sigmoid"]), text='"hard_sigmoid_keras2"'),
    Mutation("hard-silu-keras2-slope", "hard_silu is x relu6(x + 3) / 6", "x clip(0.2 x + 0.5, 0, 1)",
             patch(A, "hard_silu", lambda f: lambda x: x * A["hard_sigmoid_keras2"](x)), text='"hard_silu"'),
    Mutation("gelu-tanh-for-erf", "gelu is the exact (erf) form", "the tanh approximation",
             patch(A, "gelu", lambda f: activations.gelu_tanh), text='"gelu"'),
    Mutation("leaky-relu-activation-slope", "activation leaky_relu has slope 0.2", "the LeakyReLU layer's default 0.3",
             patch(A, "leaky_relu", lambda f: lambda x: f(x, 0.3)), text='"leaky_relu"'),
    Mutation("elu-alpha-ignored", "ELU multiplies expm1 by alpha", "alpha read as 1",
             patch(activations, "elu", lambda f: lambda x, alpha=1.0: f(x, 1.0)), ("ELU",)),
    Mutation("softmax-axis-first", "Softmax axis -1 is the last axis", "the first non-batch axis",
             patch(activation_layers, "_softmax_axes", _softmax_first_axis), ("Softmax",)),
    Mutation("gru-reset-after-flipped", "GRU reset_after: reset gate after the recurrent matmul when true", "the other placement",
             patch(recurrent._STEPS, "GRU", lambda f: lambda attrs, w: f({**attrs, "reset_after": not attrs["reset_after"]}, w)),
             ("GRU",), '"GRU"'),
    Mutation("gru-gate-order-rz", "GRU gate blocks are z, r, h (Keras)", "r, z, h (PyTorch)",
             patch(recurrent._STEPS, "GRU", _gates_swapped(3, 0, 1)), ("GRU",), '"GRU"'),
    Mutation("lstm-gate-order-ifoc", "LSTM gate blocks are i, f, c, o (Keras)", "i, f, o, c",
             patch(recurrent._STEPS, "LSTM", _gates_swapped(4, 2, 3)), ("LSTM",), '"LSTM"'),
    Mutation("lstm-gate-order-fi", "LSTM input gate before forget gate", "f, i, c, o",
             patch(recurrent._STEPS, "LSTM", _gates_swapped(4, 0, 1)), ("LSTM",), '"LSTM"'),
    Mutation("conv-same-extra-before", "padding same: an odd total pads the extra cell at the end (TensorFlow)",
             "the extra cell at the start", patch(_conv_utils, "same_pads", lambda f: lambda *a: f(*a)[::-1]), CONV),
    Mutation("conv-transpose-same-crop", "transposed same: crop floor(total / 2) from the start", "ceil(total / 2)",
             patch(_conv_utils, "transpose_pad_before", _crop_ceil), TRANSPOSE),
    Mutation("pool-same-extra-before", "pooling same: the extra padding cell at the end", "at the start",
             patch(pooling, "pool_geometry", lambda f: lambda n, k, s, p: (lambda g: (g[0], g[2], g[1]))(f(n, k, s, p))), AVG + MAX),
    Mutation("avgpool-same-counts-padding", "average pooling same divides by the real cells in a window",
             "by the whole window (padded cells count)", patch(pooling, "pool", _pool_counting_padding), AVG),
    Mutation("maxpool-pads-with-zero", "max pooling padding never wins (-inf / integer minimum)", "zero padding",
             patch(pooling, "_lowest", lambda f: lambda dtype: 0), MAX),
    Mutation("batchnorm-eps-outside-sqrt", "BatchNormalization divides by sqrt(var + eps)", "sqrt(var) + eps",
             patch(normalization.BatchNormalization, "run", _batchnorm_eps_outside, static=True), ("BatchNormalization",)),
    Mutation("layernorm-eps-outside-sqrt", "LayerNormalization divides by sqrt(var + eps)", "sqrt(var) + eps",
             patch(normalization.LayerNormalization, "run", _normalize(_axes, rms=False), static=True), ("LayerNormalization",)),
    Mutation("rmsnorm-eps-outside-sqrt", "RMSNormalization divides by sqrt(mean(x^2) + eps)", "sqrt(mean(x^2)) + eps",
             patch(normalization.RMSNormalization, "run", _normalize(_axes, rms=True), static=True), ("RMSNormalization",)),
    Mutation("groupnorm-interleaved", "GroupNormalization groups are contiguous channel blocks", "channels c with c mod G = g",
             patch(normalization.GroupNormalization, "run", _groups_interleaved, static=True), ("GroupNormalization",)),
    Mutation("attention-unscaled", "multi-head attention scales q by 1 / sqrt(key_dim)", "no scaling",
             patch(_attention, "query_scale", lambda f: lambda depth: 1.0),
             ("MultiHeadAttention", "GroupQueryAttention")),
    Mutation("bidirectional-backward-first", "Bidirectional concat puts the forward output first", "backward first",
             patch(wrappers, "_merge", lambda f: lambda mode, y, y_rev: f(mode, y_rev, y)), ("Bidirectional",)),
    Mutation("bilinear-asymmetric", "bilinear resize uses half-pixel centres", "asymmetric source coordinates",
             patch(_resize, "bilinear_weights", _bilinear_asymmetric), ("UpSampling2D", "Resizing")),
    Mutation("rescaling-offset-first", "Rescaling is x * scale + offset", "(x + offset) * scale",
             patch(preprocessing.Rescaling, "run", _offset_first, static=True), ("Rescaling",)),
    Mutation("masking-all-features", "Masking keeps a step when any feature differs from mask_value", "only when all differ",
             patch(masking, "np", lambda f: _AllForAny()), ("Masking",)),
    Mutation("nearest-asymmetric", "nearest resize picks floor((o + 0.5) n_in / n_out)", "floor(o n_in / n_out)",
             patch(_resize, "nearest_index", lambda f: lambda n_in, n_out: np.arange(n_out) * n_in // n_out), ("UpSampling2D", "Resizing")),
    Mutation("causal-bottom-right", "a causal mask is top-left aligned (query i sees keys j <= i)", "bottom-right aligned",
             patch(_attention, "band_mask", _causal_bottom_right), ATTENTION),
]  # fmt: skip


# --- running ----------------------------------------------------------------------------------------------------


def _document(folder: Path) -> str:
    bundle = folder / "model.kif"
    if bundle.is_dir():
        return (bundle / "model.json").read_text(encoding="utf-8")
    with zipfile.ZipFile(bundle) as archive:
        return archive.read("model.json").decode()


def selected(mutation: Mutation, cases: Sequence[Any], documents: dict[str, str]) -> list[Any]:
    return [
        c for c in cases
        if set(mutation.types) & set(c.layer_types) or (mutation.text is not None and mutation.text in documents[c.id])
    ]  # fmt: skip


@dataclass
class Outcome:
    mutation: Mutation
    run: int
    caught: list[str]
    seconds: float


def run_mutations(mutations: Sequence[Mutation] = MUTATIONS, suite: Path | None = None, jobs: int | None = None) -> list[Outcome]:
    """Each mutation's outcome; raises AssertionError when a selected case fails without any mutant (no baseline)."""
    module = runner(suite)
    cases = [c for c in module.discover(suite or suite_dir()) if c.kind == "model"]
    documents = {c.id: _document(c.folder) for c in cases}
    backend = ReferenceBackend()
    chosen = {m.id: selected(m, cases, documents) for m in mutations}
    union = {c.id: c for group in chosen.values() for c in group}
    broken = [r.case.id for r in module.run_cases(backend, list(union.values()), jobs) if r.status != "pass"]
    assert not broken, f"cases failing without any mutant: {broken}"
    outcomes = []
    for mutation in mutations:
        start = time.perf_counter()
        with mutation.patch():
            results = module.run_cases(backend, chosen[mutation.id], jobs)
        caught = sorted(r.case.id for r in results if r.status != "pass")
        outcomes.append(Outcome(mutation, len(results), caught, time.perf_counter() - start))
    return outcomes


def table(outcomes: Sequence[Outcome]) -> str:
    lines = [
        "| mutation | documented reading | mutant computes | cases run | caught | catching cases |",
        "|---|---|---|---:|---:|---|",
    ]
    for o in outcomes:
        shown = ", ".join(f"`{c}`" for c in o.caught[:6]) + (f" and {len(o.caught) - 6} more" if len(o.caught) > 6 else "")
        lines.append(f"| `{o.mutation.id}` | {o.mutation.reading} | {o.mutation.mutant} | {o.run} | {len(o.caught)} | {shown or '—'} |")
    return "\n".join(lines)


def report(outcomes: Sequence[Outcome]) -> str:
    weakest = min((len(o.caught) for o in outcomes), default=0)
    seconds = math.fsum(o.seconds for o in outcomes)
    return (
        "# Mutation check of the conformance suite\n\n"
        "Each row flips one documented reading in the reference runtime (a monkeypatched kernel), runs the\n"
        "positive cases that touch the layer on the reference backend, and counts the cases that fail.\n"
        "Regenerate: `PYTHONPATH=python-sdk/src python benchmarks/mutations.py --write benchmarks/results/mutations.md`;\n"
        "the test is `python-sdk/tests/test_conformance_mutations.py` (every mutation caught by at least 2 cases).\n\n"
        f"{len(outcomes)} mutations; the weakest is caught by {weakest} cases; {seconds:.0f} s of case runs.\n\n"
        + table(outcomes) + "\n"
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="write the markdown report here")
    parser.add_argument("-k", help="only mutations whose id contains this")
    parser.add_argument("--jobs", type=int)
    args = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if not args.k or args.k in m.id]
    outcomes = run_mutations(chosen, jobs=args.jobs)
    text = report(outcomes)
    if args.write:
        args.write.write_text(text, encoding="utf-8")
    print(text)
    return 0 if all(len(o.caught) >= 2 for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["MUTATIONS", "Mutation", "Outcome", "run_mutations", "table"]
