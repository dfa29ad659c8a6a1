"""The save row of benchmarks/speed.py for two source trees, interleaved in one run (a busy machine's drift hits both).

    python benchmarks/save_ab.py --trees /work/main/python-sdk/src,python-sdk/src --size-mb 1024 --repeats 9

Each repeat runs ``torch.save`` (then fsync), ``kif.save`` as a directory and as a ``.kif`` archive in a fresh
process (``_speed_child.py``) for the first tree, then the same for the next; the medians of wall and process CPU
seconds are printed per tree, with the archive's ratio to ``torch.save`` and to the directory form.
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
KINDS = ["save-torch", "save-kif-dir", "save-kif"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trees", required=True, help="comma-separated PYTHONPATH entries (each a python-sdk/src)")
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--workdir", help="parent of the temporary directory")
    args = parser.parse_args()
    trees = [str(Path(t).resolve()) for t in args.trees.split(",")]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # as speed.py: bytecode cached
    found: dict[tuple[str, str], list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="kif-save-ab-", dir=args.workdir) as tmp:
        width = int((args.size_mb * 2**20 / 8 / 4) ** 0.5)  # speed.py's 8 Dense layers
        shapes = {}
        for i in range(8):
            shapes[f"d{i}/kernel"], shapes[f"d{i}/bias"] = [width, width], [width]
        (Path(tmp) / "arrays.json").write_text(json.dumps(shapes))
        for _ in range(args.repeats):
            for tree in trees:
                for kind in KINDS:
                    child = [sys.executable, "-W", "ignore", str(HERE / "_speed_child.py"), kind, tmp]
                    done = subprocess.run(child, capture_output=True, text=True, check=False, env=dict(env, PYTHONPATH=tree))
                    if done.returncode != 0:
                        raise SystemExit(f"{kind} with {tree} failed:\n{done.stderr[-2000:]}")
                    found.setdefault((tree, kind), []).append(json.loads(done.stdout.strip().splitlines()[-1]))
    load = os.getloadavg()[0]
    print(f"{args.size_mb} MiB in 8 float32 tensors; {os.cpu_count()} CPUs, load average {load:.2f}; median of {args.repeats}")
    print("\n| tree | torch.save wall / CPU | directory wall / CPU | archive wall / CPU | archive / torch.save | archive / directory |")
    print("|---|---:|---:|---:|---:|---:|")
    for tree in trees:
        wall = {k: statistics.median(r["seconds"] for r in found[(tree, k)]) for k in KINDS}
        cpu = {k: statistics.median(r["cpu_seconds"] for r in found[(tree, k)]) for k in KINDS}
        cells = [f"{wall[k]:.3f} / {cpu[k]:.3f} s" for k in KINDS]
        ratios = f"{wall['save-kif'] / wall['save-torch']:.2f}x | {wall['save-kif'] / wall['save-kif-dir']:.2f}x"
        print(f"| {tree} | {' | '.join(cells)} | {ratios} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
