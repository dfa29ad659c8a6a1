"""Fresh-process lazy open with integrity on: the first ``kif.load`` of an 8-Dense bundle against safetensors ``safe_open``.

Each measurement is a new interpreter that imports ``kif`` and ``numpy`` (or ``safetensors`` and ``numpy``) first
and times the open call alone: process CPU time and wall time, no tensor read. Cases run round-robin ``--repeats``
times so that drift on a shared machine hits each alike; the table gives medians and the ratio to ``safe_open``.
Bytecode is written and used (``PYTHONDONTWRITEBYTECODE`` is removed for the children), as in an installed package.

    python benchmarks/open.py                                  # 21 runs per case
    python benchmarks/open.py --src OLD/python-sdk/src         # also the same open with another source tree
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

SRC = Path(__file__).resolve().parents[1] / "python-sdk" / "src"

_CHILD = """
import sys, time, json
kind, path = sys.argv[1], sys.argv[2]
import numpy
if kind == "kif":
    import kif
    before = set(sys.modules)
    c, t = time.process_time(), time.perf_counter()
    kif.load(path)
else:
    from safetensors import safe_open
    before = set(sys.modules)
    c, t = time.process_time(), time.perf_counter()
    with safe_open(path, "np") as f:
        list(f.keys())
wall, cpu = time.perf_counter() - t, time.process_time() - c
print(json.dumps({"cpu": cpu, "wall": wall, "imported": sorted(set(sys.modules) - before)}))
"""


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


def _run(kind: str, path: Path, src: Path) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(src)
    done = subprocess.run([sys.executable, "-c", _CHILD, kind, str(path)], env=env, check=True, capture_output=True, text=True)
    result: dict[str, object] = json.loads(done.stdout)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--src", type=Path, help="another python-sdk/src to measure the same open with")
    args = parser.parse_args()
    trees = {"kif": SRC} | ({"kif (--src)": args.src} if args.src else {})
    with tempfile.TemporaryDirectory() as tmp:
        bundle, flat = _prepare(Path(tmp))
        cases = [(name, "kif", bundle, src) for name, src in trees.items()] + [("safetensors safe_open", "st", flat, SRC)]
        for _, kind, path, src in cases:
            _run(kind, path, src)  # warm-up: bytecode written, files in the page cache
        runs: dict[str, list[dict[str, object]]] = {name: [] for name, *_ in cases}
        for _ in range(args.repeats):
            for name, kind, path, src in cases:
                runs[name].append(_run(kind, path, src))
    anchor = {k: statistics.median(float(r[k]) for r in runs["safetensors safe_open"]) for k in ("cpu", "wall")}  # type: ignore[arg-type]
    print(f"8 Dense layers (64x64), median of {args.repeats} fresh processes; load average {os.getloadavg()[0]:.2f}\n")
    print("| open | CPU ms | wall ms | CPU ratio | wall ratio | modules imported by the open |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, found in runs.items():
        cpu = statistics.median(float(r["cpu"]) for r in found)  # type: ignore[arg-type]
        wall = statistics.median(float(r["wall"]) for r in found)  # type: ignore[arg-type]
        modules = len(found[-1]["imported"])  # type: ignore[arg-type]
        print(f"| {name} | {cpu * 1e3:.2f} | {wall * 1e3:.2f} | {cpu / anchor['cpu']:.0f}x | {wall / anchor['wall']:.0f}x | {modules} |")
    print("\nmodules the kif open imports:", ", ".join(str(m) for m in runs["kif"][-1]["imported"]))  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    sys.exit(main())
