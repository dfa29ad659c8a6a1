"""Timing scaffolding the model benchmarks share (infer.py, engines.py, importers.py, numpy_floor.py): the clock, the
median of timed runs, interleaved rounds, ONNX Runtime sessions, the common command-line options and Markdown tables."""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

B = TypeVar("B")
R = TypeVar("R")

CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}
CLOCK = CLOCKS["wall"]
CLOCK_HELP = "wall: elapsed time; cpu: this process's CPU time, steadier on a shared machine with --threads 1 (default wall)"


def median_ms(fn: Callable[[], object], repeats: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = CLOCK()
        fn()
        times.append(CLOCK() - start)
    return statistics.median(times) * 1e3


def interleaved_ms(calls: Sequence[Callable[[], object]], repeats: int, *, alternate: bool = False, warmup: int = 0) -> list[float]:
    """Median ms of each call over ``repeats`` rounds of one run each, round by round so that a change in machine load
    hits every call alike; ``alternate`` reverses the order of every other round; ``warmup`` untimed runs of a call
    right before its timed one (its own code and data in the caches, not the call before's)."""
    times: list[list[float]] = [[] for _ in calls]
    for i in range(repeats):
        order = reversed(range(len(calls))) if alternate and i % 2 else range(len(calls))
        for k in order:
            times[k].append(median_ms(calls[k], 1, warmup))
    return [float(statistics.median(t)) for t in times]


def ort_session(source: str | bytes, threads: int, inter: int = 1) -> Any:
    """An ONNX Runtime CPU session, quiet; ``threads`` intra-op (and ``inter`` inter-op) threads, 0 = ORT's default."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads > 0:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = inter
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]], *, right: bool = True) -> str:
    """A Markdown table; ``right`` aligns every column but the first to the right."""
    rule = "|" + "|".join("---:" if right and i else "---" for i in range(len(header))) + "|"
    return "\n".join(["| " + " | ".join(header) + " |", rule, *("| " + " | ".join(cells) + " |" for cells in rows)])


def options(
    doc: str, models: Iterable[str], *, runs: tuple[int, int], unit: str, tolerance: float, threads: str
) -> argparse.ArgumentParser:
    """The options every model benchmark takes; ``runs`` = (quick, full) timed runs ``unit`` (e.g. "per engine")."""
    quick, full = runs
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"tiny sizes and {quick} runs {unit} (a smoke test)")
    parser.add_argument("--repeats", type=int, default=None, help=f"timed runs {unit} after warm-up (default {full}; {quick} with --quick)")
    names = list(models)
    parser.add_argument("--models", nargs="+", choices=names, default=names)
    parser.add_argument("--tolerance", type=float, default=tolerance, help="largest max abs difference accepted (default %(default)g)")
    parser.add_argument("--threads", type=int, default=1, help=threads)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clock", choices=list(CLOCKS), default="wall", help=CLOCK_HELP)
    parser.set_defaults(runs=runs)
    return parser


def parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse ``argv``, select the clock and fill ``repeats`` from ``--quick`` when it was not given."""
    global CLOCK
    args = parser.parse_args(argv)
    CLOCK = CLOCKS[args.clock]
    args.repeats = args.repeats or args.runs[0 if args.quick else 1]
    return args


def each_model(
    args: argparse.Namespace,
    builders: Mapping[str, Callable[[Any, Any], B]],
    sizes: object,
    measure: Callable[[B, Path], R],
    *,
    prefix: str | None = None,
    progress: bool = True,
) -> list[R]:
    """``measure(bench, workdir)`` of each of ``args.models``, built at ``sizes`` from seed ``args.seed``, in one
    temporary directory; ``progress`` prints each model's name to stderr when it is done."""
    import numpy as np  # not at import time: the scripts pin their threads first

    rows = []
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        for name in args.models:
            rows.append(measure(builders[name](np.random.default_rng(args.seed), sizes), Path(tmp)))
            if progress:
                print(f"  {name}: done", file=sys.stderr, flush=True)
    return rows
