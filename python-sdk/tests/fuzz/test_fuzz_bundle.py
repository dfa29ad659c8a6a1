"""Seeded property tests over the bundle reader, validator and runtime (a few seconds in all).

The property throughout: whatever the bytes, ``kif.validate`` returns a report (it never
raises), and ``kif.load`` / ``kif.run`` either succeed or raise one ``KifError``.
benchmarks/fuzz.py runs the same idea for millions of inputs.
"""

from __future__ import annotations

import json
import struct
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import kif
from kif.bundle.safetensors_io import parse_header
from kif.errors import KifError

from .strategies import fuzz_settings, json_values, members, mutated_bytes, mutated_document, seed_bundles, texts, write_zip

SEEDS = seed_bundles()
NAMES = sorted(SEEDS)
LEVELS = ("structure", "full", "numeric")


def _load_and_run(path: Path) -> None:
    try:
        model = kif.load(path)
    except KifError:
        return
    arrays = {}
    for spec in model.inputs:
        shape = [2 if d is None else d for d in spec.shape]
        arrays[spec.name] = np.ones(shape, dtype=np.float32 if spec.dtype == "bfloat16" else spec.dtype)
    try:
        outputs = kif.run(model, arrays)
    except KifError:
        return
    assert set(outputs) == {spec.name for spec in model.outputs}


@given(name=st.sampled_from(NAMES), data=st.data(), level=st.sampled_from(LEVELS))
@fuzz_settings(60)
def test_mutated_archive_bytes_give_a_report_or_a_kif_error(name: str, data: st.DataObject, level: str) -> None:
    blob = data.draw(mutated_bytes(SEEDS[name]))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.kif"
        path.write_bytes(blob)
        report = kif.validate(path, level=level)
        assert report.ok or report.errors
        _load_and_run(path)


@given(name=st.sampled_from(NAMES), data=st.data(), level=st.sampled_from(LEVELS))
@fuzz_settings(60)
def test_mutated_model_json_gives_a_report_or_a_kif_error(name: str, data: st.DataObject, level: str) -> None:
    files = members(SEEDS[name])
    files["model.json"] = data.draw(mutated_document(json.loads(files["model.json"])))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "bundle"
        root.mkdir()
        for member, body in files.items():
            (root / member).write_bytes(body)
        kif.validate(root, level=level)
        _load_and_run(root)


@given(extra=st.lists(st.tuples(texts, st.binary(max_size=16)), min_size=1, max_size=3))
@fuzz_settings(40)
def test_any_member_names_give_a_report(extra: list[tuple[str, bytes]]) -> None:
    items = list(members(SEEDS[NAMES[0]]).items())
    named = [(n, b) for n, b in extra if n and "\x00" not in n]
    try:
        blob = write_zip(items + named)
    except (UnicodeEncodeError, ValueError):  # zipfile itself cannot write the name
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.kif"
        path.write_bytes(blob)
        report = kif.validate(path)
        if any(".." in n.split("/") or n.startswith("/") or "\\" in n or "\n" in n for n, _ in named):
            assert not report.ok


@given(value=json_values, key=texts)
@fuzz_settings(150)
def test_any_safetensors_header_entry_is_parsed_or_refused(value: object, key: str) -> None:
    try:
        raw = json.dumps({key: value}).encode()
    except (UnicodeEncodeError, ValueError):
        return
    blob = struct.pack("<Q", len(raw)) + raw + b"\0" * 16
    try:
        header = parse_header(blob, len(blob), "weights.safetensors")
    except KifError as exc:
        assert exc.code.startswith("weights-")
        return
    for entry in header.tensors.values():  # what parse_header accepts fits the file and builds an array
        assert header.data_start + entry.begin + entry.nbytes <= len(blob)
        count = entry.nbytes // entry.dtype.itemsize
        np.frombuffer(blob, dtype=entry.dtype.numpy, count=count, offset=header.data_start + entry.begin).reshape(entry.shape)
