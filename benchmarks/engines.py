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

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _threads import pin_threads
from _timing import each_model, interleaved_ms, markdown_table, options, ort_session, parse

THREADS = pin_threads(sys.argv[1:]) if __name__ == "__main__" else 1

import kif  # noqa: E402
import numpy as np  # noqa: E402

import infer  # noqa: E402  (after pin_threads: the model builders)


@dataclass
class Row:
    model: str
    ms: dict[str, float]
    diff: float


COLUMNS = ("kif ort", "ort direct", "ort torch-export", "kif torch", "torch direct")


def measure(bench: infer.Bench, workdir: Path, repeats: int, threads: int) -> Row:
    import torch
    from kif.onnx.export import build

    path = workdir / f"{bench.name}.kif"
    kif.save(bench.kif_model, path)
    model = kif.load(path)
    out = model.outputs[0].name
    direct = ort_session(build(model).SerializeToString(), threads, inter=threads)
    twin = ort_session(infer.to_onnx(bench), threads, inter=threads)
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
    return Row(bench.name, dict(zip(calls, interleaved_ms(list(calls.values()), repeats), strict=True)), diff)


HEADER = ("model", *(f"{c} ms" for c in COLUMNS), "speed ort", "speed ort vs torch-export", "speed torch", "maxdiff")


def table(rows: list[Row]) -> str:
    return markdown_table(HEADER, (_cells(r) for r in rows))


def _cells(r: Row) -> list[str]:
    ms = r.ms
    return [
        r.model,
        *(f"{ms[c]:.3f}" for c in COLUMNS),
        f"{ms['ort direct'] / ms['kif ort']:.2f}",
        f"{ms['ort torch-export'] / ms['kif ort']:.2f}",
        f"{ms['torch direct'] / ms['kif torch']:.2f}",
        f"{r.diff:.2e}",
    ]


def main(argv: list[str] | None = None) -> int:
    threads_help = "intra-op threads for every engine (default 1)"
    parser = options(__doc__, infer.BUILDERS, runs=(3, 30), unit="per cell", tolerance=1e-3, threads=threads_help)
    args = parse(parser, argv)
    sizes = infer.QUICK if args.quick else infer.FULL
    repeats = args.repeats
    infer._torch_classes()
    rows = each_model(args, infer.BUILDERS, sizes, lambda bench, tmp: measure(bench, tmp, repeats, args.threads), prefix="kif-engines-")
    print(f"batch {sizes.batch}, {args.threads} thread(s), {args.clock} clock, median of {repeats} interleaved rounds; {infer.machine()}")
    print(table(rows))
    worst = max(r.diff for r in rows)
    if worst > args.tolerance:
        print(f"FAIL: engines disagree by {worst:.2e} > {args.tolerance:g}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
