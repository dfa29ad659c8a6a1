"""Where the milliseconds of ``kif convert`` (.h5) and ``kif.keras.export`` go: each component timed alone, in a
fresh process laid out as benchmarks/speed.py's children (the source in the page cache, the previous output
removed before the timer, bytecode cached), beside the anchors and the whole operation.

    python benchmarks/write_floor.py --convert-mb 100 --repeats 7                 # wall and CPU medians
    python benchmarks/write_floor.py --trees /work/main/python-sdk/src,python-sdk/src   # the whole operations, A/B

Components (each a kind of ``_floor_child.py``; ``c-`` reads the ``.h5``'s weights through memory maps of the
file, as ``kif.keras.h5direct`` does, ``e-`` the live Keras model's torch tensors):

* ``*-write``: the tensors' bytes written to a new file (into the page cache, no fsync);
* ``*-write-fsync``: the same with early writeback (kif.bundle.writeback) and one fsync at the end;
* ``*-sha1`` / ``*-sha2``: SHA-256 of every tensor on one thread / on two (tensors shared out);
* ``*-crc``: the CRC-32 of every byte (kif.bundle.crc: libdeflate where present, else zlib);
* ``*-floor``: write + SHA-256 on two workers + CRC-32 + fsync, overlapped: the data path's floor in Python;
* ``c-scan``: the HDF5 global-heap pre-scan (kif.keras.h5heap, a security check that reads every byte);
* ``c-open``: ``open_source`` (the scan, h5py's open, the audit, the config), h5py imported before;
* ``c-map`` / ``e-map``: ``keras_to_model`` (mapping + shape inference) after the source is open;
* ``*-check``: ``check_document`` of that model (the validation ``kif.save`` runs before writing);
* ``*-imports``: the modules the operation imports inside its timer (those ``from kif.keras import ...`` did not);
* ``c-h5py`` / ``e-keras``: the anchors (h5py reading every dataset; Keras ``model.save(".keras")``);
* ``c-kif`` / ``e-kif``: the whole operation (speed.py's ``convert-kif-h5py`` / ``export-kif``).
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
SIDES = {
    "convert": ["c-h5py", "c-kif", "c-write", "c-write-fsync", "c-sha1", "c-sha2", "c-crc", "c-floor", "c-scan", "c-open",
                "c-map", "c-check", "c-imports"],
    "export": ["e-keras", "e-kif", "e-write", "e-write-fsync", "e-sha1", "e-sha2", "e-crc", "e-floor", "e-map", "e-check",
               "e-imports"],
}  # fmt: skip
WHOLE = ["c-h5py", "c-kif", "e-keras", "e-kif"]
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
_ENV.setdefault("KERAS_BACKEND", "torch")
PREFAULT = [0]


def _once(kind: str, root: Path, tree: str | None, cpu: bool) -> dict[str, float]:
    env = dict(_ENV, KIF_BENCH_PREFAULT_MB=str(PREFAULT[0]))
    if tree is not None:
        env["PYTHONPATH"] = tree
    if cpu:
        env.setdefault("OPENBLAS_NUM_THREADS", "1")  # its idle threads' spin would be charged to the process CPU
    child = [sys.executable, "-W", "ignore", str(HERE / "_floor_child.py"), kind, str(root)]
    done = subprocess.run(child, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{done.stderr[-2000:]}")
    found: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def _table(kinds: list[str], runs: dict[tuple[str, str | None], list[dict[str, float]]], trees: list[str | None]) -> None:
    print("| kind | tree | wall ms | CPU ms | fsync ms |\n|---|---|---:|---:|---:|")
    for kind in kinds:
        for tree in trees:
            found = runs.get((kind, tree))
            if not found:
                continue
            wall, cpu = (statistics.median(r[k] for r in found) * 1e3 for k in ("seconds", "cpu_seconds"))
            synced = statistics.median(r.get("fsync_seconds", 0.0) for r in found) * 1e3
            print(f"| {kind} | {tree or '-'} | {wall:.1f} | {cpu:.1f} | {synced:.1f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--convert-mb", type=int, default=100, help="weights of the Keras MLP (MiB)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sides", default="convert,export", help="convert, export or both")
    parser.add_argument("--trees", help="comma-separated PYTHONPATH entries: only the whole operations, alternating the trees")
    parser.add_argument("--workdir", help="parent of the temporary directory")
    parser.add_argument("--kinds", help="comma-separated kinds to run (default: every kind of the sides)")
    parser.add_argument("--cpu", action="store_true", help="children with OPENBLAS_NUM_THREADS=1 (for reading the CPU column)")
    parser.add_argument(
        "--prefault-mb",
        type=int,
        default=0,
        help="each child touches and frees this much memory right before its timer (a VM that hands freed memory back "
        "to its host makes the first use of a page cost a host fault, which swings every row 2-6x; 400 removes it)",
    )
    args = parser.parse_args()
    PREFAULT[0] = args.prefault_mb
    trees: list[str | None] = [str(Path(t).resolve()) for t in args.trees.split(",")] if args.trees else [None]
    sides = [s.strip() for s in args.sides.split(",")]
    kinds = [k for s in sides for k in SIDES[s] if not args.trees or k in WHOLE]
    if args.kinds:
        kinds = [k.strip() for k in args.kinds.split(",")]
    runs: dict[tuple[str, str | None], list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="kif-floor-", dir=args.workdir) as tmp:
        root = Path(tmp)
        sys.path.insert(0, str(HERE))
        from convert import build_model

        build_model(root / "model.h5", args.convert_mb)
        for _ in range(args.repeats):
            for kind in kinds:
                for tree in trees:
                    runs.setdefault((kind, tree), []).append(_once(kind, root, tree, args.cpu))
    print(
        f"{args.convert_mb} MiB Keras MLP; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
        f"median of {args.repeats} fresh processes per kind (kinds interleaved)\n"
    )
    _table(kinds, runs, trees)
    return 0


if __name__ == "__main__":
    sys.exit(main())
