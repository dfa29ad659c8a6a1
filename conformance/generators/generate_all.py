"""Rebuild the whole suite: every positive-case group and the negative corpus, in parallel processes.

``python conformance/generators/generate_all.py`` (then ``kif conformance check``).
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
GROUPS = sorted(p.stem for p in HERE.glob("*.py") if not p.stem.startswith("_") and p.stem != "generate_all")


def run(stem: str) -> tuple[str, int, str]:
    done = subprocess.run([sys.executable, "-W", "ignore", str(HERE / f"{stem}.py")], capture_output=True, text=True, check=False)
    return stem, done.returncode, (done.stdout + done.stderr).strip().splitlines()[-1:][0] if (done.stdout + done.stderr).strip() else ""


def main() -> int:
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run, GROUPS))
    for stem, code, last in results:
        print(f"{stem:<22} {'ok' if code == 0 else f'FAILED ({code})'}  {last}")
    return max(code for _, code, _ in results)


if __name__ == "__main__":
    sys.exit(main())
