"""Issue #15's table in one run: each KIF operation against its anchor, fresh process per measurement, medians.

    python benchmarks/speed.py                      # 1 GiB of float32 in 8 tensors; convert/export at 100 MB
    python benchmarks/speed.py --size-mb 64 --convert-mb 16 --repeats 1    # quick (the smoke test)
    python benchmarks/speed.py --rows save --clock cpu    # process CPU seconds instead of wall (a busy machine)

Rows (KIF / anchor; the goal is the issue's):

* ``import``: the ``import kif`` statement / ``import safetensors``.
* ``lazy open``: first ``kif.load(path)`` in a process, integrity on (per-tensor digests: headers hashed now, each
  tensor on first read) / safetensors ``safe_open`` + ``keys()``.
* ``verified load``: ``kif.load(path)`` then every tensor read (each hashed before use; ``-bulk``: after
  ``model.weights.verify()``, which hashes them in parallel as ``kif.run`` does) / the *read floor*: one
  ``readinto`` of a file of the same bytes into ``np.empty``. ``safetensors load_file`` and ``torch.load`` (which
  check nothing) are printed as further anchors.
* ``save``: ``kif.save`` as a ``.kif`` archive and as a directory / the *write floor*: the same bytes written to one
  file and fsynced. ``torch.save`` and ``safetensors save_file`` (each then fsynced, as ``kif.save`` does) beside it.
* ``convert``: ``kif convert`` of a Keras 3 ``.h5`` / h5py reading every dataset of it, both with h5py imported
  before the timer (``convert-kif-h5py`` / ``convert-h5py``), and both with the h5py import timed (``convert-kif``,
  which imports h5py inside ``convert``, / ``convert-h5py-import``). The previous output is removed untimed.
* ``export``: ``kif.keras.export`` of the live model / Keras ``model.save(".keras")``.

The runtime and engine rows are measured by ``benchmarks/infer.py`` and ``benchmarks/engines.py`` (their own
models and anchors). Every child prints one JSON line; timings include nothing the child did before the timer
(imports, building arrays) except in the ``import`` row. Tests never read these timings.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (row, KIF kinds, anchor kind, further anchors printed beside it, the goal)
ROWS = [
    ("import", ["import-kif"], "import-safetensors", [], "import kif <= 0.10 s"),
    ("lazy open, integrity on", ["open-kif"], "open-safetensors", [], "<= 1 ms"),
    ("verified load (every tensor)", ["full-kif", "full-kif-bulk"], "read-floor", ["load-safetensors", "load-torch"], "<= 1.5x read floor"),
    ("save", ["save-kif", "save-kif-dir"], "save-floor", ["save-torch", "save-safetensors"], "<= torch.save"),
    ("convert .h5", ["convert-kif-h5py"], "convert-h5py", [], "<= 1.3x (1 GB), 2x (100 MB) h5py read"),
    ("convert .h5, h5py import timed", ["convert-kif"], "convert-h5py-import", [], "<= 1.3x (1 GB), 2x (100 MB) h5py read"),
    ("export live model", ["export-kif"], "export-keras", [], "<= 0.5x Keras save"),
]


# Children cache bytecode as an installed package does (this machine sets PYTHONDONTWRITEBYTECODE=1, which would
# make every fresh process compile kif from source and add ~30 ms to the first open).
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _met(row: str, took: float, ratio: float, times: dict[str, float], convert_mb: int) -> bool:
    """The issue's goal for a row: absolute for import and open, against an anchor's ratio for the rest."""
    if row == "import":
        return took <= 0.10
    if row.startswith("lazy open"):
        return took <= 0.001
    if row == "save":
        return took <= times["save-torch"]
    if row.startswith("convert"):
        return ratio <= (1.3 if convert_mb >= 1000 else 2.0)
    if row.startswith("verified load"):
        return ratio <= 1.5
    return ratio <= 0.5  # export


FSYNC: dict[str, float] = {}  # kind → median seconds spent in os.fsync inside the timed operation


# With the CPU clock, OpenBLAS gets one thread: its idle worker threads spin for ~0.1 s after NumPy is imported
# (~70 ms of CPU here, more under load), which a process-wide CPU clock would charge to the operation that follows.
# No row here multiplies matrices.
_CPU_ENV = {**_ENV, "OPENBLAS_NUM_THREADS": _ENV.get("OPENBLAS_NUM_THREADS", "1")}


def _once(kind: str, root: Path, clock: str) -> tuple[float, float]:
    child = [sys.executable, "-W", "ignore", str(HERE / "_speed_child.py"), kind, str(root)]
    done = subprocess.run(child, capture_output=True, text=True, check=False, env=_CPU_ENV if clock == "cpu" else _ENV)
    if done.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{done.stderr[-2000:]}")
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return found["seconds" if clock == "wall" else "cpu_seconds"], found.get("fsync_seconds", 0.0)


def _run(kinds: list[str], root: Path, repeats: int, clock: str = "wall") -> dict[str, float]:
    """Median seconds of each kind; the repeats alternate the kinds (KIF, anchor, KIF, ...) so a change in the
    machine's load falls on both sides of a ratio."""
    runs: dict[str, list[float]] = {k: [] for k in kinds}
    syncs: dict[str, list[float]] = {k: [] for k in kinds}
    for _ in range(repeats):
        for kind in kinds:
            took, synced = _once(kind, root, clock)
            runs[kind].append(took)
            syncs[kind].append(synced)
    for kind in kinds:
        FSYNC[kind] = statistics.median(syncs[kind])
    return {kind: statistics.median(runs[kind]) for kind in kinds}


def _prepare(root: Path, size_mb: int, convert_mb: int) -> None:
    import numpy as np

    width = int((size_mb * 2**20 / 8 / 4) ** 0.5)
    shapes = {}
    for i in range(8):
        shapes[f"d{i}/kernel"], shapes[f"d{i}/bias"] = [width, width], [width]
    (root / "arrays.json").write_text(json.dumps(shapes))
    weights = {n: np.full(s, i + 1, dtype="float32") for i, (n, s) in enumerate(shapes.items())}
    import kif
    import torch
    from safetensors.numpy import save_file

    sys.path.insert(0, str(HERE))
    from _speed_child import model_of

    kif.save(model_of(weights), root / "model.kif", progress=False)
    save_file(weights, str(root / "model.safetensors"))
    torch.save({n: torch.from_numpy(a) for n, a in weights.items()}, root / "model.pt")
    with open(root / "raw.bin", "wb") as f:
        for a in weights.values():
            f.write(memoryview(a).cast("B"))
    from convert import build_model

    build_model(root / "model.h5", convert_mb)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="weights for the open/load/save rows (MiB)")
    parser.add_argument("--convert-mb", type=int, default=100, help="weights of the Keras model for convert/export (MiB)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", help="parent of the temporary directory (needs about 5x --size-mb free)")
    parser.add_argument("--rows", help="comma-separated row names to run (prefixes, e.g. convert,export); default all")
    parser.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="wall: elapsed seconds; cpu: the process's CPU seconds, all threads (repeatable under load; kernel writeback "
        "threads and the disk are not counted, and work spread over cores is summed)",
    )
    args = parser.parse_args()
    wanted = [w.strip() for w in args.rows.split(",")] if args.rows else None
    with tempfile.TemporaryDirectory(prefix="kif-speed-", dir=args.workdir) as tmp:
        root = Path(tmp)
        _prepare(root, args.size_mb, args.convert_mb)
        size = (root / "raw.bin").stat().st_size
        print(
            f"{size / 2**20:.0f} MiB in 8 float32 tensors (convert/export: a {args.convert_mb} MiB Keras MLP); "
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; median of {args.repeats} fresh processes, {args.clock} clock\n"
        )
        print("| row | KIF | s | anchor | s | ratio | goal | met |\n|---|---|---:|---|---:|---:|---|---|")
        for row, kinds, anchor, extras, goal_text in ROWS:
            if wanted is not None and not any(row.startswith(w) for w in wanted):
                continue
            times = _run([anchor, *extras, *kinds], root, args.repeats, args.clock)
            base = times[anchor]
            for kind in [*kinds, *extras]:
                took, ratio = times[kind], times[kind] / base
                met = _met(row, took, ratio, times, args.convert_mb) if kind in kinds else None
                flag = "" if met is None else ("yes" if met else "no")
                label, goal = (kind, goal_text) if kind in kinds else (f"({kind})", "anchor")
                print(f"| {row} | {label} | {took:.4f} | {anchor} | {base:.4f} | {ratio:.2f}x | {goal} | {flag} |")
        synced = {k: v for k, v in FSYNC.items() if v > 0}
        if synced:  # durability: kif.save fsyncs before the rename (the anchors that fsync do it inside their timing too)
            print("\nseconds in os.fsync inside the timed operation (median): " + ", ".join(f"{k} {v:.4f}" for k, v in synced.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
