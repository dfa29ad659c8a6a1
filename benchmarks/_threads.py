"""--threads must reach the BLAS/OpenMP variables before NumPy or torch load (their thread count is read once, at load
time), so the benchmarks call this first, from a module that imports nothing heavy."""

from __future__ import annotations

import os


def pin_threads(argv: list[str]) -> int:
    threads = 1
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            threads = int(argv[i + 1])
        elif arg.startswith("--threads="):
            threads = int(arg.split("=", 1)[1])
    if threads > 0:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(threads)
    return threads
