"""Importer benchmark: KIF → PyTorch against the same network written by hand in PyTorch, and KIF → ONNX
against torch.onnx's export of that hand-written network, both run in ONNX Runtime.

The four models and their hand-written torch twins (same weights) come from ``infer.py``:
mlp, cnn, lstm, transformer. For each model one run measures

* ``kif.torch.load(bundle)`` vs the hand-written ``torch.nn.Module`` (eval mode, ``torch.no_grad``);
* ``kif.onnx.export(bundle)`` in ONNX Runtime vs ``torch.onnx.export(hand-written)`` in ONNX Runtime;

and prints median latencies, the ratios (KIF / hand-written) and the max abs difference of each engine's
output from the hand-written torch module's. One thread per engine unless ``--threads`` says otherwise.

    python benchmarks/importers.py             # batch 32, 20 runs per engine
    python benchmarks/importers.py --clock cpu # CPU time: steadier when other jobs share the machine
    python benchmarks/importers.py --quick     # tiny sizes, 2 runs: a smoke test
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _threads import pin_threads

THREADS = pin_threads(sys.argv[1:]) if __name__ == "__main__" else 0

import numpy as np  # noqa: E402

import infer  # noqa: E402


@dataclass
class Row:
    model: str
    kif_torch_ms: float
    hand_torch_ms: float
    kif_onnx_ms: float
    torch_onnx_ms: float
    diff_torch: float
    diff_onnx: float


def _session(source: str | bytes):  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if THREADS > 0:
        options.intra_op_num_threads = THREADS
        options.inter_op_num_threads = 1
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def measure(bench: infer.Bench, workdir: Path, repeats: int) -> Row:
    import kif
    import kif.onnx
    import kif.torch
    import torch

    bundle = workdir / f"{bench.name}.kif"
    kif.save(bench.kif_model, bundle)
    imported = kif.torch.load(bundle)
    hand = bench.torch_module
    hand.eval()  # type: ignore[attr-defined]
    args = tuple(torch.from_numpy(a) for a in bench.inputs.values())
    onnx_path = kif.onnx.export(bundle, workdir / f"{bench.name}.onnx")
    kif_session = _session(str(onnx_path))
    torch_session = _session(infer.to_onnx(bench))

    def run_kif_torch() -> np.ndarray:
        with torch.no_grad():
            out = imported(*args)
        return (out[0] if isinstance(out, tuple) else out).numpy()

    def run_hand_torch() -> np.ndarray:
        with torch.no_grad():
            return hand(*args).numpy()  # type: ignore[operator]

    def run_kif_onnx() -> np.ndarray:
        return kif_session.run(None, bench.inputs)[0]

    def run_torch_onnx() -> np.ndarray:
        return torch_session.run(None, bench.inputs)[0]

    reference = run_hand_torch()
    calls = (run_kif_torch, run_hand_torch, run_kif_onnx, run_torch_onnx)
    for call in calls:  # warm-up
        infer.median_ms(call, 1, 2)
    # interleave round by round (alternating the order) so a change in machine load hits every cell alike
    times: list[list[float]] = [[] for _ in calls]
    for i in range(repeats):
        order = range(len(calls)) if i % 2 == 0 else reversed(range(len(calls)))
        for k in order:
            times[k].append(infer.median_ms(calls[k], 1, 0))
    kif_torch_ms, hand_torch_ms, kif_onnx_ms, torch_onnx_ms = (float(np.median(t)) for t in times)
    return Row(
        bench.name,
        kif_torch_ms,
        hand_torch_ms,
        kif_onnx_ms,
        torch_onnx_ms,
        float(np.max(np.abs(run_kif_torch() - reference))),
        float(np.max(np.abs(run_kif_onnx() - reference))),
    )


HEADER = (
    "model", "kif.torch ms", "hand torch ms", "kif.torch/hand", "kif.onnx ORT ms", "torch.onnx ORT ms", "kif.onnx/torch.onnx",
    "maxdiff torch", "maxdiff onnx",
)  # fmt: skip


def table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for r in rows:
        cells = [
            r.model,
            f"{r.kif_torch_ms:.2f}",
            f"{r.hand_torch_ms:.2f}",
            f"{r.kif_torch_ms / r.hand_torch_ms:.2f}",
            f"{r.kif_onnx_ms:.2f}",
            f"{r.torch_onnx_ms:.2f}",
            f"{r.kif_onnx_ms / r.torch_onnx_ms:.2f}",
            f"{r.diff_torch:.1e}",
            f"{r.diff_onnx:.1e}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and 2 runs per engine (a smoke test)")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per engine after warm-up (default 20; 2 with --quick)")
    parser.add_argument("--models", nargs="+", choices=list(infer.BUILDERS), default=list(infer.BUILDERS))
    parser.add_argument("--tolerance", type=float, default=1e-3, help="largest max abs difference accepted (default 1e-3)")
    parser.add_argument("--threads", type=int, default=1, help="threads per engine; 0 = each library's default (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--clock", choices=list(infer.CLOCKS), default="wall",
        help="wall: elapsed time; cpu: this process's CPU time, steadier on a shared machine with --threads 1",
    )  # fmt: skip
    args = parser.parse_args(argv)
    infer.CLOCK = infer.CLOCKS[args.clock]
    import torch

    if THREADS > 0:
        torch.set_num_threads(THREADS)
    infer._torch_classes()
    sizes = infer.QUICK if args.quick else infer.FULL
    repeats = args.repeats or (2 if args.quick else 20)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            bench = infer.BUILDERS[name](np.random.default_rng(args.seed), sizes)
            rows.append(measure(bench, Path(tmp), repeats))
    print(f"batch {sizes.batch}, {args.threads} thread(s), {args.clock} clock, median of {repeats} interleaved rounds; {infer.machine()}")
    print(table(rows))
    worst = max(max(r.diff_torch, r.diff_onnx) for r in rows)
    if worst > args.tolerance:
        print(f"FAIL: max abs difference {worst:.2e} exceeds {args.tolerance:.0e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
