"""Fuzz targets: how each input is generated from the seed corpora and what it is run through.

An input is a dict of relative file names to bytes (``meta.json`` carries parameters
such as the validation level), so a failing input is saved as a folder and replayed
with ``python benchmarks/fuzz.py --replay DIR``. ``execute`` raises only what the SDK
lets escape: a ``kif.errors.KifError`` is the expected refusal and is swallowed here.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import random
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fuzz_mutate import deep_marker, dump_json, mutate_bytes, mutate_json, mutate_zip_fields, rebuild_zip, zip_members

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "conformance" / "cases"
KERAS = ROOT / "python-sdk" / "tests" / "fixtures" / "keras"
LEVELS = ("structure", "full", "numeric")
CANARY = b"KIF-FUZZ-CANARY-outside-the-input-" * 4  # planted outside the input; must never reach an output


class Finding(Exception):
    """A harness-detected failure that is not an exception of the SDK (leftover files, a read outside the input)."""


Files = dict[str, bytes]


@dataclass(frozen=True)
class Target:
    name: str
    generate: Callable[[random.Random], Files]
    execute: Callable[[Path], None]
    heavy: bool = False  # the converter targets: run fewer inputs


# --- seed corpora ---------------------------------------------------------------------------------


@functools.cache
def bundle_seeds() -> list[bytes]:
    return [p.read_bytes() for p in sorted(CASES.glob("*/*/model.kif")) if p.is_file()]  # a directory-form case is no archive


@functools.cache
def bundle_members() -> list[dict[str, bytes]]:
    return [zip_members(blob) for blob in bundle_seeds()]


@functools.cache
def keras_dirs() -> list[Path]:
    return sorted(p.parent for p in KERAS.glob("*/*/fixture.json"))


@functools.cache
def npz_seeds() -> list[bytes]:
    return [p.read_bytes() for p in sorted(ROOT.glob("python-sdk/tests/fixtures/**/*.npz"))]


def _meta(files: Files, **values: Any) -> Files:
    files["meta.json"] = json.dumps(values).encode()
    return files


def meta(root: Path) -> dict[str, Any]:
    path = root / "meta.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _expected(call: Callable[[], Any]) -> Any:
    from kif.errors import KifError

    try:
        return call()
    except KifError:
        return None


# --- bundle reader / validator / runtime ------------------------------------------------------------


def _mutate_member(rng: random.Random, name: str, body: bytes) -> bytes:
    if name == "model.json" and rng.random() < 0.7:
        return dump_json(rng, mutate_json(rng, json.loads(body)))
    if name.endswith(".safetensors") and rng.random() < 0.5:
        return mutate_safetensors(rng, body)
    return mutate_bytes(rng, body)


def gen_archive(rng: random.Random) -> Files:
    i = rng.randrange(len(bundle_seeds()))
    roll = rng.random()
    if roll < 0.35:
        blob = mutate_bytes(rng, bundle_seeds()[i], others=bundle_seeds()[:8])
    elif roll < 0.6:
        blob = mutate_zip_fields(rng, bundle_seeds()[i])
    else:
        blob = rebuild_zip(rng, bundle_members()[i], _mutate_member)
    return _meta({"bundle.kif": blob}, level=rng.choice(LEVELS), verify=rng.random() < 0.8)


def exec_archive(root: Path) -> None:
    import kif

    m = meta(root)
    path = root / "bundle.kif"
    kif.validate(path, level=m.get("level", "full"), verify_checksums=m.get("verify", True))
    model = _expected(lambda: kif.load(path, verify=m.get("verify", True)))
    if model is not None:
        _run_self_test(model)


def _inputs_for(doc: Any, rng: random.Random) -> bytes | None:
    """Small random inputs matching the declared input specs (None stands for 1 or 2), or None when unusable."""
    try:
        arrays = {}
        for spec in doc["inputs"]:
            shape = [rng.choice([1, 2]) if d is None else int(d) for d in spec["shape"]]
            if int(np.prod(shape, dtype=np.float64)) > 200_000:
                return None
            dtype = np.dtype({"bfloat16": "float32"}.get(spec["dtype"], spec["dtype"]))
            arrays[str(spec["name"])] = (rng.random() * 4 - 2 + np.zeros(shape)).astype(dtype)
        out = io.BytesIO()
        np.savez(out, **{f"a{i}": v for i, v in enumerate(arrays.values())})
        return out.getvalue()
    except Exception:
        return None


def gen_document(rng: random.Random, semantic: bool = False) -> Files:
    members = rng.choice(bundle_members())
    doc = json.loads(members["model.json"])
    mutated = mutate_json(rng, doc, semantic=semantic, rounds=rng.choice([1, 1, 2]) if semantic else None)
    files = {f"bundle/{name}": body for name, body in members.items() if name != "model.json"}
    files["bundle/model.json"] = dump_json(rng, mutated) if not semantic else json.dumps(mutated).encode()
    inputs = _inputs_for(mutated, rng)
    if inputs is not None:
        files["inputs.npz"] = inputs
    return _meta(files, level=rng.choice(LEVELS), verify=True)


def exec_document(root: Path) -> None:
    import kif

    m = meta(root)
    path = root / "bundle"
    kif.validate(path, level=m.get("level", "full"))
    model = _expected(lambda: kif.load(path))
    if model is None:
        return
    _run_self_test(model)
    if (root / "inputs.npz").exists():
        with np.load(root / "inputs.npz") as data:
            arrays = [data[k] for k in data.files]
        names = [spec.name for spec in model.inputs]
        if len(arrays) == len(names):
            _expected(lambda: kif.run(model, dict(zip(names, arrays, strict=True))))


def _run_self_test(model: Any) -> None:
    import kif

    if model.self_test is not None:
        _expected(lambda: kif.run(model, model.self_test.inputs))


# --- safetensors headers ----------------------------------------------------------------------------


def mutate_safetensors(rng: random.Random, blob: bytes) -> bytes:
    if len(blob) < 8 or rng.random() < 0.3:
        return mutate_bytes(rng, blob)
    (n,) = struct.unpack("<Q", blob[:8])
    try:
        header = json.loads(blob[8 : 8 + n])
    except ValueError:
        return mutate_bytes(rng, blob)
    roll = rng.random()
    if roll < 0.1:
        header = deep_marker(rng.choice([100, 1000, 5000, 100000]), header, rng.choice(["list", "dict"]))
    elif roll < 0.2 and header:
        name = rng.choice([k for k in header if k != "__metadata__"] or ["x"])
        shape = rng.choice([[2**64 - 1, 0], [0, 2**63], [2**32, 2**32, 0]])
        header[name] = {"dtype": rng.choice(["F32", "U8", "BOOL", "F64"]), "shape": shape, "data_offsets": [0, 0]}
    else:
        header = mutate_json(rng, header)
    raw = dump_json(rng, header)
    length = len(raw) if rng.random() < 0.9 else rng.choice([0, len(raw) + 1, len(raw) - 1, 2**63])
    return struct.pack("<Q", length % 2**64) + raw + blob[8 + n :]


def gen_safetensors(rng: random.Random) -> Files:
    members = rng.choice(bundle_members())
    body = members.get("weights.safetensors") or next(iter(members.values()))
    return {"weights.safetensors": mutate_safetensors(rng, body)}


def exec_safetensors(root: Path) -> None:
    from kif.bundle.reader import _array
    from kif.bundle.safetensors_io import parse_header

    blob = (root / "weights.safetensors").read_bytes()
    header = _expected(lambda: parse_header(blob, len(blob), "weights.safetensors"))
    if header is not None:
        view = memoryview(blob)
        for entry in header.tensors.values():
            _array(view, entry, header.data_start + entry.begin)


# --- cheap structural targets: the container alone, strict JSON alone ----------------------------------


def gen_container(rng: random.Random) -> Files:
    files = gen_archive(rng)
    files.pop("meta.json")
    return files


def exec_container(root: Path) -> None:
    """Open the archive (central directory, local headers, name rules) and read every member it lets through."""
    from kif.bundle.container import open_container

    container = _expected(lambda: open_container(root / "bundle.kif"))
    if container is not None:
        for name in container.members:
            container.read(name, 0, 64)
            bytes(container.view(name)[:64])


def gen_json(rng: random.Random) -> Files:
    doc = json.loads(rng.choice(bundle_members())["model.json"])
    return {"model.json": dump_json(rng, mutate_json(rng, doc))}


def exec_json(root: Path) -> None:
    """The strict JSON reader and the version check, in memory (no container)."""
    from kif import strict_json
    from kif.validate.document import check_version
    from kif.validate.report import Report

    text = (root / "model.json").read_bytes()
    try:
        doc = strict_json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return  # what read_document turns into document-invalid
    if isinstance(doc, dict):
        check_version(doc, Report("model.json"), "model.json")


# --- the npz inputs loader and the CLI ---------------------------------------------------------------


def gen_npz(rng: random.Random) -> Files:
    blob = rng.choice(npz_seeds())
    roll = rng.random()
    if roll < 0.4:
        blob = mutate_bytes(rng, blob, others=npz_seeds()[:4])
    elif roll < 0.7:
        blob = mutate_zip_fields(rng, blob)
    else:
        blob = rebuild_zip(rng, zip_members(blob), lambda r, _n, b: mutate_bytes(r, b))
    return {"inputs.npz": blob}


def exec_npz(root: Path) -> None:
    from kif.cli_run import _read_arrays

    _expected(lambda: _read_arrays(root / "inputs.npz"))


def gen_cli(rng: random.Random) -> Files:
    files = gen_archive(rng)
    if rng.random() < 0.3:
        files["inputs.npz"] = gen_npz(rng)["inputs.npz"]
    return _meta(files, command=rng.choice(["validate", "validate-json", "inspect", "inspect-json", "run"]), level=rng.choice(LEVELS))


def exec_cli(root: Path) -> None:
    """The CLI's output goes to strict UTF-8 byte streams, as on a real terminal; nothing may escape main()."""
    from kif.cli import main

    m = meta(root)
    bundle = str(root / "bundle.kif")
    command = m.get("command", "validate")
    argv = {
        "validate": ["validate", bundle, "--level", m.get("level", "full")],
        "validate-json": ["validate", bundle, "--json"],
        "inspect": ["inspect", bundle],
        "inspect-json": ["inspect", bundle, "--json"],
        "run": ["run", bundle, "--inputs", str(root / "inputs.npz"), "--output", str(root / "out.npz")],
    }[command]
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(argv)
        except SystemExit as exc:  # argparse usage errors exit 2: allowed
            if exc.code not in (0, 1, 2):
                raise
        out.flush()
        err.flush()


# --- writers: kif.save and the ONNX exporter on mutated-but-valid models ------------------------------


def gen_writers(rng: random.Random) -> Files:
    files = gen_document(rng, semantic=True)
    files.pop("inputs.npz", None)
    return _meta(files, dst=rng.choice(["copy.kif", "copydir", "occupied", "occupied.kif", "bundle"]), onnx=rng.random() < 0.3)


def exec_writers(root: Path) -> None:
    """A save either writes a bundle that validates or raises a KifError; a user's file beside or under it survives."""
    import kif

    m = meta(root)
    model = _expected(lambda: kif.load(root / "bundle"))
    if model is None:
        return
    dst = root / m.get("dst", "copy.kif")
    if m.get("dst", "").startswith("occupied"):
        (dst if dst.suffix != ".kif" else root).mkdir(exist_ok=True)
        keep = (dst if dst.suffix != ".kif" else root) / "keep.txt"
        keep.write_bytes(b"user data")
    before = {p.name for p in root.iterdir()}
    saved = _expected(lambda: kif.save(model, dst))
    if saved is not None and not kif.validate(saved, verify_checksums=True).ok:
        raise Finding("SavedInvalid: kif.save wrote a bundle that does not validate")
    if m.get("dst", "").startswith("occupied") and (not keep.is_file() or keep.read_bytes() != b"user data"):
        raise Finding("DataLoss: a user's file beside the destination was removed or changed")
    left = sorted(n for n in {p.name for p in root.iterdir()} - before - {dst.name} if n.startswith(".kif"))
    if left:
        raise Finding(f"Leftover files after save: {left[:3]}")
    if m.get("onnx"):
        from kif.onnx.export import build

        _expected(lambda: build(model).SerializeToString())
