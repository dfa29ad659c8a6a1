"""The KIF NumPy reference runtime against the same four networks written by hand in plain NumPy (the floor of a NumPy runtime).

The models are benchmarks/infer.py's (``infer.BUILDERS``, ``infer.FULL`` / ``infer.QUICK``). Each is
also written here as one plain-NumPy function, the way a skilled NumPy user would: Dense as one
matmul with in-place bias and activation, Conv2D as an ``as_strided`` im2col and one matmul,
LSTM as one input matmul for all steps then a step loop with a fused 4-gate recurrent matmul,
attention as batched matmuls. The hand functions read the SAME weights (``bench.kif_model.weights``
by the names in each layer's ``.weights``), laid out once before timing (reshaped kernels,
BatchNormalization as a per-channel scale and shift), as a load-time plan would.

The hand code is an independent oracle of the runtime: when its output differs from
``kif.run`` by more than ``--tolerance`` (1e-4) the run fails (exit code 1) after the table.
Latency is the median of ``--repeats`` runs after warm-up, one batch per run, one thread
(OpenBLAS) unless ``--threads`` says otherwise; ``--clock cpu`` (process CPU time) is steadier
on a shared machine. KIF and hand runs alternate (one of each per round, the order reversed every other
round, each timed run after one untimed run of itself), so that a change in the machine's load hits both
columns alike: two blocks of runs one after the other moved the ratio by up to 40 % on a shared machine.

    python benchmarks/numpy_floor.py --clock cpu      # batch 32, one thread, 20 runs each
    python benchmarks/numpy_floor.py --quick          # tiny sizes, 2 runs: a smoke test

benchmarks/results/numpy_floor.md has the numbers of a full run.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _threads import pin_threads
from _timing import each_model, interleaved_ms, markdown_table, median_ms, options, parse

THREADS = pin_threads(sys.argv[1:]) if __name__ == "__main__" else 0

import kif  # noqa: E402
import numpy as np  # noqa: E402  (after pin_threads)
from numpy.lib.stride_tricks import as_strided  # noqa: E402

import infer  # noqa: E402

Weights = dict[str, np.ndarray]
Hand = Callable[[dict[str, np.ndarray]], np.ndarray]


def layer_weights(model: kif.Model) -> dict[str, Weights]:
    """{layer name: {role: array}} from the model's weight table."""
    return {layer.name: {role: np.asarray(model.weights[t]) for role, t in layer.weights.items()} for layer in model.layers}


# ------------------------------------------------------------------ hand-written NumPy


def _softmax_(x: np.ndarray) -> np.ndarray:
    x -= x.max(axis=-1, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(axis=-1, keepdims=True)
    return x


def _sigmoid_(x: np.ndarray) -> np.ndarray:
    np.negative(x, out=x)
    np.exp(x, out=x)
    x += 1.0
    np.reciprocal(x, out=x)
    return x


def _erf(x: np.ndarray) -> np.ndarray:
    """Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7): plain NumPy has no erf."""
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return np.copysign(1.0 - poly * np.exp(-a * a), x)


def hand_mlp(w: dict[str, Weights]) -> Hand:
    layers = [(w[f"dense_{i}"]["kernel"], w[f"dense_{i}"]["bias"]) for i in range(3)]

    def run(inputs: dict[str, np.ndarray]) -> np.ndarray:
        y = inputs["x"]
        for i, (kernel, bias) in enumerate(layers):
            y = y @ kernel
            y += bias
            if i < 2:
                np.maximum(y, 0, out=y)
        return _softmax_(y)

    return run


def _conv3x3_same(x: np.ndarray, kernel2d: np.ndarray) -> np.ndarray:
    """NHWC, stride 1, one cell of zero padding: im2col by as_strided, then one matmul."""
    n, h, wd, c = x.shape
    padded = np.zeros((n, h + 2, wd + 2, c), x.dtype)
    padded[:, 1:-1, 1:-1] = x
    sn, sh, sw, sc = padded.strides
    cols = as_strided(padded, (n, h, wd, 3, 3, c), (sn, sh, sw, sh, sw, sc)).reshape(n * h * wd, 9 * c)
    return (cols @ kernel2d).reshape(n, h, wd, -1)


def hand_cnn(w: dict[str, Weights]) -> Hand:
    blocks = []
    for i in range(3):
        conv, bn = w[f"conv_{i}"], w[f"bn_{i}"]
        kernel = conv["kernel"]
        scale = bn["gamma"] / np.sqrt(bn["moving_variance"] + np.float32(1e-3))
        shift = bn["beta"] - bn["moving_mean"] * scale
        blocks.append((kernel.reshape(-1, kernel.shape[-1]), conv["bias"], scale, shift))
    fc, logits = w["fc"], w["logits"]

    def run(inputs: dict[str, np.ndarray]) -> np.ndarray:
        y = inputs["image"]
        for kernel2d, bias, scale, shift in blocks:
            y = _conv3x3_same(y, kernel2d)
            y += bias
            y *= scale
            y += shift
            np.maximum(y, 0, out=y)
            n, h, wd, c = y.shape
            y = y.reshape(n, h // 2, 2, wd // 2, 2, c).max(axis=(2, 4))
        z = y.reshape(y.shape[0], -1) @ fc["kernel"]
        z += fc["bias"]
        np.maximum(z, 0, out=z)
        z = z @ logits["kernel"]
        z += logits["bias"]
        return _softmax_(z)

    return run


def hand_lstm(w: dict[str, Weights]) -> Hand:
    table = w["embedding"]["embeddings"]
    kernel, recurrent, bias = (w["lstm"][k] for k in ("kernel", "recurrent_kernel", "bias"))
    head, head_bias = w["head"]["kernel"], w["head"]["bias"]
    units = recurrent.shape[0]

    def run(inputs: dict[str, np.ndarray]) -> np.ndarray:
        x = table[inputs["tokens"]]  # [n, t, e]
        n, steps, _ = x.shape
        xw = x @ kernel  # every step's input projection at once: [n, t, 4u]
        xw += bias
        h = np.zeros((n, units), np.float32)
        c = np.zeros((n, units), np.float32)
        z = np.empty((n, 4 * units), np.float32)
        for t in range(steps):
            np.matmul(h, recurrent, out=z)
            z += xw[:, t]
            _sigmoid_(z[:, : 2 * units])  # i, f
            np.tanh(z[:, 2 * units : 3 * units], out=z[:, 2 * units : 3 * units])  # c candidate
            _sigmoid_(z[:, 3 * units :])  # o
            c *= z[:, units : 2 * units]
            c += z[:, :units] * z[:, 2 * units : 3 * units]
            np.tanh(c, out=h)
            h *= z[:, 3 * units :]
        y = h @ head
        y += head_bias
        return _sigmoid_(y)

    return run


def _layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = np.mean(centred * centred, axis=-1, keepdims=True)
    var += np.float32(eps)
    centred *= gamma / np.sqrt(var)
    centred += beta
    return centred


def hand_transformer(w: dict[str, Weights]) -> Hand:
    att = w["attention"]
    heads, depth = att["query_bias"].shape
    d = heads * depth
    # q, k, v projections fused into one [d, 3d] matmul; the 1/sqrt(depth) scale folded into the query columns.
    scale = np.float32(1.0 / math.sqrt(depth))
    qkv = np.concatenate([att["query_kernel"].reshape(d, d) * scale, att["key_kernel"].reshape(d, d), att["value_kernel"].reshape(d, d)], 1)
    qkv_bias = np.concatenate([att["query_bias"].reshape(d) * scale, att["key_bias"].reshape(d), att["value_bias"].reshape(d)])
    out_kernel, out_bias = att["output_kernel"].reshape(d, d), att["output_bias"]
    n0, n1, ff0, ff1 = w["norm_0"], w["norm_1"], w["ff_0"], w["ff_1"]

    def run(inputs: dict[str, np.ndarray]) -> np.ndarray:
        x = inputs["x"]
        n, t, _ = x.shape
        proj = x @ qkv
        proj += qkv_bias
        proj = proj.reshape(n, t, 3, heads, depth).transpose(2, 0, 3, 1, 4)  # [3, n, heads, t, depth]
        q, k, v = proj[0], proj[1], proj[2]
        scores = _softmax_(q @ k.transpose(0, 1, 3, 2))
        attended = (scores @ v).transpose(0, 2, 1, 3).reshape(n, t, d)
        r = attended @ out_kernel
        r += out_bias
        r += x
        y = _layer_norm(r, n0["gamma"], n0["beta"])
        f = y @ ff0["kernel"]
        f += ff0["bias"]
        f *= 0.5 * (1.0 + _erf(f * np.float32(1 / math.sqrt(2.0))))
        g = f @ ff1["kernel"]
        g += ff1["bias"]
        g += y
        return _layer_norm(g, n1["gamma"], n1["beta"])

    return run


HANDS: dict[str, Callable[[dict[str, Weights]], Hand]] = {
    "mlp": hand_mlp,
    "cnn": hand_cnn,
    "lstm": hand_lstm,
    "transformer": hand_transformer,
}


# ------------------------------------------------------------------ measuring


HEADER = ("model", "KIF ms", "hand NumPy ms", "KIF/hand", "max abs diff")


def measure(bench: infer.Bench, workdir: Path, repeats: int) -> tuple[str, float, float, float]:
    path = workdir / f"{bench.name}.kif"
    kif.save(bench.kif_model, path)
    model = kif.load(path)  # the runtime sees what a reader sees
    out_name = model.outputs[0].name
    hand = HANDS[bench.name](layer_weights(bench.kif_model))

    def run_kif() -> np.ndarray:
        return kif.run(model, bench.inputs)[out_name]

    def run_hand() -> np.ndarray:
        return hand(bench.inputs)

    diff = float(np.max(np.abs(run_hand().astype(np.float64) - run_kif())))
    median_ms(run_kif, 1, 2), median_ms(run_hand, 1, 2)  # warm-up
    kif_ms, hand_ms = interleaved_ms([run_kif, run_hand], repeats, alternate=True, warmup=1)
    return bench.name, kif_ms, hand_ms, diff


def table(rows: list[tuple[str, float, float, float]]) -> str:
    return markdown_table(HEADER, ((name, f"{k:.2f}", f"{h:.2f}", f"{k / h:.2f}", f"{diff:.2e}") for name, k, h, diff in rows))


def main(argv: list[str] | None = None) -> int:
    threads_help = "OpenBLAS threads; 0 = the library default (default 1)"
    parser = options(__doc__, HANDS, runs=(2, 20), unit="each", tolerance=1e-4, threads=threads_help)
    args = parse(parser, argv)
    sizes = infer.QUICK if args.quick else infer.FULL
    repeats = args.repeats
    infer._torch_classes()  # the builders also make torch twins (unused here)
    load = " / ".join(f"{v:.2f}" for v in os.getloadavg())
    threads = "library default" if args.threads <= 0 else str(args.threads)
    print(f"NumPy {np.__version__}, kif {kif.__version__}; threads: {threads}; load average {load}")
    print(f"batch {sizes.batch}, one batch per run; {args.clock} clock, median of {repeats} runs after warm-up")
    rows = each_model(args, infer.BUILDERS, sizes, lambda bench, tmp: measure(bench, tmp, repeats), prefix="kif-npfloor-")
    print(table(rows))
    failed = [r for r in rows if not r[3] <= args.tolerance]
    for name, *_, diff in failed:
        print(f"FAIL: {name}: hand NumPy differs from kif.run by {diff:.3e} > {args.tolerance:g}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
