"""Start-up time: ``import kif`` and the ``kif`` command against ``import safetensors`` and ``import onnx``, in one run.

Every case is a fresh interpreter (``subprocess``), run ``--repeats`` times round-robin so that drift on a shared
machine hits every case alike; the table gives the median wall time of the whole process, the same net of a bare
``python -c pass``, and for the import cases the time of the ``import`` statement alone, measured inside the child.
Ratios are against ``import safetensors`` (a small native package) and ``import onnx``.

    python benchmarks/startup.py                      # 15 runs per case, ~30 s
    python benchmarks/startup.py --src OLD/python-sdk/src   # the same cases against another source tree
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

# The targets of issue #10 on this machine: `import kif` <= 0.15 s, any CLI start <= 0.3 s.
IMPORT_TARGET, CLI_TARGET = 0.15, 0.30
TIMED_IMPORT = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


@dataclass
class Case:
    name: str
    argv: list[str]
    target: float | None = None
    in_process: bool = False  # the child prints the time of its import statement
    wall: list[float] = field(default_factory=list)
    inner: list[float] = field(default_factory=list)


def cases(python: str, kif_script: str | None) -> list[Case]:
    def imp(module: str, target: float | None = None) -> Case:
        return Case(f"import {module}", [python, "-c", TIMED_IMPORT.format(module=module)], target, in_process=True)

    found = [
        Case("python -c pass", [python, "-c", "pass"]),
        imp("kif", IMPORT_TARGET),
        imp("numpy"),
        imp("safetensors"),
        imp("safetensors.numpy"),  # what reading arrays with safetensors takes (it brings NumPy)
        imp("onnx"),
        Case("python -m kif.cli --version", [python, "-m", "kif.cli", "--version"], CLI_TARGET),
        Case("python -m kif.cli validate --help", [python, "-m", "kif.cli", "validate", "--help"], CLI_TARGET),
        Case("python -m kif.cli convert --help", [python, "-m", "kif.cli", "convert", "--help"], CLI_TARGET),
    ]
    if kif_script:  # the console script users run (absent when measuring another source tree)
        found += [
            Case("kif --version", [kif_script, "--version"], CLI_TARGET),
            Case("kif run --help", [kif_script, "run", "--help"], CLI_TARGET),
        ]
    return found


def measure(all_cases: list[Case], repeats: int, env: dict[str, str]) -> None:
    for case in all_cases:  # one warm-up each: the first run pays for reading .pyc files from disk
        subprocess.run(case.argv, capture_output=True, check=True, env=env)
    for _ in range(repeats):
        for case in all_cases:
            start = time.perf_counter()
            done = subprocess.run(case.argv, capture_output=True, text=True, check=True, env=env)
            case.wall.append(time.perf_counter() - start)
            if case.in_process:
                case.inner.append(float(done.stdout.strip().splitlines()[-1]))


def table(all_cases: list[Case]) -> list[str]:
    by_name = {c.name: c for c in all_cases}
    base = statistics.median(by_name["python -c pass"].wall)
    anchors = {name: statistics.median(by_name[name].inner) for name in ("import safetensors", "import onnx")}
    lines = [
        "| case | process s | net of python s | import stmt s | ÷ safetensors | ÷ onnx | target s | within |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for case in all_cases:
        wall = statistics.median(case.wall)
        # Ratios compare like with like: an import statement with the anchors' import statements, a whole command
        # (net of the interpreter) with the anchors' processes net of the interpreter.
        own = statistics.median(case.inner) if case.inner else wall - base
        if not case.inner:
            anchors_net = {n: statistics.median(by_name[n].wall) - base for n in anchors}
        ratio = [own / (anchors[n] if case.inner else anchors_net[n]) for n in anchors]
        measured = own if case.in_process else wall
        within = "" if case.target is None else ("yes" if measured <= case.target else "NO")
        cells = [
            case.name,
            f"{wall:.3f}",
            f"{wall - base:.3f}",
            f"{own:.3f}" if case.inner else "",
            *(f"{r:.2f}" if case.name != "python -c pass" else "" for r in ratio),
            "" if case.target is None else f"{case.target:.2f}",
            within,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15, help="runs per case (median reported), default 15")
    parser.add_argument("--src", help="measure the kif package in this source directory (PYTHONPATH) instead of the installed one")
    args = parser.parse_args(argv)
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    if args.src:
        env["PYTHONPATH"] = args.src
    kif_script = None if args.src else shutil.which("kif")
    all_cases = cases(sys.executable, kif_script)
    load = os.getloadavg()[0]
    measure(all_cases, args.repeats, env)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load:.2f} before / {os.getloadavg()[0]:.2f} after")
    print(f"kif from: {args.src or 'the installed package'}; median of {args.repeats} fresh processes per case")
    print("process s: wall time of the whole child; import stmt s: the import statement alone, timed inside the child")
    print("÷ columns: import rows divide import statements, command rows divide process times net of `python -c pass`")
    print("target: import rows are judged on the import statement, command rows on the whole process\n")
    print("\n".join(table(all_cases)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
