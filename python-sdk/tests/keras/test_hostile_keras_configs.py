"""Malformed Keras configs are ConversionErrors naming the place; the topology and op-node scans are linear;
huge declared tensors are refused before allocation (small RSS)."""

from __future__ import annotations

import copy
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kif.errors import KifError
from kif.keras import open_source
from kif.keras.convert import keras_to_model
from kif.keras.errors import ConversionError

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "keras" / "keras3" / "functional_multi_io" / "model.keras"
CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "hostile_keras"
SRC = Path(__file__).resolve().parents[2] / "src"
_DELETE = object()


@pytest.fixture(scope="module")
def source() -> Any:
    opened = open_source(FIXTURE)
    yield opened
    opened.close()


def _mutated(config: dict[str, Any], pointer: list[Any], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(config)
    target = out
    for key in pointer[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[pointer[-1]]
    else:
        target[pointer[-1]] = value
    return out


def _convert(source: Any, config: dict[str, Any]) -> Any:
    original = source.config
    source.config = config
    try:
        return keras_to_model(source)
    finally:
        source.config = original


L = ["config", "layers"]
HISTORY = [*L, 4, "inbound_nodes", 0, "args", 0, "config", "keras_history"]
MUTATIONS: dict[str, tuple[list[Any], Any, str]] = {
    # name: (pointer, new value, expected fragment of the message)
    "layers deleted": (L, _DELETE, "layers"),
    "layers a string": (L, "x", "layers to be an array"),
    "a layer a number": ([*L, 2], 7, "layer object"),
    "layer config null": ([*L, 2, "config"], None, "'config' to be an object"),
    "class_name a number": ([*L, 2, "class_name"], 7, "class_name"),
    "class_name unknown": ([*L, 2, "class_name"], "NoSuchLayer", "unknown layer class"),
    "inbound_nodes an object": ([*L, 4, "inbound_nodes"], {}, "inbound_nodes"),
    "call args a string": ([*L, 4, "inbound_nodes", 0, "args"], "x", "'args' to be an array"),
    "call kwargs a list": ([*L, 4, "inbound_nodes", 0, "kwargs"], [], "'kwargs' to be an object"),
    "history too short": (HISTORY, ["concatenate"], "tensor reference"),
    "history negative call": (HISTORY, ["concatenate", -1, 0], "tensor reference"),
    "history boolean index": (HISTORY, ["concatenate", True, 0], "tensor reference"),
    "history unknown layer": (HISTORY, ["ghost", 0, 0], "ghost"),
    "history missing call": (HISTORY, ["concatenate", 5, 0], "no call number 5"),
    "history self reference": (HISTORY, ["head_a", 0, 0], "cycle"),
    "keras_tensor config a list": ([*L, 4, "inbound_nodes", 0, "args", 0, "config"], [], "'config' to be an object"),
    "input_layers empty": (["config", "input_layers"], [], "non-empty array"),
    "output_layers unknown": (["config", "output_layers", 0, 0], "ghost", "ghost"),
    "output_layers a number": (["config", "output_layers"], 3, "tensor references"),
    "units a string": ([*L, 4, "config", "units"], "x", "units"),
    "units deleted": ([*L, 4, "config", "units"], _DELETE, "units"),
    "activation object junk": ([*L, 4, "config", "activation"], {"class_name": 7}, "activation"),
    "dtype policy junk": ([*L, 4, "config", "dtype"], {"config": 5}, "dtype"),
    "dtype a number": ([*L, 4, "config", "dtype"], 5, "dtype"),
    "name empty": ([*L, 4, "config", "name"], "", "non-empty string name"),
    "duplicate name": ([*L, 5, "config", "name"], "head_a", "unique layer names"),
    "batch_shape negative": ([*L, 0, "config", "batch_shape"], [None, -5], "batch_shape"),
    "batch_shape a string": ([*L, 0, "config", "batch_shape"], "8", "batch_shape"),
    "concatenate axis a string": ([*L, 3, "config", "axis"], "last", "axis"),
    "model class unknown": (["class_name"], "Subclassed", "Sequential or Functional"),
    "model config a string": (["config"], "x", "'config' to be an object"),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_malformed_config_is_a_conversion_error(name: str, source: Any) -> None:
    pointer, value, fragment = MUTATIONS[name]
    with pytest.raises(ConversionError) as caught:
        _convert(source, _mutated(source.config, pointer, value))
    assert fragment in caught.value.message or fragment in str(caught.value.pointer), str(caught.value)
    assert caught.value.code.startswith("convert-")


def _pointers(value: Any, path: list[Any]) -> list[list[Any]]:
    found = [path] if path else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _pointers(child, [*path, key])
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _pointers(child, [*path, index])
    return found


_JUNK = [_DELETE, None, 7, -1, 2**70, "x", "", [], {}, [[[]]], True, 1.5, {"class_name": "__keras_tensor__"}]


def test_seeded_mutation_sweep_gives_only_conversion_errors(source: Any) -> None:
    """400 seeded random (pointer, junk value) mutations of a real Keras 3 config: each converts or is a ConversionError."""
    rng = random.Random(9)
    pointers = _pointers(source.config, [])
    outcomes = {"converted": 0, "refused": 0}
    for _ in range(400):
        pointer, value = rng.choice(pointers), rng.choice(_JUNK)
        if value is _DELETE and isinstance(pointer[-1], int):
            value = None
        try:
            _convert(source, _mutated(source.config, pointer, value))
            outcomes["converted"] += 1
        except ConversionError:
            outcomes["refused"] += 1
        except KifError as exc:  # pragma: no cover - a failure message names the mutation
            pytest.fail(f"{pointer}={value!r}: {type(exc).__name__} instead of ConversionError: {exc}")
    assert outcomes["refused"] > 100 and outcomes["converted"] > 10, outcomes


# ---------------------------------------------------------------- linear scans over many op nodes


def _op_chain(count: int) -> dict[str, Any]:
    """A Keras 3 functional config: input → count alternating ExpandDims(-1)/Squeeze(-1) keras.ops nodes."""

    def ref(name: str) -> dict[str, Any]:
        return {"class_name": "__keras_tensor__", "config": {"keras_history": [name, 0, 0]}}

    layers = [
        {
            "module": "keras.layers",
            "class_name": "InputLayer",
            "name": "x",
            "config": {"batch_shape": [None, 4], "name": "x"},
            "inbound_nodes": [],
        }
    ]
    previous = "x"
    for index in range(count):
        op = "ExpandDims" if index % 2 == 0 else "Squeeze"
        name = f"op{index}"
        layers.append(
            {
                "module": "keras.src.ops.numpy",
                "class_name": op,
                "name": name,
                "config": {"name": name, "axis": -1},
                "inbound_nodes": [{"args": [ref(previous)], "kwargs": {}}],
            }
        )
        previous = name
    return {
        "class_name": "Functional",
        "config": {"name": "ops", "layers": layers, "input_layers": [["x", 0, 0]], "output_layers": [[previous, 0, 0]]},
    }


def test_twenty_thousand_op_nodes_convert_with_linear_shape_inference(source: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import kif.shapes

    inferred: list[int] = []
    real = kif.shapes.infer

    def counting(inputs: Any, layers: Any, *args: Any, **kwargs: Any) -> Any:
        inferred.append(len(layers))
        return real(inputs, layers, *args, **kwargs)

    monkeypatch.setattr(kif.shapes, "infer", counting)
    model = _convert(source, _op_chain(20_000))  # a recursive topology walk would hit RecursionError at ~1,000
    assert len(model.layers) == 20_000 and {layer.type for layer in model.layers} == {"Reshape"}
    assert model.outputs[0].shape == (None, 4)
    # Each layer is shape-inferred once while mapping and once at the end: 2n, where a re-inference per op was n^2/2.
    assert sum(inferred) <= 2 * 20_000 + 10, sum(inferred)


# ---------------------------------------------------------------- allocation guards: small RSS


# The child's peak RSS is VmHWM of its own address space: getrusage's ru_maxrss survives fork + exec on Linux,
# so a child of a pytest holding 500 MB would report the parent's peak, not its own.
_RSS = """
import re, sys
from kif.cli import main
codes = [main(["convert", path, sys.argv[-1] + f"/out{i}.kif"]) for i, path in enumerate(sys.argv[1:-1])]
status = open("/proc/self/status").read()
print(codes, re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1))
"""


def test_huge_declared_tensors_are_refused_with_small_rss(tmp_path: Path) -> None:
    cases = [CORPUS / "h5_huge_kernel.h5", CORPUS / "h5_normalization_broadcast.h5"]  # 40 GB kernel; 40 GB broadcast statistics
    result = subprocess.run(
        [sys.executable, "-c", _RSS, *map(str, cases), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
    )
    codes, rss_kib = result.stdout.rsplit(" ", 1)
    assert json.loads(codes) == [1, 1], result.stderr
    assert result.stderr.count("[convert-too-large]") == 2, result.stderr
    assert "40,000,000,000 bytes" in result.stderr
    assert int(rss_kib) < 200 * 1024, f"peak RSS {int(rss_kib) // 1024} MiB"
