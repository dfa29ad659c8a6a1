"""Generate conformance/invalid/: one broken bundle per failure class.

Each case is a folder ``<case-name>/`` holding the broken bundle (a directory
``bundle/`` or an archive ``bundle.kif``) and ``case.json``::

    {"id": ..., "description": ..., "expect": {"code": ..., "pointer": ...}}

A validator passes a case when it reports an error with that code at that
location. ``pointer`` is a JSON pointer (RFC 6901) into model.json, or into the
JSON header of the safetensors file the finding concerns; null means the finding
concerns a file or the container as a whole. Message text is never compared.

Every byte is built here from first principles (JSON, struct, a hand-written
ZIP writer with fixed dates), independent of the KIF SDK, so the output is
byte-reproducible: ``python conformance/generators/invalid_bundles.py [OUT]``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import struct
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "invalid"
WEIGHTS = "weights.safetensors"
DOCUMENT = "model.json"

# -- safetensors ------------------------------------------------------------------

_DTYPES = {"float32": ("F32", "<f4", 4), "float16": ("F16", "<f2", 2)}


@dataclass
class Tensor:
    name: str
    dtype: str
    shape: list[int]
    data: bytes


def _values(count: int, start: int) -> bytes:
    """Small exact float32 values (multiples of 1/8), deterministic on every platform."""
    return b"".join(struct.pack("<f", ((start + i) % 17 - 8) / 8) for i in range(count))


def base_tensors() -> list[Tensor]:
    return [
        Tensor("dense_1/bias", "float32", [3], _values(3, 0)),
        Tensor("dense_1/kernel", "float32", [4, 3], _values(12, 3)),
        Tensor("dense_2/bias", "float32", [2], _values(2, 15)),
        Tensor("dense_2/kernel", "float32", [3, 2], _values(6, 17)),
    ]


def safetensors_bytes(
    tensors: list[Tensor],
    offsets: dict[str, list[int]] | None = None,
    data: bytes | None = None,
) -> bytes:
    """A safetensors file; ``offsets``/``data`` override the natural layout (to break it)."""
    header: dict[str, Any] = {}
    position = 0
    for t in tensors:
        natural = [position, position + len(t.data)]
        header[t.name] = {
            "dtype": _DTYPES[t.dtype][0],
            "shape": t.shape,
            "data_offsets": (offsets or {}).get(t.name, natural),
        }
        position += len(t.data)
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-(8 + len(encoded)) % 8)
    body = b"".join(t.data for t in tensors) if data is None else data
    return struct.pack("<Q", len(encoded)) + encoded + body


def header_end(blob: bytes) -> int:
    return 8 + struct.unpack("<Q", blob[:8])[0]


# -- model.json -------------------------------------------------------------------


def dense(
    name: str, source: str, units: int, activation: str = "linear"
) -> dict[str, Any]:
    return {
        "name": name,
        "type": "Dense",
        "attributes": {"units": units, "activation": activation, "use_bias": True},
        "inputs": [source],
        "outputs": [name],
        "weights": {"kernel": f"{name}/kernel", "bias": f"{name}/bias"},
    }


def base_document(tensors: list[Tensor], weights: bytes) -> dict[str, Any]:
    """x [N, 4] -> Dense(3, relu) -> Dense(2) -> dense_2 [N, 2]."""
    return {
        "kif_version": "0.1.0",
        "producer": {"name": "kif-conformance", "version": "0.1.0"},
        "name": "mlp",
        "inputs": [{"name": "x", "dtype": "float32", "shape": [None, 4]}],
        "outputs": [{"name": "dense_2", "dtype": "float32", "shape": [None, 2]}],
        "layers": [dense("dense_1", "x", 3, "relu"), dense("dense_2", "dense_1", 2)],
        "weights": {
            "files": [file_entry(WEIGHTS, weights)],
            "tensors": {
                t.name: {"file": WEIGHTS, "dtype": t.dtype, "shape": t.shape}
                for t in tensors
            },
        },
    }


def file_entry(path: str, blob: bytes) -> dict[str, Any]:
    return {"path": path, "sha256": hashlib.sha256(blob).hexdigest(), "size": len(blob)}


def encode(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, indent=1) + "\n").encode()


# -- ZIP --------------------------------------------------------------------------

_DOS_DATE, _DOS_TIME = (0 << 9) | (1 << 5) | 1, 0  # 1980-01-01 00:00:00
_REGULAR = 0o100644 << 16
_SYMLINK = 0o120777 << 16


@dataclass
class Entry:
    """One archive member. Fields other than name/data let a case lie about it."""

    name: str
    data: bytes
    method: int = 0  # 0 STORED, 8 DEFLATED
    flags: int = 0
    external_attr: int = _REGULAR
    declared_size: int | None = None  # a size that differs from the data's
    local_name: str | None = (
        None  # a local-header name that differs from the central one
    )
    raw: bytes | None = None  # bytes to store in place of ``data`` (already compressed)
    trailer: bytes = b""  # bytes written after the member's data (not part of it)
    covers_next: bool = (
        False  # declare the next member's local header and data as this one's data
    )
    version: int = 20  # "version needed to extract" (2.0)
    local_method: int | None = None  # a local-header compression method that differs from the central one
    local_size: int | None = None  # a local-header size that differs from the central one


def deflate_stored(data: bytes) -> bytes:
    """A raw DEFLATE stream of one uncompressed block: valid and identical on every zlib."""
    assert len(data) < 65536
    return b"\x01" + struct.pack("<HH", len(data), len(data) ^ 0xFFFF) + data


def zip_bytes(entries: list[Entry]) -> bytes:
    out = bytearray()
    central = bytearray()
    pending: list[tuple[Entry, int, int, int]] = []  # entry, header offset, size, crc
    for index, entry in enumerate(entries):
        stored = entry.raw if entry.raw is not None else entry.data
        crc = zlib.crc32(entry.data)
        size = entry.declared_size if entry.declared_size is not None else len(stored)
        usize = (
            entry.declared_size if entry.declared_size is not None else len(entry.data)
        )
        if entry.covers_next:
            following = entries[index + 1]
            size = usize = 30 + len(following.name.encode()) + len(following.data)
        name = (entry.local_name or entry.name).encode()
        offset = len(out)
        out += struct.pack(
            "<4s5H3L2H",
            b"PK\x03\x04",
            entry.version,
            entry.flags,
            entry.method if entry.local_method is None else entry.local_method,
            _DOS_TIME,
            _DOS_DATE,
            crc,
            size if entry.local_size is None else entry.local_size,
            usize if entry.local_size is None else entry.local_size,
            len(name),
            0,
        )
        out += name + stored + entry.trailer
        pending.append((entry, offset, size, usize))
    for entry, offset, size, usize in pending:
        name = entry.name.encode()
        crc = zlib.crc32(entry.data)
        central += struct.pack(
            "<4s6H3L5H2L",
            b"PK\x01\x02",
            0x031E,  # made by: Unix, ZIP 3.0 (so external_attr carries a file mode)
            entry.version,
            entry.flags,
            entry.method,
            _DOS_TIME,
            _DOS_DATE,
            crc,
            size,
            usize,
            len(name),
            0,
            0,
            0,
            0,
            entry.external_attr,
            offset,
        )
        central += name
    eocd = struct.pack(
        "<4s4H2LH",
        b"PK\x05\x06",
        0,
        0,
        len(entries),
        len(entries),
        len(central),
        len(out),
        0,
    )
    return bytes(out + central + eocd)


# -- cases ------------------------------------------------------------------------


@dataclass
class Bundle:
    """A bundle under construction: member name -> bytes (None marks a symlink target)."""

    document: dict[str, Any] | None
    files: dict[str, bytes] = field(default_factory=dict)
    raw_document: bytes | None = None

    def members(self) -> dict[str, bytes]:
        out = dict(self.files)
        if self.raw_document is not None:
            out[DOCUMENT] = self.raw_document
        elif self.document is not None:
            out[DOCUMENT] = encode(self.document)
        return out

    def set_weights(self, blob: bytes, index: int = 0) -> None:
        """Replace a weight file and keep model.json's size and SHA-256 consistent with it."""
        assert self.document is not None
        entry = self.document["weights"]["files"][index]
        self.files[entry["path"]] = blob
        self.document["weights"]["files"][index] = file_entry(entry["path"], blob)


def base_bundle() -> Bundle:
    tensors = base_tensors()
    weights = safetensors_bytes(tensors)
    return Bundle(base_document(tensors, weights), {WEIGHTS: weights})


@dataclass
class Case:
    id: str
    description: str
    code: str
    pointer: str | None
    build: Callable[[Path], None]


CASES: list[Case] = []


def case(
    code: str, pointer: str | None, description: str
) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    """Register a case; the decorated function returns a Bundle (written as a directory),
    a list of Entry (written as bundle.kif) or raw bytes (written as bundle.kif)."""

    def decorate(make: Callable[[], Any]) -> Callable[[], Any]:
        case_id = make.__name__.replace("_", "-")
        if any(c.id == case_id for c in CASES):
            raise ValueError(f"duplicate case {case_id}")

        def build(folder: Path) -> None:
            made = make()
            if isinstance(made, Bundle):
                write_directory(folder / "bundle", made.members())
            elif isinstance(made, list):
                (folder / "bundle.kif").write_bytes(zip_bytes(made))
            else:
                (folder / "bundle.kif").write_bytes(made)

        CASES.append(Case(case_id, description, code, pointer, build))
        return make

    return decorate


def write_directory(root: Path, members: dict[str, bytes]) -> None:
    root.mkdir(parents=True)
    for name, data in sorted(members.items()):
        (root / name).write_bytes(data)


def archive(bundle: Bundle | None = None) -> list[Entry]:
    """The members of a bundle as archive entries, model.json last (as writers emit it)."""
    members = (bundle or base_bundle()).members()
    names = sorted(n for n in members if n != DOCUMENT) + (
        [DOCUMENT] if DOCUMENT in members else []
    )
    return [Entry(n, members[n]) for n in names]


def edited(edit: Callable[[dict[str, Any]], Any]) -> Bundle:
    """The base bundle with model.json changed by ``edit`` (weights untouched)."""
    bundle = base_bundle()
    assert bundle.document is not None
    edit(bundle.document)
    return bundle


# container and archive safety


@case(
    "archive-unsafe-path",
    None,
    "Archive member name climbs out of the bundle with '..'",
)
def archive_path_traversal() -> list[Entry]:
    return [*archive(), Entry("../evil.txt", b"escaped\n")]


@case("archive-unsafe-path", None, "Archive member name is an absolute path")
def archive_absolute_path() -> list[Entry]:
    return [*archive(), Entry("/tmp/evil.txt", b"absolute\n")]


@case("archive-unsafe-path", None, "Archive member name contains a backslash")
def archive_backslash_path() -> list[Entry]:
    return [*archive(), Entry("sub\\evil.txt", b"backslash\n")]


@case("archive-unsafe-path", None, "Archive member is a directory entry")
def archive_directory_member() -> list[Entry]:
    return [*archive(), Entry("extra/", b"")]


@case(
    "bundle-symlink",
    None,
    "Archive member is a symbolic link (Unix mode in external attributes)",
)
def archive_symlink_member() -> list[Entry]:
    return [*archive(), Entry("notes.txt", b"/etc/passwd", external_attr=_SYMLINK)]


@case("bundle-symlink", None, "Weight file of a bundle directory is a symbolic link")
def directory_symlink_file() -> Bundle:
    return base_bundle()  # _make_symlink (below) then replaces the weight file with a link


@case("archive-duplicate-member", None, "Archive holds the weight file twice")
def archive_duplicate_member() -> list[Entry]:
    entries = archive()
    return [entries[0], Entry(WEIGHTS, entries[0].data), *entries[1:]]


@case(
    "archive-compressed-member",
    None,
    "Weight file is DEFLATE-compressed instead of STORED",
)
def archive_deflated_member() -> list[Entry]:
    entries = archive()
    weights = entries[0]
    return [
        Entry(WEIGHTS, weights.data, method=8, raw=deflate_stored(weights.data)),
        *entries[1:],
    ]


@case(
    "archive-encrypted-member", None, "Weight file member has the encryption flag set"
)
def archive_encrypted_flag() -> list[Entry]:
    entries = archive()
    entries[0].flags = 0x1
    return entries


@case("archive-bomb", None, "Member declares 1 GiB in a 2 KB archive")
def archive_zip_bomb() -> list[Entry]:
    return [*archive(), Entry("bomb.bin", b"\0" * 16, declared_size=1 << 30)]


@case("archive-bomb", None, "Member data overlaps the next member's header and data")
def archive_overlapping_members() -> list[Entry]:
    entries = archive()
    return [Entry("overlap.bin", b"", covers_next=True), *entries]


@case("archive-too-many-members", None, "Archive holds 4097 empty members, one over the limit")
def archive_too_many_members() -> list[Entry]:
    # 4,097 empty members cost ~350 KB: a limit (max_archive_members, 4,096) is worth one real case.
    return [*archive(), *(Entry(f"m{i}", b"") for i in range(4097))]


@case(
    "archive-corrupt",
    None,
    "Local header names a different member than the central directory",
)
def archive_local_header_mismatch() -> list[Entry]:
    entries = archive()
    entries[0].local_name = "weights.safetensorz"
    return entries


@case("archive-corrupt", None, "Local header says DEFLATED where the central directory says STORED")
def archive_local_method_mismatch() -> list[Entry]:
    entries = archive()
    entries[0].local_method = 8
    return entries


@case("archive-corrupt", None, "Local header declares other sizes than the central directory")
def archive_local_size_mismatch() -> list[Entry]:
    entries = archive()
    entries[0].local_size = len(entries[0].data) - 8
    return entries


@case("archive-unsafe-path", None, "Archive member name ends in a newline")
def archive_newline_name() -> list[Entry]:
    return [*archive(), Entry("notes.txt\n", b"a newline ends the name\n")]


@case("archive-corrupt", None, "Member needs ZIP version 9.9 to extract")
def archive_unsupported_version() -> list[Entry]:
    entries = archive()
    entries[0].version = 99
    return entries


@case(
    "bundle-unlisted-member",
    None,
    "Archive member is neither model.json nor a listed file",
)
def archive_unlisted_member() -> list[Entry]:
    return [*archive(), Entry("notes.txt", b"not part of the bundle\n")]


@case("bundle-missing-member", None, "Archive lacks model.json")
def archive_missing_model_json() -> list[Entry]:
    return [e for e in archive() if e.name != DOCUMENT]


@case("bundle-unreadable", None, "bundle.kif is not a ZIP archive")
def not_a_zip() -> bytes:
    return b"KIF? no: this file is plain text, not a ZIP archive.\n" * 4


@case(
    "bundle-unreadable",
    None,
    "Archive cut short: the end-of-central-directory record is missing",
)
def archive_truncated() -> bytes:
    return zip_bytes(archive())[:-40]


# graph document


@case("bundle-missing-member", None, "Bundle directory lacks model.json")
def missing_model_json() -> Bundle:
    bundle = base_bundle()
    bundle.document = None
    return bundle


@case("document-invalid-json", None, "model.json is not JSON")
def model_json_not_json() -> Bundle:
    bundle = base_bundle()
    bundle.raw_document = b'{"kif_version": "0.1.0", "layers": [\n'
    return bundle


@case("document-invalid-json", None, "model.json is not UTF-8")
def model_json_not_utf8() -> Bundle:
    bundle = base_bundle()
    bundle.raw_document = encode(bundle.document or {}).replace(b'"mlp"', b'"ml\xe9"')
    return bundle


@case("document-invalid-json", None, "model.json repeats an object key")
def duplicate_json_key() -> Bundle:
    bundle = base_bundle()
    bundle.raw_document = encode(bundle.document or {}).replace(
        b' "name": "mlp",', b' "name": "mlp",\n "name": "other",'
    )
    return bundle


@case("document-invalid-json", None, "model.json holds NaN, which JSON does not allow")
def nan_in_json() -> Bundle:
    bundle = base_bundle()
    assert bundle.document is not None
    bundle.document["inputs"][0]["meta"] = {"value_range": [0.0, 1.0]}
    text = encode(bundle.document)
    assert text.count(b"1.0\n") == 1
    bundle.raw_document = text.replace(b"1.0\n", b"NaN\n")
    return bundle


@case("document-invalid-json", None, "model.json nests arrays 200 deep, beyond the limit of 64")
def deep_nesting_document() -> Bundle:
    bundle = base_bundle()
    text = encode(bundle.document or {})
    bundle.raw_document = text.replace(b' "name": "mlp",', b' "name": "mlp",\n "deep": ' + b"[" * 200 + b"]" * 200 + b",", 1)
    return bundle


@case("document-invalid-json", None, "model.json holds a lone UTF-16 surrogate escape")
def surrogate_in_document() -> Bundle:
    bundle = base_bundle()
    text = encode(bundle.document or {})
    bundle.raw_document = text.replace(b' "name": "mlp",', b' "name": "mlp",\n "description": "bad \\udc80 text",', 1)
    return bundle


@case("limit-exceeded", "/inputs/0/shape", "Graph input declares a dimension of 2^64")
def huge_dimension() -> Bundle:
    return edited(lambda d: d["inputs"][0].update(shape=[None, 2**64]))


@case(
    "document-invalid-json",
    None,
    "model.json holds a number too large for a double (1e999)",
)
def number_out_of_range() -> Bundle:
    bundle = base_bundle()
    assert bundle.document is not None
    bundle.document["inputs"][0]["meta"] = {"value_range": [0.0, 1.0]}
    text = encode(bundle.document)
    bundle.raw_document = text.replace(b"1.0\n", b"1e999\n")
    return bundle


@case("schema-violation", "", "model.json is a JSON array, not an object")
def document_not_object() -> Bundle:
    bundle = base_bundle()
    bundle.raw_document = b"[]\n"
    return bundle


@case("schema-violation", "", "model.json lacks the required layers field")
def schema_missing_layers() -> Bundle:
    return edited(lambda d: d.pop("layers"))


@case(
    "schema-violation",
    "/inputs/0/dtype",
    "Graph input has a dtype outside the closed list",
)
def schema_bad_dtype() -> Bundle:
    return edited(lambda d: d["inputs"][0].update(dtype="float8"))


@case(
    "schema-violation",
    "/inputs/0/meta/color_order",
    "Typed input metadata has an unknown colour order",
)
def schema_bad_input_meta() -> Bundle:
    return edited(lambda d: d["inputs"][0].update(meta={"color_order": "CMYK"}))


@case(
    "version-unsupported-major",
    "/kif_version",
    "kif_version has an unknown major version (2.0.0)",
)
def unknown_major_version() -> Bundle:
    return edited(lambda d: d.update(kif_version="2.0.0"))


@case("schema-violation", "/kif_version", "kif_version is not a semantic version")
def malformed_version() -> Bundle:
    return edited(lambda d: d.update(kif_version="0.1"))


# layers


@case(
    "layer-type-unknown",
    "/layers/0/type",
    "Layer type is neither in the catalog nor namespaced",
)
def unknown_layer_type() -> Bundle:
    return edited(lambda d: d["layers"][0].update(type="Frobnicate"))


@case(
    "layer-type-too-new",
    "/layers/0/type",
    "Layer type appeared after the document's kif_version",
)
def layer_type_too_new() -> Bundle:
    return edited(lambda d: d.update(kif_version="0.0.1"))


@case(
    "layer-type-too-new",
    "/layers/0/attributes/activation",
    "Activation name appeared after the document's kif_version (celu in 0.1.0)",
)
def activation_too_new() -> Bundle:
    return edited(lambda d: d["layers"][0]["attributes"].update(activation="celu"))


@case(
    "layer-attribute-unknown",
    "/layers/0/attributes/kernel_initializer",
    "Layer has an attribute its type does not define",
)
def unknown_attribute() -> Bundle:
    return edited(
        lambda d: d["layers"][0]["attributes"].update(
            kernel_initializer="glorot_uniform"
        )
    )


@case(
    "layer-attribute-missing",
    "/layers/0/attributes/activation",
    "Layer omits an attribute (canonical form emits all)",
)
def missing_attribute() -> Bundle:
    return edited(lambda d: d["layers"][0]["attributes"].pop("activation"))


@case(
    "layer-attribute-invalid",
    "/layers/0/attributes/units",
    "Attribute value breaks the layer schema (units=0)",
)
def invalid_attribute_value() -> Bundle:
    return edited(lambda d: d["layers"][0]["attributes"].update(units=0))


@case("layer-arity", "/layers/0/inputs", "Dense layer called on two inputs")
def wrong_arity() -> Bundle:
    return edited(lambda d: d["layers"][0].update(inputs=["x", "x"]))


@case(
    "layer-weight-missing",
    "/layers/0/weights/bias",
    "Layer with use_bias lacks its bias weight",
)
def missing_weight_role() -> Bundle:
    return edited(lambda d: d["layers"][0]["weights"].pop("bias"))


@case(
    "layer-weight-unknown",
    "/layers/0/weights/gamma",
    "Layer names a weight role its type does not define",
)
def unknown_weight_role() -> Bundle:
    return edited(lambda d: d["layers"][0]["weights"].update(gamma="dense_1/bias"))


@case(
    "layer-weight-rank",
    "/layers/0/weights/kernel",
    "Dense kernel references a rank-1 tensor",
)
def wrong_weight_rank() -> Bundle:
    return edited(lambda d: d["layers"][0]["weights"].update(kernel="dense_1/bias"))


@case(
    "weights-reference-unknown",
    "/layers/0/weights/kernel",
    "Layer references a tensor missing from the weights index",
)
def weight_reference_unknown() -> Bundle:
    return edited(lambda d: d["layers"][0]["weights"].update(kernel="dense_9/kernel"))


# graph


@case(
    "graph-dangling-reference",
    "/layers/1/inputs/0",
    "Layer reads a tensor nothing produces",
)
def dangling_tensor_reference() -> Bundle:
    return edited(lambda d: d["layers"][1].update(inputs=["dense_0"]))


@case("graph-cycle", "/layers/0/inputs/0", "Two layers read each other's output")
def cycle() -> Bundle:
    return edited(lambda d: d["layers"][0].update(inputs=["dense_2"]))


@case("graph-cycle", "/layers/0/inputs/0", "Layer reads its own output")
def self_loop() -> Bundle:
    return edited(lambda d: d["layers"][0].update(inputs=["dense_1"]))


@case("graph-not-topological", "/layers/0/inputs/0", "Layers listed consumer first")
def non_topological_order() -> Bundle:
    return edited(lambda d: d.update(layers=d["layers"][::-1]))


@case("graph-duplicate-name", "/layers/1/name", "Two layers share a name")
def duplicate_layer_name() -> Bundle:
    return edited(lambda d: d["layers"][1].update(name="dense_1"))


@case("graph-duplicate-name", "/inputs/1/name", "Two graph inputs share a name")
def duplicate_input_name() -> Bundle:
    return edited(lambda d: d["inputs"].append(copy.deepcopy(d["inputs"][0])))


@case(
    "graph-duplicate-tensor",
    "/layers/1/outputs/0",
    "Two layers produce the same tensor name",
)
def duplicate_tensor() -> Bundle:
    def edit(doc: dict[str, Any]) -> None:
        doc["layers"][1]["outputs"] = ["dense_1"]
        doc["outputs"][0].update(name="dense_1", shape=[None, 3])

    return edited(edit)


@case(
    "graph-output-unproduced",
    "/outputs/0/name",
    "Graph output names a tensor nothing produces",
)
def output_not_produced() -> Bundle:
    return edited(lambda d: d["outputs"][0].update(name="logits"))


@case(
    "shape-mismatch", "/layers/0", "Graph input width disagrees with the first kernel"
)
def shape_mismatch_input() -> Bundle:
    return edited(lambda d: d["inputs"][0].update(shape=[None, 5]))


@case(
    "shape-mismatch",
    "/outputs/0",
    "Declared output shape disagrees with shape inference",
)
def shape_mismatch_output() -> Bundle:
    return edited(lambda d: d["outputs"][0].update(shape=[None, 7]))


# weights index and files


@case(
    "bundle-missing-member",
    "/weights/files/0/path",
    "Weight file listed in model.json is absent",
)
def weights_file_missing() -> Bundle:
    bundle = base_bundle()
    del bundle.files[WEIGHTS]
    return bundle


@case(
    "weights-file-unknown",
    "/weights/tensors/dense_1~1bias/file",
    "Index entry names a file weights.files lacks",
)
def weights_file_unknown() -> Bundle:
    return edited(
        lambda d: d["weights"]["tensors"]["dense_1/bias"].update(
            file="other.safetensors"
        )
    )


@case(
    "weights-file-duplicate",
    "/weights/files/1/path",
    "weights.files lists the same file twice",
)
def weights_file_duplicate() -> Bundle:
    return edited(
        lambda d: d["weights"]["files"].append(dict(d["weights"]["files"][0]))
    )


@case("weights-truncated", None, "Weight file ends in the middle of its data section")
def truncated_safetensors() -> Bundle:
    bundle = base_bundle()
    blob = bundle.files[WEIGHTS]
    bundle.set_weights(blob[: header_end(blob) + 20])
    return bundle


@case("weights-truncated", None, "Weight file is shorter than its 8-byte length prefix")
def safetensors_shorter_than_prefix() -> Bundle:
    bundle = base_bundle()
    bundle.set_weights(b"\x10\x00\x00\x00")
    # The schema requires size >= 8, so the document claims 8 and the size check fires too.
    assert bundle.document is not None
    bundle.document["weights"]["files"][0]["size"] = 8
    return bundle


@case("weights-header-invalid", None, "Header length runs past the end of the file")
def header_length_lie() -> Bundle:
    bundle = base_bundle()
    blob = bundle.files[WEIGHTS]
    bundle.set_weights(struct.pack("<Q", len(blob) * 4) + blob[8:])
    return bundle


@case(
    "weights-header-too-large",
    None,
    "Header length claims 200 MB, above the reader limit",
)
def header_too_large() -> Bundle:
    bundle = base_bundle()
    blob = bundle.files[WEIGHTS]
    bundle.set_weights(struct.pack("<Q", 200 * 1024 * 1024) + blob[8:])
    return bundle


@case("weights-header-invalid", None, "Header nests its metadata 200 deep, beyond the limit of 64")
def header_deep_nesting() -> Bundle:
    bundle = base_bundle()
    blob = bundle.files[WEIGHTS]
    end = header_end(blob)
    header = b'{"__metadata__":' + b"[" * 200 + b"]" * 200 + b"," + blob[9:end].rstrip(b" ")
    header += b" " * (-(8 + len(header)) % 8)
    bundle.set_weights(struct.pack("<Q", len(header)) + header + blob[end:])
    return bundle


@case("weights-header-invalid", None, "Header bytes are not JSON")
def header_not_json() -> Bundle:
    bundle = base_bundle()
    blob = bundle.files[WEIGHTS]
    end = header_end(blob)
    bundle.set_weights(blob[:8] + b"{" + b"x" * (end - 9) + blob[end:])
    return bundle


@case(
    "weights-header-invalid",
    "/dense_1~1bias/dtype",
    "Header declares a dtype outside the closed list",
)
def header_unknown_dtype() -> Bundle:
    bundle = base_bundle()
    blob = bundle.files[WEIGHTS]
    end = header_end(blob)
    header = blob[8:end].replace(b'"F32"', b'"F8E"', 1)
    bundle.set_weights(blob[:8] + header + blob[end:])
    return bundle


@case(
    "weights-offsets-invalid",
    "/dense_2~1bias/data_offsets",
    "Tensor data overlaps the previous tensor",
)
def overlapping_offsets() -> Bundle:
    bundle = base_bundle()
    tensors = base_tensors()
    body = b"".join(t.data for t in tensors)
    offsets = {"dense_2/bias": [56, 64], "dense_2/kernel": [64, 88]}
    bundle.set_weights(safetensors_bytes(tensors, offsets, body[:56] + body[60:]))
    return bundle


@case(
    "weights-offsets-invalid",
    "/dense_2~1bias/data_offsets",
    "Tensor data leaves a gap after the previous tensor",
)
def gap_in_offsets() -> Bundle:
    bundle = base_bundle()
    tensors = base_tensors()
    body = b"".join(t.data for t in tensors)
    offsets = {"dense_2/bias": [64, 72], "dense_2/kernel": [72, 96]}
    bundle.set_weights(
        safetensors_bytes(tensors, offsets, body[:60] + b"\0" * 4 + body[60:])
    )
    return bundle


@case(
    "weights-offsets-invalid",
    "/dense_1~1bias/data_offsets",
    "Offsets span more bytes than the shape and dtype need",
)
def offsets_disagree_with_shape() -> Bundle:
    bundle = base_bundle()
    tensors = base_tensors()
    tensors[0] = Tensor("dense_1/bias", "float32", [2], tensors[0].data)
    bundle.set_weights(safetensors_bytes(tensors))
    assert bundle.document is not None
    bundle.document["weights"]["tensors"]["dense_1/bias"]["shape"] = [2]
    return bundle


@case(
    "weights-offsets-invalid", None, "Data section has trailing bytes no tensor covers"
)
def trailing_data() -> Bundle:
    bundle = base_bundle()
    bundle.set_weights(bundle.files[WEIGHTS] + b"\0" * 8)
    return bundle


@case(
    "weights-shape-mismatch",
    "/weights/tensors/dense_1~1bias/shape",
    "Index shape differs from the file header",
)
def shape_mismatch_index_vs_header() -> Bundle:
    return edited(lambda d: d["weights"]["tensors"]["dense_1/bias"].update(shape=[4]))


@case(
    "weights-dtype-mismatch",
    "/weights/tensors/dense_1~1bias/dtype",
    "Index dtype differs from the file header",
)
def dtype_mismatch() -> Bundle:
    return edited(
        lambda d: d["weights"]["tensors"]["dense_1/bias"].update(dtype="float16")
    )


@case(
    "weights-tensor-missing",
    "/weights/tensors/dense_2~1bias",
    "Indexed tensor is absent from its file",
)
def tensor_missing_from_file() -> Bundle:
    bundle = base_bundle()
    bundle.set_weights(
        safetensors_bytes([t for t in base_tensors() if t.name != "dense_2/bias"])
    )
    return bundle


@case(
    "weights-tensor-extra",
    "/stray",
    "Weight file holds a tensor the index does not list",
)
def extra_tensor_in_file() -> Bundle:
    bundle = base_bundle()
    bundle.set_weights(
        safetensors_bytes(
            [*base_tensors(), Tensor("stray", "float32", [1], _values(1, 0))]
        )
    )
    return bundle


@case(
    "weights-checksum-mismatch",
    "/weights/files/0/sha256",
    "A tensor data byte differs from the file model.json hashed",
)
def checksum_mismatch() -> Bundle:
    bundle = base_bundle()
    blob = bytearray(bundle.files[WEIGHTS])
    blob[-1] ^= 0x40
    bundle.files[WEIGHTS] = bytes(blob)
    return bundle


@case(
    "weights-size-mismatch",
    "/weights/files/0/size",
    "weights.files records a size the file does not have",
)
def size_mismatch() -> Bundle:
    return edited(
        lambda d: d["weights"]["files"][0].update(
            size=d["weights"]["files"][0]["size"] + 8
        )
    )


@case(
    "self-test-invalid",
    "/outputs/0",
    "Self-test file lacks the golden tensor of a graph output",
)
def self_test_missing_output() -> Bundle:
    bundle = base_bundle()
    assert bundle.document is not None
    sample = safetensors_bytes([Tensor("inputs/x", "float32", [1, 4], _values(4, 1))])
    bundle.files["self_test.safetensors"] = sample
    bundle.document["self_test"] = {
        **file_entry("self_test.safetensors", sample),
        "rtol": 1e-5,
        "atol": 1e-6,
    }
    bundle.document["self_test"]["file"] = bundle.document["self_test"].pop("path")
    return bundle


@case("self-test-invalid", "/inputs/0", "Self-test input is float16 where the graph input is float32")
def self_test_wrong_dtype() -> Bundle:
    bundle = base_bundle()
    assert bundle.document is not None
    half = b"".join(struct.pack("<e", v / 8) for v in range(4))
    sample = safetensors_bytes(
        [Tensor("inputs/x", "float16", [1, 4], half), Tensor("outputs/dense_2", "float32", [1, 2], _values(2, 1))]
    )
    bundle.files["self_test.safetensors"] = sample
    bundle.document["self_test"] = {**file_entry("self_test.safetensors", sample), "rtol": 1e-5, "atol": 1e-6}
    bundle.document["self_test"]["file"] = bundle.document["self_test"].pop("path")
    return bundle


# -- driver -----------------------------------------------------------------------


def _make_symlink(folder: Path) -> None:
    weights = folder / "bundle" / WEIGHTS
    weights.unlink()
    os.symlink("../../outside/weights.safetensors", weights)


_POST = {"directory-symlink-file": _make_symlink}


def generate(out: Path = DEFAULT_OUT) -> list[str]:
    """Write every case under ``out``, replacing this module's earlier case folders (other generators' stay); return the ids."""
    out.mkdir(parents=True, exist_ok=True)
    for c in CASES:
        if (out / c.id).exists():
            shutil.rmtree(out / c.id)
    for c in CASES:
        folder = out / c.id
        folder.mkdir()
        c.build(folder)
        if c.id in _POST:
            _POST[c.id](folder)
        spec = {
            "id": c.id,
            "description": c.description,
            "expect": {"code": c.code, "pointer": c.pointer},
        }
        (folder / "case.json").write_text(
            json.dumps(spec, indent=2) + "\n", encoding="utf-8"
        )
    return [c.id for c in CASES]


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
    print(f"wrote {len(generate(target))} cases to {target}")
