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
* ``kif.torch module``: the ``kif.torch.load`` module called directly under ``torch.inference_mode`` (no input
  binding or checks): the importer's share of ``kif torch``, the rest is ``kif.run``'s per-call cost;
* ``torch direct``: the hand-written ``torch.nn`` twin (same weights) under ``torch.inference_mode``.

Each timed call follows one untimed call of itself, and every other round runs the calls in reverse order: with
single interleaved calls, the call after another engine's ran on that engine's caches and the next call on its
own (measured on the mlp: the same ONNX Runtime session 0.24 or 0.26 ms by its place in the round).

``speed`` columns are anchor ms / KIF ms (>= 0.95 meets the goal). Outputs are compared (max abs difference,
``--tolerance`` 1e-3); a disagreement fails the run (exit code 1) after the table is printed.

    python benchmarks/engines.py             # batch 32, one thread, 30 runs per cell
    python benchmarks/engines.py --clock cpu # CPU time: steadier when other jobs share the machine
    python benchmarks/engines.py --quick     # tiny sizes, 3 runs: a smoke test
    python benchmarks/engines.py --engines torch  # only the torch columns (kif torch, module, direct)
    python benchmarks/engines.py --src OLD/python-sdk/src --processes 5  # this tree against another, alternating

``--src``: the same measurement of this tree's ``kif`` and of another ``python-sdk/src``, each in a fresh process of
this script (``PYTHONPATH`` = the tree; the benchmark code is this one for both), the trees alternating (reversed
every other round), ``--processes`` rounds; cells are the median over the processes, speeds the median of each
process's own ratio with its range.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _threads import pin_threads
from _timing import each_model, interleaved_ms, markdown_table, options, ort_session, parse

SRC = Path(__file__).resolve().parents[1] / "python-sdk" / "src"
THREADS = pin_threads(sys.argv[1:]) if __name__ == "__main__" else 1

import kif  # noqa: E402
import numpy as np  # noqa: E402

import infer  # noqa: E402  (after pin_threads: the model builders)


@dataclass
class Row:
    model: str
    ms: dict[str, float]
    diff: float


ENGINE_COLUMNS = {
    "onnxruntime": ("kif ort", "ort direct", "ort torch-export"),
    "torch": ("kif torch", "kif.torch module", "torch direct"),
}
ENGINE_SPEEDS = {
    "onnxruntime": ("speed ort", "speed ort vs torch-export"),
    "torch": ("speed torch module", "speed torch"),
}
SPEEDS = {  # speed column -> (anchor, measured)
    "speed ort": ("ort direct", "kif ort"),
    "speed ort vs torch-export": ("ort torch-export", "kif ort"),
    "speed torch module": ("torch direct", "kif.torch module"),
    "speed torch": ("torch direct", "kif torch"),
}


def columns(engines: list[str]) -> list[str]:
    return [c for e in engines for c in ENGINE_COLUMNS[e]]


def measure(bench: infer.Bench, workdir: Path, repeats: int, threads: int, engines: list[str]) -> Row:
    import torch
    from kif.onnx.export import build

    path = workdir / f"{bench.name}.kif"
    kif.save(bench.kif_model, path)
    model = kif.load(path)
    out = model.outputs[0].name
    module = bench.torch_module
    module.eval()  # type: ignore[attr-defined]
    torch.set_num_threads(max(threads, 1))
    tensors = [torch.from_numpy(a) for a in bench.inputs.values()]

    def torch_direct() -> np.ndarray:
        with torch.inference_mode():
            return module(*tensors).numpy()  # type: ignore[operator,no-any-return]

    calls: dict[str, Callable[[], np.ndarray]] = {}
    if "onnxruntime" in engines:
        direct = ort_session(build(model).SerializeToString(), threads, inter=threads)
        twin = ort_session(infer.to_onnx(bench), threads, inter=threads)
        calls["kif ort"] = lambda: kif.run(model, bench.inputs, engine="onnxruntime", threads=threads)[out]
        calls["ort direct"] = lambda: direct.run(None, bench.inputs)[0]  # type: ignore[attr-defined]
        calls["ort torch-export"] = lambda: twin.run(None, bench.inputs)[0]  # type: ignore[attr-defined]
    if "torch" in engines:
        from kif.torch import load as torch_load

        imported = torch_load(model)

        def kif_module() -> np.ndarray:
            with torch.inference_mode():
                return imported(*tensors).numpy()  # type: ignore[union-attr]

        calls["kif torch"] = lambda: kif.run(model, bench.inputs, engine="torch", threads=threads)[out]
        calls["kif.torch module"] = kif_module
        calls["torch direct"] = torch_direct
    results = {name: np.asarray(call()) for name, call in calls.items()}
    oracle = results["ort direct" if "onnxruntime" in engines else "torch direct"]
    diff = max(float(np.max(np.abs(r - oracle))) for r in results.values())
    return Row(bench.name, dict(zip(calls, interleaved_ms(list(calls.values()), repeats, alternate=True, warmup=1), strict=True)), diff)


def table(rows: list[Row], engines: list[str]) -> str:
    speeds = [c for e in engines for c in ENGINE_SPEEDS[e]]
    header = ("model", *(f"{c} ms" for c in columns(engines)), *speeds, "maxdiff")
    return markdown_table(header, (_cells(r, engines, speeds) for r in rows))


def _cells(r: Row, engines: list[str], speeds: list[str]) -> list[str]:
    ms = r.ms
    ratios = [f"{ms[SPEEDS[c][0]] / ms[SPEEDS[c][1]]:.2f}" for c in speeds]
    return [r.model, *(f"{ms[c]:.3f}" for c in columns(engines)), *ratios, f"{r.diff:.2e}"]


def _child_argv(args: argparse.Namespace) -> list[str]:
    """This run's measurement options, for a child process of this script."""
    argv = ["--clock", args.clock, "--repeats", str(args.repeats), "--threads", str(args.threads), "--seed", str(args.seed)]
    argv += ["--tolerance", str(args.tolerance), "--models", *args.models, "--engines", *args.engines, "--json"]
    return argv + (["--quick"] if args.quick else [])


def _in_tree(src: Path, argv: list[str]) -> list[Row]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run([sys.executable, __file__, *argv], env=env, capture_output=True, text=True, check=False)
    found = [line for line in done.stdout.splitlines() if line.startswith("JSON ")]
    if done.returncode != 0 or not found:
        raise SystemExit(f"engines.py under {src} failed (exit {done.returncode}):\n{done.stdout}{done.stderr[-3000:]}")
    return [Row(r["model"], r["ms"], r["diff"]) for r in json.loads(found[-1][5:])]


def compare(args: argparse.Namespace, engines: list[str]) -> int:
    """``--src``: this tree and ``args.src`` in alternating fresh processes; medians over the processes."""
    trees = {"this tree": SRC, "--src": args.src.resolve()}
    argv = _child_argv(args)
    runs: dict[str, list[list[Row]]] = {name: [] for name in trees}
    for r in range(args.processes):
        for name in list(trees)[:: -1 if r % 2 else 1]:
            runs[name].append(_in_tree(trees[name], argv))
            print(f"  round {r + 1}: {name} done", file=sys.stderr, flush=True)
    speeds = [c for e in engines for c in ENGINE_SPEEDS[e]]
    header = ("model", "tree", *(f"{c} ms" for c in columns(engines)), *speeds, "maxdiff")
    lines = []
    for i, model in enumerate(args.models):
        for name, found in runs.items():
            rows = [process[i] for process in found]
            ms = [f"{statistics.median(r.ms[c] for r in rows):.3f}" for c in columns(engines)]
            ratios = [_spread([r.ms[SPEEDS[c][0]] / r.ms[SPEEDS[c][1]] for r in rows]) for c in speeds]
            lines.append([model, name, *ms, *ratios, f"{max(r.diff for r in rows):.2e}"])
    print(f"this tree: {SRC}\n--src: {trees['--src']}")
    print(f"{args.processes} processes per tree, alternating; in each, {args.clock} clock, median of {args.repeats} interleaved rounds")
    print(markdown_table(header, lines))
    worst = max(r.diff for found in runs.values() for process in found for r in process)
    return 1 if worst > args.tolerance else 0


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def main(argv: list[str] | None = None) -> int:
    threads_help = "intra-op threads for every engine (default 1)"
    parser = options(__doc__, infer.BUILDERS, runs=(3, 30), unit="per cell", tolerance=1e-3, threads=threads_help)
    parser.add_argument(
        "--engines", nargs="+", choices=list(ENGINE_COLUMNS), default=list(ENGINE_COLUMNS), help="engines to time (default both)"
    )
    parser.add_argument("--src", type=Path, help="also measure another python-sdk/src, alternating fresh processes")
    parser.add_argument("--processes", type=int, default=3, help="with --src: processes per tree (default 3)")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # a child of --src: rows as one JSON line
    args = parse(parser, argv)
    engines = [e for e in ENGINE_COLUMNS if e in args.engines]
    if args.src is not None:
        return compare(args, engines)
    sizes = infer.QUICK if args.quick else infer.FULL
    repeats = args.repeats
    infer._torch_classes()
    rows = each_model(
        args, infer.BUILDERS, sizes, lambda bench, tmp: measure(bench, tmp, repeats, args.threads, engines), prefix="kif-engines-"
    )
    print(f"batch {sizes.batch}, {args.threads} thread(s), {args.clock} clock, median of {repeats} interleaved rounds; {infer.machine()}")
    print(table(rows, engines))
    if args.json:
        print("JSON " + json.dumps([{"model": r.model, "ms": r.ms, "diff": r.diff} for r in rows]))
    worst = max(r.diff for r in rows)
    if worst > args.tolerance:
        print(f"FAIL: engines disagree by {worst:.2e} > {args.tolerance:g}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
