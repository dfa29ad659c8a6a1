"""Which digest for per-tensor integrity (spec/integrity.md): SHA-256 from the standard library against BLAKE3.

Hashes the same buffers in one run, on 1 thread and on every core (tensors hashed in parallel, as
``kif validate`` does), and prints GB/s with the ratio to SHA-256 on 1 thread. ``blake3`` is not a KIF
dependency: install it (``pip install blake3``) to see its row; without it only SHA-256 is measured.

    python benchmarks/hash.py                  # 8 tensors of 64 MiB, 3 runs, median
    python benchmarks/hash.py --size-mb 64 --tensors 4 --repeats 1   # quick
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np


def _hashers() -> dict[str, Callable[[memoryview], str]]:
    found: dict[str, Callable[[memoryview], str]] = {"sha256 (hashlib)": lambda b: hashlib.sha256(b).hexdigest()}
    try:
        import blake3  # type: ignore[import-not-found]
    except ImportError:
        return found
    found["blake3 (1 thread per tensor)"] = lambda b: blake3.blake3(b).hexdigest()
    found["blake3 (its own threads)"] = lambda b: blake3.blake3(b, max_threads=blake3.blake3.AUTO).hexdigest()
    return found


def _time(hasher: Callable[[memoryview], str], buffers: list[memoryview], threads: int, repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        if threads == 1:
            for b in buffers:
                hasher(b)
        else:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(hasher, buffers))
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=64, help="MiB per tensor")
    parser.add_argument("--tensors", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    buffers = [memoryview(rng.bytes(args.size_mb << 20)) for _ in range(args.tensors)]
    total = sum(b.nbytes for b in buffers) / 1e9
    cores = os.cpu_count() or 1
    print(f"{args.tensors} tensors x {args.size_mb} MiB = {total:.2f} GB, {cores} cores, median of {args.repeats}\n")
    print("| digest | threads | GB/s | vs sha256 1 thread |\n|---|---|---|---|")
    base = None
    for name, hasher in _hashers().items():
        for threads in (1, cores) if "own threads" not in name else (1,):
            rate = total / _time(hasher, buffers, threads, args.repeats)
            base = base or rate
            print(f"| {name} | {threads} | {rate:.2f} | {rate / base:.2f}x |")


if __name__ == "__main__":
    main()
