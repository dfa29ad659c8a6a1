"""Seeded mutators for the fuzz harness: raw bytes, ZIP structure, JSON documents.

Every mutator takes a ``random.Random`` and returns new bytes or a new object, so an
input is reproducible from (target, seed, index) alone and can be regenerated after a
worker dies on it.
"""

from __future__ import annotations

import copy
import io
import json
import random
import struct
import zipfile
from typing import Any

INTERESTING_INTS = [0, 1, 2, 7, 8, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 2**63 - 1, 2**64 - 1]
_WIDTHS = {1: "<B", 2: "<H", 4: "<L", 8: "<Q"}
ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06", b"PK\x07\x08")

# values a JSON mutation may plant: type confusion, boundaries, overflow, path tricks, lone surrogates
INTERESTING_JSON: list[Any] = [
    None, True, False, 0, -1, 1, 2, 3, 255, 2**31, 2**32 + 1, 2**53 + 1, 2**63, 2**64, 2**64 + 1, -(2**63), 10**30,
    0.5, -0.0, 1e308, 3.0, "", "x", "\ud800", "a\udfff", "name\n", "a/b", "../x", "/etc/passwd", "C:\\x", "\x00",
    "float32", "float16", "bfloat16", "int64", "uint8", "bool", "same", "valid", "channels_first", "relu", "linear",
    "Dense", "Conv2D", "Reshape", "Concatenate", "RepeatVector", "UpSampling2D", "Lambda", "Functional", "Sequential",
    [], {}, [0], [None], [-1], [2**64, 0], [0, 2**64], [1, 1, 1, 1, 1, 1, 1, 1, 1], [10**6, 10**6], {"": None}, [[]],
]


def _interesting(rng: random.Random) -> Any:
    """A copy: a shared list or dict planted in a document and edited later grew across inputs (a cycle, then a hang)."""
    return copy.deepcopy(rng.choice(INTERESTING_JSON))


def _int_at(rng: random.Random, data: bytearray, offset: int) -> None:
    width = rng.choice(list(_WIDTHS))
    value = rng.choice(INTERESTING_INTS) & ((1 << (8 * width)) - 1)
    if rng.random() < 0.3:
        value = (value + rng.choice([-1, 1])) % (1 << (8 * width))
    packed = struct.pack(_WIDTHS[width], value)
    data[offset : offset + width] = packed[: max(0, len(data) - offset)]


def mutate_bytes(rng: random.Random, blob: bytes, others: list[bytes] | None = None, rounds: int | None = None) -> bytes:
    """A few havoc-style edits: bit flips, interesting integers, chunk insert/delete/copy, splices, truncation."""
    data = bytearray(blob)
    for _ in range(rounds or rng.choice([1, 1, 1, 2, 2, 3, 4, 8])):
        if not data:
            data.extend(rng.randbytes(rng.randint(1, 16)))
            continue
        op = rng.randrange(9)
        at = rng.randrange(len(data))
        span = min(len(data) - at, rng.choice([1, 2, 4, 8, 32, 256]))
        if op == 0:
            data[at] ^= 1 << rng.randrange(8)
        elif op == 1:
            data[at] = rng.randrange(256)
        elif op == 2:
            _int_at(rng, data, at)
        elif op == 3:
            del data[at : at + span]
        elif op == 4:
            data[at:at] = rng.randbytes(span)
        elif op == 5:
            source = rng.randrange(len(data))
            data[at:at] = data[source : source + span]
        elif op == 6:
            del data[rng.randrange(len(data)) :]
        elif op == 7 and others:
            other = rng.choice(others)
            cut = rng.randrange(len(other) + 1)
            data[at:] = other[cut:]
        else:
            data[at : at + span] = bytes([rng.choice([0, 0xFF, 0x41])]) * span
    return bytes(data)


def mutate_zip_fields(rng: random.Random, blob: bytes) -> bytes:
    """Plant interesting integers in the fixed fields of local headers, central entries and the end record."""
    data = bytearray(blob)
    spots = [i for sig in ZIP_SIGNATURES for i in _find_all(blob, sig)]
    if not spots:
        return mutate_bytes(rng, blob)
    for _ in range(rng.choice([1, 1, 2, 3])):
        start = rng.choice(spots)
        _int_at(rng, data, min(len(data) - 1, start + 4 + rng.randrange(42)))
    return bytes(data)


def _find_all(blob: bytes, needle: bytes) -> list[int]:
    out, at = [], blob.find(needle)
    while at >= 0:
        out.append(at)
        at = blob.find(needle, at + 1)
    return out


def rebuild_zip(rng: random.Random, members: dict[str, bytes], mutate_member: Any = None) -> bytes:
    """Write a new archive from ``members`` after member-level edits (names, drops, duplicates, compression)."""
    items = list(members.items())
    op = rng.randrange(8)
    if op == 0 and items:
        i = rng.randrange(len(items))
        name = rng.choice(["model.json\n", "../model.json", "/abs", "a\\b", "dir/", "Model.json", "é.safetensors", items[i][0] + " "])
        items[i] = (name, items[i][1])
    elif op == 1 and items:
        items.pop(rng.randrange(len(items)))
    elif op == 2 and items:
        items.append(rng.choice(items))
    elif op == 3 and mutate_member is not None and items:
        i = rng.randrange(len(items))
        items[i] = (items[i][0], mutate_member(rng, items[i][0], items[i][1]))
    elif op == 4:
        items.append((rng.choice(["extra.bin", "weights-2.safetensors", "a" * 300]), rng.randbytes(rng.randint(0, 64))))
    elif op == 5:
        rng.shuffle(items)
    method = zipfile.ZIP_DEFLATED if rng.random() < 0.2 else zipfile.ZIP_STORED
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=method) as archive:
        for name, body in items:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            if op == 6:
                info.extra = rng.randbytes(rng.randint(0, 12))
            archive.writestr(info, body)
    blob = out.getvalue()
    return mutate_zip_fields(rng, blob) if op == 7 else blob


def zip_members(blob: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


# --- JSON ------------------------------------------------------------------------------------------


def _slots(node: Any, out: list[tuple[Any, Any]], depth: int = 0) -> None:
    """Every (container, key) pair of the document, so any node can be replaced or removed."""
    if depth > 200:
        return
    if isinstance(node, dict):
        for key, value in node.items():
            out.append((node, key))
            _slots(value, out, depth + 1)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out.append((node, index))
            _slots(value, out, depth + 1)


def _tweak(rng: random.Random, value: Any, pool: list[Any]) -> Any:
    if isinstance(value, bool) or value is None:
        return _interesting(rng)
    if isinstance(value, int):
        return rng.choice([0, 1, -1, value + 1, value - 1, value * 2, value * 1000, -value, 2**31, 2**62, 2**64, 10**6, 65536])
    if isinstance(value, float):
        return rng.choice([0.0, -value, value * 1e6, 1e-300, 1e300, int(value)])
    if isinstance(value, str):
        return rng.choice([value + "\n", value + "\ud800", "", value * 50, value.upper(), value + "/x", rng.choice(pool or [value])])
    if isinstance(value, list):
        return rng.choice([value * rng.choice([2, 10, 100]), value[:-1], [*value, rng.choice(value) if value else 0], value[::-1]])
    return _interesting(rng)


_DEEP: dict[str, str] = {}


def deep_marker(depth: int, leaf: Any = 0, kind: str = "list") -> str:
    """A placeholder string that ``dump_json`` replaces with ``depth`` levels of nesting around ``leaf``."""
    marker = f"__kif_fuzz_deep_{len(_DEEP)}__"
    opening, closing = ("[", "]") if kind == "list" else ('{"a":', "}")
    _DEEP[marker] = opening * depth + json.dumps(leaf) + closing * depth
    return marker


def deep(depth: int, leaf: Any = 0, kind: str = "list") -> Any:
    node = leaf
    for _ in range(depth):
        node = [node] if kind == "list" else {"a": node}
    return node


def mutate_json(rng: random.Random, doc: Any, pool: list[Any] | None = None, rounds: int | None = None, semantic: bool = False) -> Any:
    """Structural edits of a JSON document: replace, delete, duplicate, retype, tweak, deep-nest a node.

    ``semantic`` keeps to numeric and string tweaks of leaves, so the result is more often still valid.
    """
    doc = json.loads(json.dumps(doc))
    strings = pool if pool is not None else [s for s in _leaves(doc) if isinstance(s, str)]
    for _ in range(rounds or rng.choice([1, 1, 1, 2, 3])):
        slots: list[tuple[Any, Any]] = []
        _slots(doc, slots)
        if not slots:
            return _interesting(rng)
        parent, key = rng.choice(slots)
        value = parent[key]
        if semantic:
            if not isinstance(value, dict | list) or rng.random() < 0.2:
                parent[key] = _tweak(rng, value, strings)
            continue
        op = rng.randrange(8)
        if op == 0:
            parent[key] = _interesting(rng)
        elif op == 1:
            del parent[key]
        elif op == 2 and isinstance(parent, list):
            parent.insert(key, copy.deepcopy(value))
        elif op == 3 and isinstance(parent, dict):
            parent[rng.choice(["extra", "", "\ud800", "name", "type", "inputs", "shape", key + "_"])] = _interesting(rng)
        elif op == 4:
            other_parent, other_key = rng.choice(slots)
            parent[key] = copy.deepcopy(other_parent[other_key])
        elif op == 5:  # deep nesting is planted as text at dump time (Python's json cannot write it); last edit
            parent[key] = deep_marker(rng.choice([2, 10, 100, 1000, 3000, 20000, 100000]), value, rng.choice(["list", "dict"]))
            break
        else:
            parent[key] = _tweak(rng, value, strings)
    return doc


def _leaves(node: Any) -> list[Any]:
    slots: list[tuple[Any, Any]] = []
    _slots(node, slots)
    return [p[k] for p, k in slots if not isinstance(p[k], dict | list)]


def dump_json(rng: random.Random, doc: Any) -> bytes:
    """Serialise, sometimes with NaN, a repeated key, or byte-level damage to the text."""
    try:
        text = json.dumps(doc, ensure_ascii=True, allow_nan=True, indent=rng.choice([None, 1]))
    except (RecursionError, ValueError):
        text = "[" * 100000 + "]" * 100000
    for marker, raw in _DEEP.items():
        text = text.replace(f'"{marker}"', raw)
    _DEEP.clear()
    raw = text.encode("ascii")
    roll = rng.random()
    if roll < 0.05 and raw.startswith(b"{"):
        raw = b'{"kif_version": "0.1.0", ' + raw[1:]
    elif roll < 0.15:
        raw = mutate_bytes(rng, raw, rounds=rng.choice([1, 2]))
    return raw
