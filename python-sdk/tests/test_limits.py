"""kif.limits and spec/limits.md agree: every field documented with its default and variable, and nothing else.

Also: environment variables and override() change what the readers refuse, and restore it.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kif
from kif.limits import Limits

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "spec" / "limits.md"


def _table() -> dict[str, tuple[str, str, str]]:
    """limit name -> (default text, environment variable, code text), from the resource-limits table."""
    section = PAGE.read_text(encoding="utf-8").split("## Resource limits", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    out = {}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split(" | ")]
        out[cells[0].strip("`")] = (cells[1], cells[2].strip("`"), cells[4])
    return out


def _value(text: str) -> int:
    """'4 GiB', '2^31', '1,000,000', '2 x 10^11' -> int."""
    text = text.replace(",", "")
    units = {"KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4}
    if match := re.fullmatch(r"(\d+) (KiB|MiB|GiB|TiB)", text):
        return int(match.group(1)) * units[match.group(2)]
    if match := re.fullmatch(r"(\d+)\^(\d+)", text):
        return int(match.group(1)) ** int(match.group(2))
    if match := re.fullmatch(r"(\d+) x (\d+)\^(\d+)", text):
        return int(match.group(1)) * int(match.group(2)) ** int(match.group(3))
    return int(text)


def test_every_limit_is_documented_and_nothing_else() -> None:
    fields = {f.name: f.default for f in dataclasses.fields(Limits)}
    table = _table()
    assert sorted(table) == sorted(fields)
    for name, (default, variable, code) in table.items():
        assert _value(default) == fields[name], name
        assert variable == f"KIF_{name.upper()}", name
        assert "`" in code, f"{name}: the error code column names a code"


def test_documented_codes_exist() -> None:
    from kif import codes

    text = PAGE.read_text(encoding="utf-8")
    for code in set(re.findall(r"`([a-z]+(?:-[a-z]+)+)`", text)) - {"run-inputs"}:
        if not code.startswith("convert-"):
            assert code in codes.CODES, code


def test_kif_limits_is_reachable_after_import_kif() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import kif, sys; print(kif.limits.current().max_nesting_depth, 'numpy' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == ["64", "False"]


def test_override_applies_and_restores() -> None:
    before = kif.limits.current()
    with kif.limits.override(max_layer_inputs=3) as inside:
        assert inside.max_layer_inputs == 3 and kif.limits.current().max_layer_inputs == 3
    assert kif.limits.current() == before
    with pytest.raises(kif.KifError) as caught, kif.limits.override(max_layer_input=3):
        pass
    assert caught.value.code == "usage"


def _concat_model(n: int) -> kif.Model:
    b = kif.GraphBuilder("fan")
    x = b.input("x", "float32", (None, 2))
    b.output(b.add("Concatenate", [x] * n, name="cat", axis=-1))
    return b.build()


def test_override_changes_what_the_runtime_refuses() -> None:
    model = _concat_model(5)
    x = np.ones((1, 2), "float32")
    assert kif.run(model, x)["cat"].shape == (1, 10)
    with kif.limits.override(max_layer_inputs=4), pytest.raises(kif.KifError) as caught:
        kif.run(model, x)
    assert caught.value.code == "limit-exceeded" and "'cat'" in caught.value.message and "max_layer_inputs" in caught.value.message
    with kif.limits.override(max_tensor_bytes=39), pytest.raises(kif.KifError) as caught:
        kif.run(model, x)  # the output is 10 float32 = 40 bytes
    assert caught.value.code == "limit-exceeded" and "40 B" in caught.value.message


def test_environment_variable_sets_a_limit(tmp_path: Path) -> None:
    path = kif.save(_concat_model(2), tmp_path / "m.kif")
    code = f"import kif, numpy as np; kif.run({str(path)!r}, np.ones((1, 2), 'float32'))"
    env = {**os.environ, "KIF_MAX_TENSOR_BYTES": "8B"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert done.returncode != 0 and "limit-exceeded" in done.stderr
    env["KIF_MAX_TENSOR_BYTES"] = "1KiB"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, env=env, check=False).returncode == 0
    env["KIF_MAX_TENSOR_BYTES"] = "lots"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert "KIF_MAX_TENSOR_BYTES" in done.stderr and "[usage]" in done.stderr


def test_header_and_document_limits_come_from_the_table(tmp_path: Path) -> None:
    b = kif.GraphBuilder("tiny")
    x = b.input("x", "float32", (None, 2))
    b.output(b.add("Dense", x, name="dense", units=2, weights={"kernel": np.eye(2, dtype="float32"), "bias": np.zeros(2, "float32")}))
    path = kif.save(b.build(), tmp_path / "m.kif")
    assert kif.validate(path).ok
    with kif.limits.override(max_header_bytes=4):
        assert "weights-header-too-large" in kif.validate(path).codes()
    with kif.limits.override(max_document_bytes=10):
        assert "document-too-large" in kif.validate(path).codes()
    with kif.limits.override(max_nesting_depth=2):
        assert "document-invalid-json" in kif.validate(path).codes()  # model.json nests deeper than 2
