"""Fuzz targets of the Keras converter: mutated .h5 / .keras bytes, HDF5 structure and configs.

HDF5 structure mutations plant the hostile objects of issue #9 (huge declared shapes,
external links, external storage, virtual datasets, group cycles, retyped datasets)
with h5py on an in-memory copy of a fixture. External objects point at a canary file
outside the input; the canary's bytes reaching the converted bundle is a failure.
"""

from __future__ import annotations

import functools
import io
import json
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from fuzz_mutate import dump_json, mutate_bytes, mutate_json, mutate_zip_fields, rebuild_zip, zip_members
from fuzz_targets import CANARY, Files, Finding, _expected, _meta, keras_dirs, meta

CANARY_DIR = Path("/dev/shm/kif-fuzz-canary") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir()) / "kif-fuzz-canary"


def ensure_canary() -> None:
    """A raw file and an HDF5 file outside every input, filled with the canary bytes."""
    import h5py

    CANARY_DIR.mkdir(parents=True, exist_ok=True)
    (CANARY_DIR / "canary.bin").write_bytes(CANARY * 64)
    if not (CANARY_DIR / "canary.h5").exists():
        with h5py.File(CANARY_DIR / "canary.h5", "w") as f:
            f["data"] = np.frombuffer(CANARY * 64, dtype=np.float32)


@functools.cache
def _seed(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.suffix in (".h5", ".keras", ".json") and p.name != "fixture.json"}


def _pick(rng: random.Random, suffix: str) -> tuple[str, bytes, dict[str, bytes]]:
    while True:
        files = _seed(rng.choice(keras_dirs()))
        names = [n for n in files if (n.endswith(suffix) and n != "architecture.json") or (suffix == ".json" and n == "architecture.json")]
        if names:
            name = rng.choice(sorted(names))
            return name, files[name], files


def _weights_name(files: dict[str, bytes]) -> str:
    return "weights.h5" if "weights.h5" in files else "model.weights.h5"


# --- HDF5 structure -----------------------------------------------------------------------------------


def _datasets(handle: Any) -> tuple[list[str], list[str]]:
    import h5py

    datasets: list[str] = []
    groups: list[str] = []
    handle.visititems(lambda name, obj: (datasets if isinstance(obj, h5py.Dataset) else groups).append(name))
    return datasets, groups


def _plant(rng: random.Random, handle: Any) -> None:
    import h5py

    datasets, groups = _datasets(handle)
    op = rng.randrange(9)
    if op == 0 or not datasets:
        raw = handle.attrs.get("model_config")
        if raw is not None:
            text = raw.decode() if isinstance(raw, bytes) else str(raw)
            handle.attrs["model_config"] = dump_json(rng, mutate_json(rng, json.loads(text))).decode("ascii", "replace")
        return
    name = rng.choice(datasets)
    old = handle[name]
    shape, dtype = old.shape, old.dtype
    del handle[name]
    if op == 1:  # a kernel declaring tens of GB, stored in a few bytes
        big = tuple(int(rng.choice([10**5, 2**20, 2**31])) for _ in shape) or (2**31,)
        handle.create_dataset(name, shape=big, dtype="float32", chunks=tuple(1 for _ in big), fillvalue=1.0)
    elif op == 2:
        handle[name] = h5py.ExternalLink(str(CANARY_DIR / "canary.h5"), "data")
    elif op == 3:
        count = max(1, int(np.prod(shape, dtype=object)))
        if count * 4 >= 2**40:  # an earlier op planted a huge shape: HDF5 cannot describe external storage that large
            shape, count = (1024,), 1024
        handle.create_dataset(name, shape=shape or (count,), dtype=dtype, external=[(str(CANARY_DIR / "canary.bin"), 0, count * 4)])
    elif op == 4:
        layout = h5py.VirtualLayout(shape=(512,), dtype="float32")
        layout[:] = h5py.VirtualSource(str(CANARY_DIR / "canary.h5"), "data", shape=(512,))
        handle.create_virtual_dataset(name, layout)
    elif op == 5:
        handle[name] = h5py.SoftLink(rng.choice(["/", "/model_weights", "/nowhere", "/" + name]))
    elif op == 6 and groups:
        handle[name] = handle[rng.choice(groups)]  # a hard link to a group: cycles and aliasing
    elif op == 7:
        handle.create_dataset(name, data=rng.choice([np.array(["x", "yy"], dtype="S2"), np.zeros((2, 3), "i8"), np.zeros(0, "f4"),
                                                     np.zeros((), "f4"), np.zeros(5, "f2"), np.zeros(3, "c8")]))
    else:
        handle.attrs[rng.choice(["layer_names", "weight_names", "keras_version", "backend"])] = rng.choice(
            [np.array([b"x", b"\xff\xfe"]), "3", np.zeros(3), b"\xff", np.array([], dtype="S1")])
        handle.create_dataset(name, shape=shape, dtype=dtype)


def mutate_h5_structure(rng: random.Random, blob: bytes) -> bytes:
    import h5py

    buffer = io.BytesIO(blob)
    try:
        with h5py.File(buffer, "r+") as handle:
            for _ in range(rng.choice([1, 1, 2])):
                _plant(rng, handle)
    except (OSError, KeyError, ValueError, TypeError, RuntimeError):
        return blob
    return buffer.getvalue()


# --- generators --------------------------------------------------------------------------------------


def _dst(rng: random.Random) -> str:
    return rng.choice(["out.kif", "out.kif", "outdir"])


def gen_h5_bytes(rng: random.Random) -> Files:
    name, blob, files = _pick(rng, ".h5")
    blob = mutate_bytes(rng, blob)
    if name == "model.h5":
        return _meta({"model.h5": blob}, dst=_dst(rng))
    return _meta({"architecture.json": files["architecture.json"], "weights.h5": blob}, dst=_dst(rng))


def gen_h5_structure(rng: random.Random) -> Files:
    name, blob, files = _pick(rng, ".h5")
    blob = mutate_h5_structure(rng, blob)
    if name == "model.h5":
        return _meta({"model.h5": blob}, dst=_dst(rng))
    return _meta({"architecture.json": files["architecture.json"], "weights.h5": blob}, dst=_dst(rng))


def gen_config(rng: random.Random) -> Files:
    if rng.random() < 0.5:
        _, blob, _ = _pick(rng, ".keras")
        members = zip_members(blob)
        members["config.json"] = dump_json(rng, mutate_json(rng, json.loads(members["config.json"]), semantic=rng.random() < 0.5))
        return _meta({"model.keras": _zip(members)}, dst=_dst(rng))
    _, blob, files = _pick(rng, ".json")
    config = mutate_json(rng, json.loads(blob), semantic=rng.random() < 0.5)
    return _meta({"architecture.json": dump_json(rng, config), "weights.h5": files[_weights_name(files)]}, dst=_dst(rng))


def _zip(members: dict[str, bytes]) -> bytes:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, body in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), body)
    return out.getvalue()


def _mutate_keras_member(rng: random.Random, name: str, body: bytes) -> bytes:
    if name.endswith(".json"):
        return dump_json(rng, mutate_json(rng, json.loads(body))) if rng.random() < 0.7 else mutate_bytes(rng, body)
    return mutate_h5_structure(rng, body) if rng.random() < 0.5 else mutate_bytes(rng, body)


def gen_keras_zip(rng: random.Random) -> Files:
    _, blob, _ = _pick(rng, ".keras")
    roll = rng.random()
    if roll < 0.3:
        blob = mutate_bytes(rng, blob)
    elif roll < 0.5:
        blob = mutate_zip_fields(rng, blob)
    else:
        blob = rebuild_zip(rng, zip_members(blob), _mutate_keras_member)
    return _meta({"model.keras": blob}, dst=_dst(rng))


# --- execution ---------------------------------------------------------------------------------------


def exec_convert(root: Path) -> None:
    from kif.keras import convert

    m = meta(root)
    dst = root / m.get("dst", "out.kif")
    if (root / "model.h5").exists():
        src, weights = root / "model.h5", None
    elif (root / "model.keras").exists():
        src, weights = root / "model.keras", None
    else:
        src, weights = root / "architecture.json", root / "weights.h5"
    before = set(root.iterdir())
    tmp = Path(tempfile.gettempdir())
    tmp_before = set(tmp.iterdir())
    _expected(lambda: convert(src, dst, weights=weights))
    left = sorted(p.name for p in set(root.iterdir()) - before - {dst}) + sorted(p.name for p in set(tmp.iterdir()) - tmp_before)
    if left:
        raise Finding(f"Leftover files after convert: {left[:3]}")
    if dst.exists():
        blobs = [dst.read_bytes()] if dst.is_file() else [p.read_bytes() for p in dst.rglob("*") if p.is_file()]
        if any(CANARY[:32] in blob for blob in blobs):
            raise Finding("ReadOutside: bytes of a file outside the input reached the converted bundle")
