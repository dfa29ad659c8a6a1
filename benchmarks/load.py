"""Load-time benchmark: a KIF bundle with ~1 GB of float32 weights against safetensors and Keras.

One model (a stack of square Dense layers, ``--size-mb`` of float32 weights) is written
four ways: a ``.kif`` archive, a bundle directory, a bare ``.safetensors`` file with the
same tensors, and a ``.keras`` file. Every case then runs in a fresh subprocess, so its
peak RSS is its own and no case benefits from another's Python heap or imports:

* ``open``: ``kif.load`` alone (header parse, plus the SHA-256 pass when ``verify=True``);
* ``+ sum``: open, then read every tensor completely (``ndarray.sum`` of each);
* baselines: ``safetensors.numpy.load_file``, ``safe_open`` (headers only) and
  ``keras.saving.load_model``.

Each case first runs once with its files evicted from the page cache (``cold``, via
``posix_fadvise(POSIX_FADV_DONTNEED)``), then ``--repeats`` times with every file in the
page cache (``median``). Ratios divide by the ``safetensors load_file`` row.

    python benchmarks/load.py                       # 1 GiB of weights, 3 warm runs per case
    python benchmarks/load.py --size-mb 4 --repeats 1 --no-cold   # smoke test

benchmarks/README.md says what each case times and how to read the results.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LAYERS = 4  # square Dense layers; width = sqrt(size / 4 bytes / LAYERS)
KERAS_FILE = "model.keras"
ARCHIVE = "model.kif"
DIRECTORY = "model_dir"
SAFETENSORS = "model.safetensors"
BASELINE = "safetensors load_file"


@dataclass(frozen=True)
class Case:
    name: str
    kind: str  # "kif", "load_file", "safe_open" or "keras"
    file: str
    verify: bool = True
    read: bool = False  # sum every tensor after opening


CASES = (
    Case(BASELINE, "load_file", SAFETENSORS),
    Case("safetensors load_file + sum", "load_file", SAFETENSORS, read=True),
    Case("safetensors safe_open (open)", "safe_open", SAFETENSORS),
    *(
        Case(
            f"kif.load {label} verify={verify} {'+ sum' if read else '(open)'}",
            "kif",
            file,
            verify,
            read,
        )
        for label, file in ((".kif", ARCHIVE), ("dir", DIRECTORY))
        for read in (False, True)
        for verify in (True, False)
    ),
    Case("keras load_model .keras", "keras", KERAS_FILE),
)


# -- one measurement (runs in the child process) -----------------------------------


def _sum_all(arrays: Iterable[np.ndarray]) -> float:
    # A float32 sum runs at memory speed, so the row measures reading, not arithmetic.
    return float(sum(float(a.sum()) for a in arrays))


def _operation(case: Case, path: Path) -> Callable[[], float | None]:
    """Import what the case needs (not timed) and return the timed operation."""
    if case.kind == "kif":
        import kif
        from kif.layers import kernels

        # kif.load imports the kernel modules on first use; import them now so that, as for
        # keras and safetensors, module imports stay outside the timed region (see README).
        kernels()

        def run_kif() -> float | None:
            model = kif.load(path, verify=case.verify)
            return _sum_all(model.weights.values()) if case.read else None

        return run_kif
    if case.kind == "load_file":
        from safetensors.numpy import load_file

        def run_load_file() -> float | None:
            tensors = load_file(path)
            return _sum_all(tensors.values()) if case.read else None

        return run_load_file
    if case.kind == "safe_open":
        from safetensors import safe_open

        def run_safe_open() -> float | None:
            with safe_open(path, framework="np") as handle:
                handle.keys()
            return None

        return run_safe_open
    os.environ["KERAS_BACKEND"] = "torch"  # before keras is imported; TensorFlow is never used
    import keras

    def run_keras() -> float | None:
        keras.saving.load_model(path)
        return None

    return run_keras


def _peak_rss_mb() -> float:
    """The process's peak RSS in MiB.

    On Linux ``ru_maxrss`` keeps the parent's high-water mark across fork + exec (the
    driver holds the model it built, so every child would report at least that), hence
    VmHWM, the same high-water mark for this process's own address space only.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: KiB on most systems


def _child(name: str, workdir: Path) -> None:
    case = next(c for c in CASES if c.name == name)
    operation = _operation(case, workdir / case.file)
    base_mb = _peak_rss_mb()
    start = time.perf_counter()
    total = operation()
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_mb": _peak_rss_mb(),
                "base_mb": base_mb,
                "sum": total,
            }
        )
    )


# -- building the model four ways ----------------------------------------------------


def _width(size_mb: float) -> int:
    return max(8, int(math.sqrt(size_mb * 2**20 / 4 / LAYERS)))


def build(workdir: Path, size_mb: float) -> int:
    """Write the same model as .keras, .kif, bundle directory and .safetensors; return its weight bytes."""
    os.environ["KERAS_BACKEND"] = "torch"
    import keras
    import kif
    from safetensors.numpy import save_file

    width = _width(size_mb)
    keras.utils.set_random_seed(0)
    layers = [keras.layers.Dense(width, name=f"dense_{i}") for i in range(LAYERS)]
    model = keras.Sequential([keras.Input((width,)), *layers], name="bench")
    model.save(workdir / KERAS_FILE)

    builder = kif.GraphBuilder("bench")
    tensor = builder.input("x", "float32", (None, width))
    weights: dict[str, np.ndarray] = {}
    for layer in layers:
        # Keras's Dense kernel layout [in, units] is KIF's canonical layout: no transpose.
        roles = {
            "kernel": keras.ops.convert_to_numpy(layer.kernel),
            "bias": keras.ops.convert_to_numpy(layer.bias),
        }
        tensor = builder.add("Dense", tensor, name=layer.name, units=width, weights=roles)
        weights.update({f"{layer.name}/{role}": array for role, array in roles.items()})
    builder.output(tensor, dtype="float32", shape=(None, width))
    bundle = builder.build()
    kif.save(bundle, workdir / ARCHIVE, progress=False)
    kif.save(bundle, workdir / DIRECTORY, progress=False)
    save_file(weights, str(workdir / SAFETENSORS))
    return sum(int(a.nbytes) for a in weights.values())


# -- page cache control --------------------------------------------------------------


def _files(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]


def evict(path: Path) -> None:
    """Drop the files' pages from the page cache (clean pages only, hence the fsync)."""
    for file in _files(path):
        fd = os.open(file, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def warm(path: Path) -> None:
    """Read the files once so that every page is in the page cache."""
    for file in _files(path):
        with open(file, "rb") as stream:
            while stream.read(16 * 2**20):
                pass


# -- the driver ----------------------------------------------------------------------


def measure(case: Case, workdir: Path) -> dict[str, float]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        case.name,
        "--workdir",
        str(workdir),
    ]
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"case {case.name!r} failed (exit {done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _ratio(value: float) -> str:
    return f"{value:.3f}" if value >= 0.01 else f"{value:.2g}"


def table(results: dict[str, list[dict[str, float]]], cold: dict[str, dict[str, float]]) -> str:
    base = statistics.median(r["seconds"] for r in results[BASELINE])
    rows = [
        "| case | median s | ratio | cold s | cold ratio | peak RSS MB | RSS before MB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for case in CASES:
        runs = results[case.name]
        median = statistics.median(r["seconds"] for r in runs)
        cells = [case.name, f"{median:.4f}", _ratio(median / base), "", ""]
        if case.name in cold:
            seconds = cold[case.name]["seconds"]
            cells[3:] = [f"{seconds:.4f}", _ratio(seconds / cold[BASELINE]["seconds"])]
        cells += [
            f"{max(r['peak_mb'] for r in runs):.0f}",
            f"{max(r['base_mb'] for r in runs):.0f}",
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def check_sums(runs: Iterable[dict[str, float]]) -> float:
    """Every '+ sum' case must have read the same numbers, or the comparison means nothing."""
    sums = [r["sum"] for r in runs if r["sum"] is not None]
    if not all(math.isclose(s, sums[0], rel_tol=1e-9, abs_tol=1e-6) for s in sums):
        raise SystemExit(f"full-read cases disagree on the sum of all weights: {sorted(set(sums))}")
    return sums[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--size-mb",
        type=float,
        default=1024,
        help="float32 weight bytes in MiB (default 1024)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="warm runs per case; the table shows their median (default 3)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="parent of the temporary directory for the files (default: $TMPDIR)",
    )
    parser.add_argument("--no-cold", action="store_true", help="skip the cold-cache run of each case")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.workdir)
        return 0
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    parent = args.workdir or Path(tempfile.gettempdir())
    if not parent.is_dir():
        parser.error(f"--workdir {parent} is not an existing directory")
    needed = 4.2 * args.size_mb * 2**20  # four copies of the weights, plus headroom
    free = shutil.disk_usage(parent).free
    if free < needed:
        parser.error(f"{parent} has {free / 2**30:.1f} GiB free; this run needs about {needed / 2**30:.1f} GiB")
    workdir = Path(tempfile.mkdtemp(prefix="kif-bench-", dir=parent))
    started = time.perf_counter()
    try:
        nbytes = build(workdir, args.size_mb)
        print(f"model: {LAYERS} Dense layers of {_width(args.size_mb)} units, {nbytes / 2**20:.1f} MiB of float32 weights in {workdir}")
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} before the runs (other work skews timings)")
        cold: dict[str, dict[str, float]] = {}
        if not args.no_cold:
            for case in CASES:
                evict(workdir / case.file)
                cold[case.name] = measure(case, workdir)
        for name in (ARCHIVE, DIRECTORY, SAFETENSORS, KERAS_FILE):
            warm(workdir / name)
        results: dict[str, list[dict[str, float]]] = {case.name: [] for case in CASES}
        for _ in range(args.repeats):  # round-robin, so slow drift on the machine hits every case alike
            for case in CASES:
                results[case.name].append(measure(case, workdir))
        total = check_sums([*cold.values(), *(r for runs in results.values() for r in runs)])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\nwarm: median of {args.repeats} run(s) per case with the files in the page cache; ratio = median / median of {BASELINE!r}")
    if not args.no_cold:
        print("cold: one run per case right after evicting its files from the page cache (posix_fadvise DONTNEED)")
    print("peak RSS: high-water RSS of the child (VmHWM); RSS before: the same, after imports and before the timed operation\n")
    print(table(results, cold))
    print(f"\nall full-read cases summed the weights to {total:.6g}; load average {os.getloadavg()[0]:.2f} after the runs")
    print(f"total run time {time.perf_counter() - started:.0f} s (building the four files included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
