"""The fixed cost of one ``kif.run`` call: a tiny 3-Dense mlp (16-8-8-3, batch 2), where nearly all of a call is the
per-call work around the kernels (binding, checks, the plan loop, engine dispatch), against the same network
written by hand in NumPy and against ONNX Runtime / the kif.torch module called directly.

Prints the CPU time per call (median of ``--rounds`` rounds of ``--calls`` calls) for each ``--modes``. For counts
that do not move with the machine's load, run one mode under callgrind with two call counts and subtract::

    for n in 500 2000; do valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        python benchmarks/call_cost.py --modes reference --calls $n --rounds 1; done
    # instructions per call = (Ir at 2000 - Ir at 500) / 1500

benchmarks/results/numpy_floor.md and engines.md have the numbers of a run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _threads import pin_threads

pin_threads(["--threads", "1"])

import kif  # noqa: E402
import numpy as np  # noqa: E402

MODES = ("hand", "reference", "onnxruntime", "ort-direct", "torch", "torch-module")
LAYERS = ((16, 8, "relu"), (8, 8, "relu"), (8, 3, "softmax"))


def tiny_mlp(rng: np.random.Generator) -> kif.Model:
    b = kif.GraphBuilder("call_cost")
    t = b.input("x", "float32", (None, 16))
    for i, (fan_in, units, activation) in enumerate(LAYERS):
        weights = {"kernel": rng.standard_normal((fan_in, units)).astype(np.float32), "bias": rng.standard_normal(units).astype(np.float32)}
        t = b.add("Dense", t, name=f"dense_{i}", units=units, activation=activation, weights=weights)
    b.output(t)
    return b.build()


def call_for(mode: str, model: kif.Model, x: np.ndarray) -> Callable[[], object]:
    if mode == "hand":
        layers = [(np.asarray(model.weights[la.weights["kernel"]]), np.asarray(model.weights[la.weights["bias"]])) for la in model.layers]

        def hand() -> np.ndarray:
            y = x
            for i, (kernel, bias) in enumerate(layers):
                y = y @ kernel
                y += bias
                if i < len(layers) - 1:
                    np.maximum(y, 0, out=y)
            y -= y.max(axis=-1, keepdims=True)
            np.exp(y, out=y)
            y /= y.sum(axis=-1, keepdims=True)
            return y

        return hand
    if mode == "ort-direct":
        from kif.onnx.export import build

        from _timing import ort_session

        session = ort_session(build(model).SerializeToString(), 1, inter=1)
        feed = {"x": x}
        return lambda: session.run(None, feed)
    if mode == "torch-module":
        import torch
        from kif.torch import load as torch_load

        module, tensor = torch_load(model), torch.from_numpy(x)

        def direct() -> object:
            with torch.inference_mode():
                return module(tensor).numpy()  # type: ignore[operator]

        return direct
    return lambda: kif.run(model, x, engine=mode)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--calls", type=int, default=2000, help="calls per round (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=7, help="rounds per mode, the modes interleaved (default %(default)s)")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="kif-callcost-") as tmp:
        model = kif.load(kif.save(tiny_mlp(rng), Path(tmp) / "m.kif"))  # the runtime sees what a reader sees
        x = rng.standard_normal((2, 16)).astype(np.float32)
        calls = {mode: call_for(mode, model, x) for mode in args.modes}
        for call in calls.values():
            for _ in range(20):
                call()
        times: dict[str, list[float]] = {mode: [] for mode in calls}
        for _ in range(args.rounds):
            for mode, call in calls.items():
                start = time.process_time()
                for _ in range(args.calls):
                    call()
                times[mode].append((time.process_time() - start) / args.calls * 1e6)
    print(f"{args.rounds} rounds of {args.calls} calls, CPU time, 1 thread; kif {kif.__file__}")
    print("| mode | µs per call |")
    print("|---|---:|")
    for mode, values in times.items():
        print(f"| {mode} | {statistics.median(values):.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
