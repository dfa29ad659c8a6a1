"""Writing a positive case whose bundle is built by hand (``kif.GraphBuilder``) and whose expected
outputs come from a NumPy formula in the generator, in any of the container forms a reader MUST
accept: a STORED archive, a bundle directory, a ZIP64 archive; weights in one or several files;
with or without a ``self_test`` member.

Like ``_suite.write_case``, the reference runtime MUST agree with the oracle and the bundle MUST
validate, or nothing is written.
"""

from __future__ import annotations

import json
import shutil
import struct
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kif
import numpy as np
from _suite import CaseDisagrees, tolerance_for, worst

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runner"))
from kif_tensors import save_tensors  # the runner's own reader reads these back

Arrays = dict[str, np.ndarray]
_DATE = (0x21 << 0) | (1 << 5) | (0 << 9)  # 1980-01-01 in MS-DOS form (day 1, month 1, year 0)


@dataclass
class Packed:
    id: str
    description: str
    model: Callable[[], kif.Model]  # the bundle: kif.GraphBuilder(...).build()
    inputs: Arrays
    oracle: Callable[[kif.Model, Arrays], Arrays]  # expected outputs, by name, from the weights: never kif.run
    form: str = "archive"  # archive | directory | zip64
    shard_bytes: int | None = None  # kif.save(max_shard_bytes=...): several weight files
    self_test: bool = False  # store the case's inputs and expected outputs as the bundle's self_test
    tolerance: dict[str, Any] | None = None  # {"dtype", "rtol", "atol", "reason"}; default: the catalog classes
    level: str = "core"
    sections: list[str] = field(default_factory=list)


def write_packed(group: str, case: Packed, out: Path) -> None:
    model = case.model()
    expected = {k: np.ascontiguousarray(v) for k, v in case.oracle(model, case.inputs).items()}
    types = sorted({layer.type for layer in model.layers})
    out_dtypes = {s.dtype for s in model.outputs}
    dtype = next((d for d in ("bfloat16", "float16", "float64") if d in out_dtypes), "float32")
    tol = dict(case.tolerance) if case.tolerance else {"dtype": dtype, **tolerance_for(types, dtype)}
    if case.self_test:
        model.self_test = kif.SelfTest(dict(case.inputs), dict(expected), tol["rtol"], tol["atol"])
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / ("model" if case.form == "directory" else "model.kif")
        kif.save(model, staged, max_shard_bytes=case.shard_bytes)
        if case.form == "zip64":
            rewrite_zip64(staged)
        _check(case, staged, expected, tol)
        folder = out / case.id
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        if case.form == "directory":
            shutil.copytree(staged, folder / "model.kif")
        else:
            shutil.copyfile(staged, folder / "model.kif")
        document = json.loads(_document(staged))
    save_tensors(case.inputs, folder / "inputs.safetensors")
    save_tensors(expected, folder / "expected.safetensors")
    record = {
        "id": case.id,
        "description": case.description,
        "group": group,
        "level": case.level,
        "spec_version": document["kif_version"],
        "spec_sections": [f"spec/layers/{t}.md" for t in types] + case.sections,
        "layer_types": types,
        "oracle": "numpy-formula",
        "tolerance": tol,
        "inputs": [s.name for s in model.inputs],
        "outputs": [s.name for s in model.outputs],
    }
    (folder / "case.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def _document(bundle: Path) -> str:
    if bundle.is_dir():
        return (bundle / "model.json").read_text(encoding="utf-8")
    with zipfile.ZipFile(bundle) as archive:
        return archive.read("model.json").decode()


def _check(case: Packed, bundle: Path, expected: Arrays, tol: dict[str, Any]) -> None:
    report = kif.validate(bundle)
    if not report.ok:
        raise CaseDisagrees(f"{case.id}: bundle invalid: {[str(f) for f in report.errors]}")
    loaded = kif.load(bundle)
    got = kif.run(loaded, case.inputs)
    for spec in loaded.outputs:
        g, w = np.asarray(got[spec.name]), expected[spec.name]
        if g.shape != w.shape or g.dtype != w.dtype or worst(g, w, tol["rtol"], tol["atol"]) > 1:
            raise CaseDisagrees(f"{case.id}: reference runtime disagrees with the oracle on {spec.name}: {g!r} vs {w!r}")


def rewrite_zip64(path: Path) -> None:
    """Rewrite a STORED archive with ZIP64 records throughout: 0xFFFFFFFF sizes and offsets with the 64-bit
    values in zip64 extra fields (local and central), a zip64 end-of-central-directory record and its locator.
    Member order, names, bytes and CRCs are kept; "version needed to extract" is 4.5, as ZIP64 requires."""
    with zipfile.ZipFile(path) as archive:
        members = [(info.filename, archive.read(info.filename)) for info in archive.infolist()]
    body, central = bytearray(), bytearray()
    for name, data in members:
        raw, crc, offset = name.encode("ascii"), zlib.crc32(data), len(body)
        local_extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
        body += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, _DATE, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(raw), len(local_extra))
        body += raw + local_extra + data
        extra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), offset)
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, _DATE, crc, 0xFFFFFFFF, 0xFFFFFFFF,
            len(raw), len(extra), 0, 0, 0, 0o100644 << 16, 0xFFFFFFFF,
        )  # fmt: skip
        central += raw + extra
    start, count = len(body), len(members)
    end64 = start + len(central)
    tail = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, len(central), start)
    tail += struct.pack("<IIQI", 0x07064B50, 0, end64, 1)
    tail += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    path.write_bytes(bytes(body + central + tail))
