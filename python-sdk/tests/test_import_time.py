"""Start-up stays light: ``import kif`` and the CLI's start (``--version``, every ``--help``) import no heavy module.

No wall-clock assertion (benchmarks/startup.py measures the times): the test checks *which* modules a fresh
interpreter has imported, which is what the time depends on. ml_dtypes alone costs about 0.5 s to import.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kif.cli import build_parser

HEAVY = ("ml_dtypes", "jsonschema", "referencing", "safetensors", "h5py", "torch", "onnx", "onnxruntime", "keras", "tensorflow")
PROBE = """
import json, sys
{body}
print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))
"""


def _imported(body: str) -> set[str]:
    result = subprocess.run([sys.executable, "-c", PROBE.format(body=body)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def _cli(*argv: str) -> str:
    quiet = "contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit)"
    return f"import contextlib, io\nfrom kif.cli import main\nwith {quiet}:\n    main({list(argv)!r})"


def test_import_kif_imports_neither_numpy_nor_anything_heavy() -> None:
    loaded = _imported("import kif")
    assert not loaded & {*HEAVY, "numpy"}, loaded & {*HEAVY, "numpy"}


def test_public_names_resolve_lazily_to_the_real_objects() -> None:
    import kif
    from kif.builder import GraphBuilder
    from kif.bundle.reader import load
    from kif.bundle.writer import save
    from kif.graph import Model

    assert (kif.GraphBuilder, kif.load, kif.save, kif.Model) == (GraphBuilder, load, save, Model)
    assert set(kif.__all__) <= set(dir(kif))
    assert callable(kif.validate) and kif.validate.__module__ == "kif.validate"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = kif.nope  # type: ignore[attr-defined]


SUBCOMMANDS = sorted(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]


@pytest.mark.parametrize("argv", [["--version"], ["--help"], *([c, "--help"] for c in SUBCOMMANDS)], ids=" ".join)
def test_cli_start_imports_nothing_heavy(argv: list[str]) -> None:
    loaded = _imported(_cli(*argv))
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_bfloat16_support_still_loads_ml_dtypes_when_needed() -> None:
    loaded = _imported("from kif.dtypes import by_name\nassert str(by_name('bfloat16').numpy) == 'bfloat16'")
    assert "ml_dtypes" in loaded


def test_startup_benchmark_prints_every_case() -> None:
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "startup.py"
    done = subprocess.run([sys.executable, str(script), "--repeats", "1"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = {line.split("|")[1].strip() for line in done.stdout.splitlines() if line.startswith("| ")}
    assert {"import kif", "import safetensors", "import onnx", "python -m kif.cli --version", "python -m kif.cli validate --help"} <= rows
