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

import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _threads import pin_threads
from _timing import each_model, interleaved_ms, markdown_table, median_ms, options, ort_session, parse

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
    kif_session = ort_session(str(onnx_path), THREADS)
    torch_session = ort_session(infer.to_onnx(bench), THREADS)

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
        median_ms(call, 1, 2)
    kif_torch_ms, hand_torch_ms, kif_onnx_ms, torch_onnx_ms = interleaved_ms(calls, repeats, alternate=True)
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
    return markdown_table(HEADER, (_cells(r) for r in rows), right=False)


def _cells(r: Row) -> list[str]:
    return [
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


def main(argv: list[str] | None = None) -> int:
    threads_help = "threads per engine; 0 = each library's default (default 1)"
    parser = options(__doc__, infer.BUILDERS, runs=(2, 20), unit="per engine", tolerance=1e-3, threads=threads_help)
    args = parse(parser, argv)
    import torch

    if THREADS > 0:
        torch.set_num_threads(THREADS)
    infer._torch_classes()
    sizes = infer.QUICK if args.quick else infer.FULL
    repeats = args.repeats
    rows = each_model(args, infer.BUILDERS, sizes, lambda bench, tmp: measure(bench, tmp, repeats), progress=False)
    print(f"batch {sizes.batch}, {args.threads} thread(s), {args.clock} clock, median of {repeats} interleaved rounds; {infer.machine()}")
    print(table(rows))
    worst = max(max(r.diff_torch, r.diff_onnx) for r in rows)
    if worst > args.tolerance:
        print(f"FAIL: max abs difference {worst:.2e} exceeds {args.tolerance:.0e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
