"""Engines benchmark: ``kif.run(..., engine=E)`` against calling engine E directly, in the same run.

Issue #15's goal: ``kif run --engine onnxruntime`` / ``--engine torch`` reach >= 0.95x of ONNX Runtime / torch
on the same model. For each of ``infer.py``'s four models (mlp, cnn, lstm, transformer; the same seeded weights)
this times, one batch per call, median of ``--repeats`` after warm-up:

* ``kif ort``: ``kif.run(model, inputs, engine="onnxruntime", threads=T)`` (inputs checked and bound by the
  reference runtime's code, the cached session, outputs returned as a dict);
* ``ort direct``: the same ``kif.onnx`` export in an ``InferenceSession`` with the same options, ``session.run``
  called directly: the floor of the engine (what a user writing ONNX Runtime code by hand gets from this export);
* ``ort torch-export``: the hand-written ``torch.nn`` twin exported by torch (opset 17) in ONNX Runtime: is
  kif.onnx's graph as fast as torch's exporter's?
* ``kif torch``: ``kif.run(model, inputs, engine="torch", threads=T)``;
* ``torch direct``: the hand-written ``torch.nn`` twin (same weights) under ``torch.inference_mode``.

``speed`` columns are anchor ms / KIF ms (>= 0.95 meets the goal). Outputs are compared (max abs difference,
``--tolerance`` 1e-3); a disagreement fails the run (exit code 1) after the table is printed.

    python benchmarks/engines.py             # batch 32, one thread, 30 runs per cell
    python benchmarks/engines.py --clock cpu # CPU time: steadier when other jobs share the machine
    python benchmarks/engines.py --quick     # tiny sizes, 3 runs: a smoke test
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _threads import pin_threads

THREADS = pin_threads(sys.argv[1:]) if __name__ == "__main__" else 1

import kif  # noqa: E402
import numpy as np  # noqa: E402

import infer  # noqa: E402  (after pin_threads: the model builders and the timing helper)


@dataclass
class Row:
    model: str
    ms: dict[str, float]
    diff: float


COLUMNS = ("kif ort", "ort direct", "ort torch-export", "kif torch", "torch direct")


def _session(proto_bytes: bytes, threads: int) -> object:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = threads
    return ort.InferenceSession(proto_bytes, options, providers=["CPUExecutionProvider"])


def measure(bench: infer.Bench, workdir: Path, repeats: int, threads: int) -> Row:
    import torch
    from kif.onnx.export import build

    path = workdir / f"{bench.name}.kif"
    kif.save(bench.kif_model, path)
    model = kif.load(path)
    out = model.outputs[0].name
    direct = _session(build(model).SerializeToString(), threads)
    twin = _session(infer.to_onnx(bench), threads)
    module = bench.torch_module
    module.eval()  # type: ignore[attr-defined]
    torch.set_num_threads(max(threads, 1))
    tensors = [torch.from_numpy(a) for a in bench.inputs.values()]

    def torch_direct() -> np.ndarray:
        with torch.inference_mode():
            return module(*tensors).numpy()  # type: ignore[operator,no-any-return]

    calls: dict[str, Callable[[], np.ndarray]] = {
        "kif ort": lambda: kif.run(model, bench.inputs, engine="onnxruntime", threads=threads)[out],
        "ort direct": lambda: direct.run(None, bench.inputs)[0],  # type: ignore[attr-defined]
        "ort torch-export": lambda: twin.run(None, bench.inputs)[0],  # type: ignore[attr-defined]
        "kif torch": lambda: kif.run(model, bench.inputs, engine="torch", threads=threads)[out],
        "torch direct": torch_direct,
    }
    results = {name: np.asarray(call()) for name, call in calls.items()}
    diff = max(float(np.max(np.abs(r - results["ort direct"]))) for r in results.values())
    # interleave the cells round by round so a change in machine load hits every cell alike
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            times[name].append(infer.median_ms(call, 1, 0))
    return Row(bench.name, {name: float(np.median(t)) for name, t in times.items()}, diff)


HEADER = ("model", *(f"{c} ms" for c in COLUMNS), "speed ort", "speed ort vs torch-export", "speed torch", "maxdiff")


def table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(HEADER))) + "|"]
    for r in rows:
        ms = r.ms
        cells = [
            r.model,
            *(f"{ms[c]:.3f}" for c in COLUMNS),
            f"{ms['ort direct'] / ms['kif ort']:.2f}",
            f"{ms['ort torch-export'] / ms['kif ort']:.2f}",
            f"{ms['torch direct'] / ms['kif torch']:.2f}",
            f"{r.diff:.2e}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and 3 runs per cell (a smoke test)")
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds (default 30; 3 with --quick)")
    parser.add_argument("--models", nargs="+", choices=list(infer.BUILDERS), default=list(infer.BUILDERS))
    parser.add_argument("--tolerance", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads for every engine (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--clock", choices=list(infer.CLOCKS), default="wall",
        help="wall: elapsed time; cpu: this process's CPU time, steadier on a shared machine with --threads 1",
    )  # fmt: skip
    args = parser.parse_args(argv)
    infer.CLOCK = infer.CLOCKS[args.clock]
    sizes = infer.QUICK if args.quick else infer.FULL
    repeats = args.repeats or (3 if args.quick else 30)
    infer._torch_classes()
    rows = []
    with tempfile.TemporaryDirectory(prefix="kif-engines-") as tmp:
        for name in args.models:
            bench = infer.BUILDERS[name](np.random.default_rng(args.seed), sizes)
            rows.append(measure(bench, Path(tmp), repeats, args.threads))
            print(f"  {name}: done", file=sys.stderr, flush=True)
    print(f"batch {sizes.batch}, {args.threads} thread(s), {args.clock} clock, median of {repeats} interleaved rounds; {infer.machine()}")
    print(table(rows))
    worst = max(r.diff for r in rows)
    if worst > args.tolerance:
        print(f"FAIL: engines disagree by {worst:.2e} > {args.tolerance:g}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
