"""Inference benchmark: the KIF NumPy reference runtime against ONNX Runtime and onnx.reference.ReferenceEvaluator.

Four small models, each built once as a KIF bundle with ``kif.GraphBuilder`` (seeded random
weights) and once as an equivalent ``torch.nn`` module holding the SAME weights, exported to
ONNX (TorchScript exporter, opset 17):

* ``mlp``: Dense 784→512 relu → Dense 256 relu → Dense 10 softmax;
* ``cnn``: 32x32x3 images, 3 x (Conv2D 3x3 same → BatchNormalization → ReLU → MaxPooling2D) → Flatten → Dense → Dense softmax;
* ``lstm``: Embedding(20000, 128) → LSTM(128) over 80 tokens → Dense 1 sigmoid;
* ``transformer``: one post-LN encoder block, 64 tokens of width 128: MultiHeadAttention (4 heads x 32) → Add →
  LayerNormalization → Dense 512 gelu → Dense 128 → Add → LayerNormalization.

The KIF bundle is saved and loaded back before it runs, so the runtime sees what a reader
sees. Every engine's output is compared with the KIF runtime's (columns ``maxdiff ORT`` and
``maxdiff RefEval``: max abs difference); above ``--tolerance`` (1e-3) the run fails (exit
code 1) after the table is printed. Latency is the median of ``--repeats`` runs after warm-up,
one batch per run, with one thread per engine unless ``--threads`` says otherwise;
``--clock cpu`` measures process CPU time instead of elapsed time (steadier on a shared machine).

    python benchmarks/infer.py                 # batch 32, one thread, 20 runs per engine (5 for ReferenceEvaluator)
    python benchmarks/infer.py --threads 0     # each library's default thread count
    python benchmarks/infer.py --quick         # tiny sizes, 2 runs: a smoke test

benchmarks/results/infer.md has the numbers of a full run and the machine they came from.
"""

from __future__ import annotations

import contextlib
import io
import os
import platform
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _threads import pin_threads
from _timing import each_model, markdown_table, median_ms, options, ort_session, parse

THREADS = pin_threads(sys.argv[1:]) if __name__ == "__main__" else 0

import kif  # noqa: E402
import numpy as np  # noqa: E402  (after _pin_threads)

FloatArray = np.ndarray


@dataclass(frozen=True)
class Sizes:
    batch: int
    mlp: tuple[int, int, int, int]  # in, hidden1, hidden2, classes
    image: int
    filters: tuple[int, int, int]
    vocab: int
    tokens: int
    embed: int
    units: int
    seq: int
    width: int
    heads: int
    ff: int


FULL = Sizes(32, (784, 512, 256, 10), 32, (32, 64, 128), 20000, 80, 128, 128, 64, 128, 4, 512)
QUICK = Sizes(2, (16, 8, 8, 3), 8, (4, 4, 8), 50, 5, 8, 8, 6, 16, 2, 32)


@dataclass
class Bench:
    name: str
    kif_model: kif.Model
    torch_module: object  # torch.nn.Module, imported lazily
    inputs: dict[str, np.ndarray]


def _normal(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int | None = None) -> FloatArray:
    scale = 1.0 / np.sqrt(fan_in) if fan_in else 0.1
    return (rng.standard_normal(shape) * scale).astype(np.float32)


# ------------------------------------------------------------------ the four models


def build_mlp(rng: np.random.Generator, s: Sizes) -> Bench:
    import torch

    d_in, h1, h2, classes = s.mlp
    dims = [(d_in, h1, "relu"), (h1, h2, "relu"), (h2, classes, "softmax")]
    b = kif.GraphBuilder("bench_mlp")
    t = b.input("x", "float32", (None, d_in))
    layers: list[torch.nn.Module] = []
    for i, (fan_in, units, act) in enumerate(dims):
        kernel, bias = _normal(rng, (fan_in, units), fan_in), _normal(rng, (units,))
        t = b.add("Dense", t, name=f"dense_{i}", units=units, activation=act, weights={"kernel": kernel, "bias": bias})
        linear = torch.nn.Linear(fan_in, units)
        _copy(linear.weight, kernel.T)  # Dense kernel [in, out]; Linear weight [out, in]
        _copy(linear.bias, bias)
        layers += [linear, torch.nn.ReLU() if act == "relu" else torch.nn.Softmax(dim=-1)]
    b.output(t)
    x = rng.standard_normal((s.batch, d_in)).astype(np.float32)
    return Bench("mlp", b.build(), torch.nn.Sequential(*layers), {"x": x})


def build_cnn(rng: np.random.Generator, s: Sizes) -> Bench:
    import torch

    b = kif.GraphBuilder("bench_cnn")
    t = b.input("image", "float32", (None, s.image, s.image, 3))
    blocks: list[torch.nn.Module] = [_Permute(0, 3, 1, 2)]  # channels_last in, as the KIF model takes it
    channels = 3
    for i, filters in enumerate(s.filters):
        kernel = _normal(rng, (3, 3, channels, filters), 9 * channels)
        bias = _normal(rng, (filters,))
        t = b.add(
            "Conv2D", t, name=f"conv_{i}", filters=filters, kernel_size=[3, 3], padding="same", weights={"kernel": kernel, "bias": bias}
        )
        gamma = (1.0 + 0.1 * rng.standard_normal(filters)).astype(np.float32)
        beta, mean = _normal(rng, (filters,)), _normal(rng, (filters,))
        var = rng.uniform(0.5, 1.5, filters).astype(np.float32)
        bn = {"gamma": gamma, "beta": beta, "moving_mean": mean, "moving_variance": var}
        t = b.add("BatchNormalization", t, name=f"bn_{i}", epsilon=1e-3, weights=bn)
        t = b.add("ReLU", t, name=f"relu_{i}")
        t = b.add("MaxPooling2D", t, name=f"pool_{i}", pool_size=[2, 2])
        conv = torch.nn.Conv2d(channels, filters, 3, padding=1)  # TF "same" for an odd kernel at stride 1: 1 cell each side
        _copy(conv.weight, kernel.transpose(3, 2, 0, 1))  # [kh, kw, in, out] -> [out, in, kh, kw]
        _copy(conv.bias, bias)
        norm = torch.nn.BatchNorm2d(filters, eps=1e-3)
        for param, value in ((norm.weight, gamma), (norm.bias, beta), (norm.running_mean, mean), (norm.running_var, var)):
            _copy(param, value)
        blocks += [conv, norm, torch.nn.ReLU(), torch.nn.MaxPool2d(2)]
        channels = filters
    side = s.image // 2 ** len(s.filters)
    flat = side * side * channels
    t = b.add("Flatten", t, name="flatten")
    k1, b1 = _normal(rng, (flat, 128), flat), _normal(rng, (128,))
    k2, b2 = _normal(rng, (128, 10), 128), _normal(rng, (10,))
    t = b.add("Dense", t, name="fc", units=128, activation="relu", weights={"kernel": k1, "bias": b1})
    t = b.add("Dense", t, name="logits", units=10, activation="softmax", weights={"kernel": k2, "bias": b2})
    b.output(t)
    fc, logits = torch.nn.Linear(flat, 128), torch.nn.Linear(128, 10)
    for param, value in ((fc.weight, k1.T), (fc.bias, b1), (logits.weight, k2.T), (logits.bias, b2)):
        _copy(param, value)
    # Keras flattens channels_last (h, w, c): go back to NHWC before flattening.
    blocks += [_Permute(0, 2, 3, 1), torch.nn.Flatten(), fc, torch.nn.ReLU(), logits, torch.nn.Softmax(dim=-1)]
    x = rng.standard_normal((s.batch, s.image, s.image, 3)).astype(np.float32)
    return Bench("cnn", b.build(), torch.nn.Sequential(*blocks), {"image": x})


def build_lstm(rng: np.random.Generator, s: Sizes) -> Bench:

    table = _normal(rng, (s.vocab, s.embed), s.embed)
    kernel = _normal(rng, (s.embed, 4 * s.units), s.embed)
    recurrent = _normal(rng, (s.units, 4 * s.units), s.units)
    bias = _normal(rng, (4 * s.units,))
    head, head_bias = _normal(rng, (s.units, 1), s.units), _normal(rng, (1,))
    b = kif.GraphBuilder("bench_lstm")
    t = b.input("tokens", "int64", (None, s.tokens))
    t = b.add("Embedding", t, name="embedding", input_dim=s.vocab, output_dim=s.embed, weights={"embeddings": table})
    lstm_weights = {"kernel": kernel, "recurrent_kernel": recurrent, "bias": bias}
    t = b.add("LSTM", t, name="lstm", units=s.units, weights=lstm_weights)
    t = b.add("Dense", t, name="head", units=1, activation="sigmoid", weights={"kernel": head, "bias": head_bias})
    b.output(t)
    module = _LSTMText(s.vocab, s.embed, s.units)
    _copy(module.embedding.weight, table)
    # Gate order i, f, c(g), o in both; Keras concatenates along the last axis [in, 4u], torch along the first [4u, in].
    _copy(module.lstm.weight_ih_l0, kernel.T)
    _copy(module.lstm.weight_hh_l0, recurrent.T)
    _copy(module.lstm.bias_ih_l0, bias)
    _copy(module.lstm.bias_hh_l0, np.zeros_like(bias))  # Keras has one bias
    _copy(module.head.weight, head.T)
    _copy(module.head.bias, head_bias)
    tokens = rng.integers(1, s.vocab, (s.batch, s.tokens), dtype=np.int64)
    return Bench("lstm", b.build(), module, {"tokens": tokens})


def build_transformer(rng: np.random.Generator, s: Sizes) -> Bench:
    d, h = s.width, s.heads
    kd = d // h
    w = {
        "query_kernel": _normal(rng, (d, h, kd), d),
        "query_bias": _normal(rng, (h, kd)),
        "key_kernel": _normal(rng, (d, h, kd), d),
        "key_bias": _normal(rng, (h, kd)),
        "value_kernel": _normal(rng, (d, h, kd), d),
        "value_bias": _normal(rng, (h, kd)),
        "output_kernel": _normal(rng, (h, kd, d), d),
        "output_bias": _normal(rng, (d,)),
    }
    ln = [{"gamma": (1 + 0.1 * rng.standard_normal(d)).astype(np.float32), "beta": _normal(rng, (d,))} for _ in range(2)]
    k1, b1 = _normal(rng, (d, s.ff), d), _normal(rng, (s.ff,))
    k2, b2 = _normal(rng, (s.ff, d), s.ff), _normal(rng, (d,))
    b = kif.GraphBuilder("bench_transformer")
    x = b.input("x", "float32", (None, s.seq, d))
    a = b.add("MultiHeadAttention", [x, x], name="attention", num_heads=h, key_dim=kd, weights=w)
    r = b.add("Add", [x, a], name="residual_0")
    n = b.add("LayerNormalization", r, name="norm_0", epsilon=1e-6, weights=ln[0])
    f = b.add("Dense", n, name="ff_0", units=s.ff, activation="gelu", weights={"kernel": k1, "bias": b1})
    f = b.add("Dense", f, name="ff_1", units=d, weights={"kernel": k2, "bias": b2})
    r = b.add("Add", [n, f], name="residual_1")
    y = b.add("LayerNormalization", r, name="norm_1", epsilon=1e-6, weights=ln[1])
    b.output(y)
    module = _EncoderBlock(d, h, s.ff)
    for proj, role in ((module.q, "query"), (module.k, "key"), (module.v, "value")):
        _copy(proj.weight, w[f"{role}_kernel"].reshape(d, d).T)  # [in, heads, depth] -> [heads*depth, in]
        _copy(proj.bias, w[f"{role}_bias"].reshape(d))
    _copy(module.o.weight, w["output_kernel"].reshape(d, d).T)
    _copy(module.o.bias, w["output_bias"])
    for norm, values in ((module.norm_0, ln[0]), (module.norm_1, ln[1])):
        _copy(norm.weight, values["gamma"])
        _copy(norm.bias, values["beta"])
    for linear, kernel, bias in ((module.ff_0, k1, b1), (module.ff_1, k2, b2)):
        _copy(linear.weight, kernel.T)
        _copy(linear.bias, bias)
    data = rng.standard_normal((s.batch, s.seq, d)).astype(np.float32)
    return Bench("transformer", b.build(), module, {"x": data})


BUILDERS: dict[str, Callable[[np.random.Generator, Sizes], Bench]] = {
    "mlp": build_mlp,
    "cnn": build_cnn,
    "lstm": build_lstm,
    "transformer": build_transformer,
}


# ------------------------------------------------------------------ torch twins (only used to write the ONNX files)


def _copy(param: object, value: np.ndarray) -> None:
    import torch

    with torch.no_grad():
        param.copy_(torch.from_numpy(np.ascontiguousarray(value)))  # type: ignore[attr-defined]


def _torch_classes() -> None:
    """Define the torch modules on first use, so importing this file does not import torch."""
    import torch

    global _Permute, _LSTMText, _EncoderBlock

    class Permute(torch.nn.Module):
        def __init__(self, *order: int) -> None:
            super().__init__()
            self.order = order

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.permute(*self.order)

    class LSTMText(torch.nn.Module):
        def __init__(self, vocab: int, embed: int, units: int) -> None:
            super().__init__()
            self.embedding = torch.nn.Embedding(vocab, embed)
            self.lstm = torch.nn.LSTM(embed, units, batch_first=True)
            self.head = torch.nn.Linear(units, 1)

        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            _, (h, _) = self.lstm(self.embedding(tokens))
            return torch.sigmoid(self.head(h[-1]))

    class EncoderBlock(torch.nn.Module):
        """Keras MultiHeadAttention written out: the query is scaled by 1/sqrt(depth) before q·kᵀ."""

        def __init__(self, d: int, heads: int, ff: int) -> None:
            super().__init__()
            self.heads, self.depth = heads, d // heads
            self.q, self.k, self.v, self.o = (torch.nn.Linear(d, d) for _ in range(4))
            self.norm_0, self.norm_1 = torch.nn.LayerNorm(d, eps=1e-6), torch.nn.LayerNorm(d, eps=1e-6)
            self.ff_0, self.ff_1 = torch.nn.Linear(d, ff), torch.nn.Linear(ff, d)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            n, t, d = x.shape

            def split(y: torch.Tensor) -> torch.Tensor:
                return y.reshape(n, t, self.heads, self.depth).transpose(1, 2)

            q, k, v = split(self.q(x)) * self.depth**-0.5, split(self.k(x)), split(self.v(x))
            attended = torch.softmax(q @ k.transpose(-1, -2), dim=-1) @ v
            y = self.norm_0(x + self.o(attended.transpose(1, 2).reshape(n, t, d)))
            return self.norm_1(y + self.ff_1(torch.nn.functional.gelu(self.ff_0(y))))

    _Permute, _LSTMText, _EncoderBlock = Permute, LSTMText, EncoderBlock


_Permute: type = object
_LSTMText: type = object
_EncoderBlock: type = object


def to_onnx(bench: Bench) -> bytes:
    import torch

    module = bench.torch_module
    module.eval()  # type: ignore[attr-defined]
    args = tuple(torch.from_numpy(a) for a in bench.inputs.values())
    stream = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            module,  # type: ignore[arg-type]
            args,
            stream,
            dynamo=False,
            opset_version=17,
            input_names=list(bench.inputs),
            output_names=["y"],
        )
    return stream.getvalue()


@dataclass
class Row:
    model: str
    kif_ms: float
    ort_ms: float
    ref_ms: float
    diff_ort: float
    diff_ref: float


def measure(bench: Bench, workdir: Path, repeats: int, ref_repeats: int) -> Row:
    import onnx
    from onnx.reference import ReferenceEvaluator

    path = workdir / f"{bench.name}.kif"
    kif.save(bench.kif_model, path)
    model = kif.load(path)
    out_name = model.outputs[0].name
    proto = onnx.load_from_string(to_onnx(bench))
    session = ort_session(proto.SerializeToString(), THREADS)
    reference = ReferenceEvaluator(proto)

    def run_kif() -> np.ndarray:
        return kif.run(model, bench.inputs)[out_name]

    def run_ort() -> np.ndarray:
        return session.run(None, bench.inputs)[0]

    def run_ref() -> np.ndarray:
        return reference.run(None, bench.inputs)[0]

    expected = run_kif()
    diff_ort = float(np.max(np.abs(run_ort() - expected)))
    diff_ref = float(np.max(np.abs(run_ref() - expected)))
    return Row(
        bench.name,
        median_ms(run_kif, repeats, 2),
        median_ms(run_ort, repeats, 2),
        median_ms(run_ref, ref_repeats, 1),
        diff_ort,
        diff_ref,
    )


HEADER = ("model", "KIF ms", "ORT ms", "RefEval ms", "KIF/ORT", "KIF/RefEval", "maxdiff ORT", "maxdiff RefEval")


def table(rows: list[Row]) -> str:
    return markdown_table(
        HEADER,
        (
            (
                r.model,
                f"{r.kif_ms:.2f}",
                f"{r.ort_ms:.2f}",
                f"{r.ref_ms:.2f}",
                f"{r.kif_ms / r.ort_ms:.2f}",
                f"{r.kif_ms / r.ref_ms:.3f}",
                f"{r.diff_ort:.2e}",
                f"{r.diff_ref:.2e}",
            )
            for r in rows
        ),
    )


def machine() -> str:
    import onnx
    import onnxruntime
    import torch

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")
        )
    return (
        f"{cpu}, {os.cpu_count()} logical CPUs; Python {platform.python_version()}, NumPy {np.__version__}, "
        f"onnxruntime {onnxruntime.__version__}, onnx {onnx.__version__}, torch {torch.__version__} (export only), kif {kif.__version__}"
    )


def main(argv: list[str] | None = None) -> int:
    threads_help = "threads for OpenBLAS (KIF) and ONNX Runtime; 0 = each library's default (default 1)"
    parser = options(__doc__, BUILDERS, runs=(2, 20), unit="per engine", tolerance=1e-3, threads=threads_help)
    parser.add_argument("--ref-repeats", type=int, default=None, help="timed runs of ReferenceEvaluator (default min(repeats, 5))")
    args = parse(parser, argv)
    sizes = QUICK if args.quick else FULL
    repeats = args.repeats
    ref_repeats = args.ref_repeats or min(repeats, 5)
    _torch_classes()
    print(f"machine: {machine()}")
    threads = "library defaults" if args.threads <= 0 else str(args.threads)
    print(f"threads: {threads} (OpenBLAS for KIF and ReferenceEvaluator, intra-op for ONNX Runtime)")
    runs = f"median of {repeats} runs after warm-up (ReferenceEvaluator: {ref_repeats})"
    print(f"batch {sizes.batch}, one batch per run; {args.clock} clock, {runs}")
    rows = each_model(args, BUILDERS, sizes, lambda bench, tmp: measure(bench, tmp, repeats, ref_repeats), prefix="kif-infer-")
    print(table(rows))
    failed = [r for r in rows if not max(r.diff_ort, r.diff_ref) <= args.tolerance]
    for r in failed:
        print(
            f"FAIL: {r.model}: outputs disagree with the KIF runtime beyond {args.tolerance:g} "
            f"(ORT {r.diff_ort:.3e}, ReferenceEvaluator {r.diff_ref:.3e})",
            file=sys.stderr,
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
