"""The long-running fuzzer (benchmarks/fuzz.py) counts what it claims: uncaught exceptions, hangs, crashes.

Toy targets stand in for the SDK so that each kind of failure happens on a known input;
one brief real run checks the report table end to end.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

import kif.errors  # noqa: F401 -- imported before the workers fork, so no input pays for the import

BENCHMARKS = Path(__file__).resolve().parents[3] / "benchmarks"


@pytest.fixture(scope="module")
def fuzz() -> ModuleType:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        return importlib.import_module("fuzz")
    finally:
        sys.path.remove(str(BENCHMARKS))


INDEX: dict[str, int] = {}  # the toy input's content -> its index (filled before the workers fork)


def _misbehave(root: Path) -> None:
    """Input 1 hangs, 3 raises a non-kif error, 5 kills the worker, 7 raises a KifError (expected)."""
    from kif.errors import KifError

    index = INDEX[(root / "i").read_text()]
    if index == 1:
        time.sleep(60)
    if index == 3:
        raise ValueError("boom")
    if index == 5:
        os._exit(9)
    if index == 7:
        raise KifError("refused", code="x")


def test_harness_counts_hangs_crashes_and_uncaught_errors(fuzz: ModuleType, tmp_path: Path) -> None:
    INDEX.update({repr(fuzz.rng_for(0, "toy", i).random()): i for i in range(9)})
    fuzz.TARGETS["toy"] = fuzz.ft.Target("toy", lambda rng: {"i": repr(rng.random()).encode()}, _misbehave)
    try:
        # 3 s per input: the hang sleeps 60 s, the others take microseconds even on a loaded machine
        result = fuzz.run_target("toy", 9, 0, 3.0, tmp_path, 2**31)
    finally:
        del fuzz.TARGETS["toy"]
    assert result["hangs"] == [1]
    assert result["crashes"] == [5]
    assert list(result["failures"]) == ["ValueError @ test_fuzz_harness.py:_misbehave"]
    saved = sorted(p.name for p in (tmp_path / "failures").iterdir())
    assert len(saved) == 3 and any("Hang" in s for s in saved) and any("Crash" in s for s in saved)


def test_signature_names_the_innermost_kif_frame(fuzz: ModuleType) -> None:
    from kif.limits import parse_size

    with pytest.raises(TypeError) as caught:
        parse_size(5)  # type: ignore[arg-type]
    assert fuzz.signature(caught.value) == "TypeError @ kif/limits.py:parse_size"


def test_brief_run_prints_the_results_table(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "fuzz.py"), "--inputs", "container=150,json=150,safetensors=150,npz=150", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    header = next(line for line in done.stdout.splitlines() if line.startswith("| target |"))
    assert [c.strip() for c in header.strip("|").split("|")] == [
        "target", "inputs", "seconds", "inputs/s", "uncaught", "distinct signatures", "hangs", "crashes",
    ]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ") and line != header and "---" not in line]
    assert [r.split("|")[1].strip() for r in rows] == ["container", "json", "safetensors", "npz"]
