"""Without an optional framework, its importer fails with one line naming the exact install command.

Absence is simulated in a subprocess: ``sys.modules[name] = None`` makes ``import name`` raise ModuleNotFoundError,
exactly as an uninstalled package does.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import kif

BLOCK = "import sys\nfor _name in {names!r}:\n    sys.modules[_name] = None\n"


def _bundle(tmp_path: Path) -> Path:
    b = kif.GraphBuilder("tiny")
    x = b.input("x", "float32", (None, 2))
    b.output(b.add("Dense", x, units=1, weights={"kernel": np.ones((2, 1), "float32"), "bias": np.zeros(1, "float32")}))
    return kif.save(b.build(), tmp_path / "tiny.kif")


def _python(code: str, *names: str) -> subprocess.CompletedProcess[str]:
    script = BLOCK.format(names=list(names)) + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)


API_CASES = [
    ("torch", "import kif.torch", ["torch"], "kif-format[torch]"),
    ("onnx", "import kif.onnx", ["onnx"], "kif-format[onnx]"),
    ("onnxruntime", "import kif.onnx\nkif.onnx.conformance_backend.load({bundle!r})", ["onnxruntime"], "kif-format[onnx]"),
    ("keras-to_keras", "import kif.keras\nkif.keras.to_keras({bundle!r})", ["keras"], "kif-format[keras]"),
    ("keras-export", "import kif.keras\nkif.keras.export(object(), 'x.kif')", ["keras"], "kif-format[keras]"),
]


@pytest.mark.parametrize(("case", "code", "blocked", "extra"), API_CASES, ids=[c[0] for c in API_CASES])
def test_api_names_the_install_command(case: str, code: str, blocked: list[str], extra: str, tmp_path: Path) -> None:
    script = code.format(bundle=str(_bundle(tmp_path)))
    wrapped = f"try:\n{textwrap.indent(script, '    ')}\nexcept ImportError as exc:\n    print(type(exc).__name__, exc.code, exc)\n"
    result = _python(wrapped, *blocked)
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert line.startswith("MissingDependencyError dependency-missing"), line
    assert f'pip install "{extra}"' in line and "\n" not in line
    assert blocked[0] in line, "the message names the missing package"


def test_kif_package_and_converter_need_no_framework(tmp_path: Path) -> None:
    # The main job (a Keras file to KIF, validated and run) works with none of the optional frameworks.
    example = Path(__file__).resolve().parents[1] / "examples" / "cnn_tfkeras.h5"
    code = f"""
    import kif, kif.keras
    target = kif.keras.convert({str(example)!r}, {str(tmp_path / "cnn.kif")!r})
    assert kif.validate(target).ok
    print(sorted(n for n in ("torch", "onnx", "onnxruntime", "keras", "tensorflow") if sys.modules.get(n)))
    """
    result = _python(code, "torch", "onnx", "onnxruntime", "keras", "tensorflow")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_cli_onnx_export_without_onnx_is_one_line(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path)
    code = f"""
    from kif.cli import main
    raise SystemExit(main(["convert", {str(bundle)!r}, {str(tmp_path / "m.onnx")!r}]))
    """
    result = _python(code, "onnx")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and 'pip install "kif-format[onnx]"' in lines[0], result.stderr
    assert not (tmp_path / "m.onnx").exists()
