"""Hypothesis strategies and settings shared by the in-suite fuzz tests.

Every test here is seeded (``derandomize``), bounded (``max_examples``) and writes no
example database into the repository; the long-running fuzzer is benchmarks/fuzz.py.
"""

from __future__ import annotations

import io
import json
import warnings
import zipfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[3]
CASES = ROOT / "conformance" / "cases"
KERAS = ROOT / "python-sdk" / "tests" / "fixtures" / "keras"

# a few small, varied seed bundles (one layer each, plus a whole model)
SEED_CASES = [
    "layers_core/activation-elu",
    "layers_conv/conv1d-channels-first",
    "layers_reshaping/reshape-minus-one",
    "layers_reshaping/repeatvector",
    "layers_reshaping/upsampling2d-nearest",
    "layers_merge/concatenate-axis-1-2",
    "layers_pooling/globalmaxpooling1d-default",
    "models/mlp",
]


def fuzz_settings(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


def seed_bundles() -> dict[str, bytes]:
    return {case: (CASES / case / "model.kif").read_bytes() for case in SEED_CASES}


def members(blob: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def write_zip(items: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(out, "w") as archive:
        warnings.simplefilter("ignore")  # duplicate names are one of the things written on purpose
        for name, body in items:
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), body)
    return out.getvalue()


surrogates = st.sampled_from(["\ud800", "a\udfff", "\udc80x"])
texts = st.text(max_size=12) | surrogates | st.sampled_from(["", "model.json", "../x", "a/b", "name\n", "float32", "Dense"])
huge_ints = st.sampled_from([2**31, 2**32, 2**53 + 1, 2**63, 2**64 - 1, 2**64, -(2**63) - 1, 10**30])
leaves = st.none() | st.booleans() | st.integers(-5, 70) | huge_ints | st.floats(allow_nan=False, allow_infinity=False) | texts
json_values = st.recursive(
    leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4), max_leaves=12
)


def slots(node: Any, out: list[tuple[Any, Any]] | None = None) -> list[tuple[Any, Any]]:
    """Every (container, key) of a JSON document, in document order."""
    out = [] if out is None else out
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        out.append((node, key))
        slots(value, out)
    return out


@st.composite
def mutated_document(draw: st.DrawFn, doc: dict[str, Any]) -> bytes:
    """One to three edits of the document: replace a node with any JSON value, or delete it."""
    doc = json.loads(json.dumps(doc))
    for _ in range(draw(st.integers(1, 3))):
        places = slots(doc)
        if not places:
            break
        parent, key = places[draw(st.integers(0, len(places) - 1))]
        if draw(st.booleans()):
            parent[key] = draw(json_values)
        else:
            del parent[key]
    return json.dumps(doc).encode()


@st.composite
def mutated_bytes(draw: st.DrawFn, blob: bytes) -> bytes:
    """Overwrite, insert or delete a few short runs of bytes, or truncate."""
    data = bytearray(blob)
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["overwrite", "insert", "delete", "truncate"]))
        chunk = draw(st.binary(min_size=1, max_size=8))
        if op == "overwrite":
            data[at : at + len(chunk)] = chunk
        elif op == "insert":
            data[at:at] = chunk
        elif op == "delete":
            del data[at : at + len(chunk)]
        else:
            del data[at:]
    return bytes(data)
