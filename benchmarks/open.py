"""Fresh-process lazy open with integrity on: the first ``kif.load`` of an 8-Dense bundle against safetensors ``safe_open``.

Each measurement is a new interpreter that imports ``numpy`` and ``kif`` (or ``safetensors``) first and times the
open call alone, or imports ``numpy`` only and times the import and the open together: process CPU time and wall
time, no tensor read; the child imports nothing else before it measures (no ``json``). Cases run round-robin ``--repeats``
times so that drift on a shared machine hits each alike; the table gives medians and the ratio to ``safe_open``.
Bytecode is written and used (``PYTHONDONTWRITEBYTECODE`` is removed for the children), as in an installed package.

    python benchmarks/open.py                                  # 21 runs per case
    python benchmarks/open.py --src OLD/python-sdk/src         # also the same open with another source tree
    python benchmarks/open.py --python VENV/bin/python         # children in another interpreter (numpy, safetensors)

``--python`` matters: an interpreter whose site hooks import modules before any program starts (this machine's
default one pre-imports ``pathlib``, ``zipfile``, ``threading``) hides what an open imports; a plain ``python -m
venv`` with only numpy and safetensors installed is what a user's fresh process looks like.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "python-sdk" / "src"

_CHILD = """
import sys, time
kind, path = sys.argv[1], sys.argv[2]
import numpy
if kind == "kif":
    import kif
elif kind == "st":
    from safetensors import safe_open
before = set(sys.modules)
c, t = time.process_time(), time.perf_counter()
if kind.startswith("kif"):
    import kif
    kif.load(path)
else:
    from safetensors import safe_open
    with safe_open(path, "np") as f:
        list(f.keys())
wall, cpu = time.perf_counter() - t, time.process_time() - c
print(cpu, wall, *sorted(set(sys.modules) - before))  # no json here: the parent parses; the child imports only what it measures
"""
# (row label, child kind, anchor row): "kif"/"st" time the open alone, after the import; "-import" rows time both.
_OPEN, _IMPORT = "safetensors safe_open", "import safetensors + safe_open"


def _prepare(root: Path) -> tuple[Path, Path]:
    import numpy as np
    from safetensors.numpy import save_file

    sys.path.insert(0, str(Path(__file__).parent))
    import kif

    from _speed_child import model_of

    weights: dict[str, np.ndarray] = {}
    for i in range(8):
        weights[f"d{i}/kernel"] = np.full((64, 64), i, "float32")
        weights[f"d{i}/bias"] = np.full((64,), i, "float32")
    bundle, flat = root / "model.kif", root / "model.safetensors"
    kif.save(model_of(weights), bundle, progress=False)
    save_file(weights, str(flat))
    return bundle, flat


def _run(kind: str, path: Path, src: Path, python: str = sys.executable) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(src)
    # OpenBLAS's idle threads spin for ~70 ms after NumPy's import; the process CPU clock would charge that spin to
    # the open being timed (CPU above wall). One BLAS thread: nothing on either side of the table uses BLAS.
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    done = subprocess.run([python, "-c", _CHILD, kind, str(path)], env=env, check=True, capture_output=True, text=True)
    cpu, wall, *imported = done.stdout.split()
    return {"cpu": float(cpu), "wall": float(wall), "imported": imported}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--src", type=Path, help="another python-sdk/src to measure the same open with")
    parser.add_argument("--python", default=sys.executable, help="the children's interpreter (needs numpy and safetensors)")
    args = parser.parse_args()
    trees = {"this tree": SRC} | ({"--src": args.src} if args.src else {})
    with tempfile.TemporaryDirectory() as tmp:
        bundle, flat = _prepare(Path(tmp))
        cases = [(f"kif open ({name})", "kif", bundle, src, _OPEN) for name, src in trees.items()]
        cases += [(f"import kif + open ({name})", "kif-import", bundle, src, _IMPORT) for name, src in trees.items()]
        cases += [(_OPEN, "st", flat, SRC, _OPEN), (_IMPORT, "st-import", flat, SRC, _IMPORT)]
        for _, kind, path, src, _ in cases:
            _run(kind, path, src, args.python)  # warm-up: bytecode written, files in the page cache
        runs: dict[str, list[dict[str, object]]] = {name: [] for name, *_ in cases}
        for _ in range(args.repeats):
            for name, kind, path, src, _ in cases:
                runs[name].append(_run(kind, path, src, args.python))
    median = {name: {k: statistics.median(float(r[k]) for r in found) for k in ("cpu", "wall")} for name, found in runs.items()}  # type: ignore[arg-type]
    print(f"8 Dense layers (64x64), median of {args.repeats} fresh processes of {args.python}; load average {os.getloadavg()[0]:.2f}\n")
    print("| case | CPU ms | wall ms | CPU ratio | wall ratio | modules imported |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, *_, anchor in cases:
        cpu, wall = median[name]["cpu"], median[name]["wall"]
        ratio_cpu, ratio_wall = cpu / median[anchor]["cpu"], wall / median[anchor]["wall"]
        modules = len(runs[name][-1]["imported"])  # type: ignore[arg-type]
        print(f"| {name} | {cpu * 1e3:.2f} | {wall * 1e3:.2f} | {ratio_cpu:.0f}x | {ratio_wall:.0f}x | {modules} |")
    print("\nratios: against the safetensors row of the same kind (open alone, or import + open)")
    print("modules the kif open imports (this tree):", ", ".join(str(m) for m in runs["kif open (this tree)"][-1]["imported"]))  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    sys.exit(main())
