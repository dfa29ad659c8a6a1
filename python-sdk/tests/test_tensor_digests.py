"""Per-tensor digests (spec/integrity.md, spec 0.2.0): what the writer records, and that a reader checks each tensor
before its value is used — lazily on first read (``kif.load``), all of them up front (``kif validate``).

The oracle for every digest is ``hashlib.sha256`` over bytes located by parsing the safetensors header here, with the
standard library, independently of the SDK's reader.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

import kif
from kif.cli import main
from kif.errors import KifError, UsageError
from kif.validate import tensor_digests

KERNEL = np.arange(64 * 32, dtype="float32").reshape(64, 32) / 9.0
BIAS = np.linspace(-1, 1, 32, dtype="float32")
SCALE = np.linspace(0.5, 2, 32, dtype="float32")


def _model() -> kif.Model:
    b = kif.GraphBuilder("digests")
    x = b.input("x", "float32", (None, 64))
    h = b.add("Dense", x, name="d", units=32, weights={"kernel": KERNEL, "bias": BIAS})
    b.output(b.add("LayerNormalization", h, name="ln", weights={"gamma": SCALE, "beta": BIAS[::-1].copy()}))
    return b.build()


def _member(bundle: Path, name: str) -> bytes:
    if bundle.is_dir():
        return (bundle / name).read_bytes()
    with zipfile.ZipFile(bundle) as archive:
        return archive.read(name)


def _spans(data: bytes) -> tuple[bytes, dict[str, bytes]]:
    """The header bytes (length prefix + JSON) and each tensor's data bytes, parsed per the safetensors format."""
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    start = 8 + length
    spans = {k: data[start + v["data_offsets"][0] : start + v["data_offsets"][1]] for k, v in header.items() if k != "__metadata__"}
    return data[: 8 + length], spans


def _flip(bundle: Path, array: np.ndarray, out: Path) -> Path:
    """A copy of an archive with one byte inside ``array``'s data inverted (stored members: the bytes are in place)."""
    data = bytearray(bundle.read_bytes())
    at = data.index(array.tobytes()[:64]) + 5
    data[at] ^= 0xFF
    out.write_bytes(bytes(data))
    return out


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    return kif.save(_model(), tmp_path / "m.kif")


@pytest.mark.parametrize("form", ["archive", "directory"])
def test_writer_records_the_sha256_of_each_tensor_and_of_the_header(tmp_path: Path, form: str) -> None:
    bundle = kif.save(_model(), tmp_path / ("m.kif" if form == "archive" else "m"))
    doc = json.loads(_member(bundle, "model.json"))
    assert doc["kif_version"] == "0.2.0", "per-tensor digests are a 0.2.0 field"
    [entry] = doc["weights"]["files"]
    assert "sha256" not in entry, "the default form hashes each byte once: no whole-file digest"
    header, spans = _spans(_member(bundle, entry["path"]))
    assert entry["header_sha256"] == hashlib.sha256(header).hexdigest()
    assert set(spans) == set(doc["weights"]["tensors"])
    for name, data in spans.items():
        assert doc["weights"]["tensors"][name]["sha256"] == hashlib.sha256(data).hexdigest(), name
    assert kif.validate(bundle).ok


def test_file_form_keeps_a_0_1_model_at_0_1_and_both_form_validates(tmp_path: Path) -> None:
    whole = kif.save(_model(), tmp_path / "file.kif", digests="file")
    doc = json.loads(_member(whole, "model.json"))
    assert doc["kif_version"] == "0.1.0"
    [entry] = doc["weights"]["files"]
    assert entry["sha256"] == hashlib.sha256(_member(whole, entry["path"])).hexdigest()
    assert "header_sha256" not in entry and all("sha256" not in t for t in doc["weights"]["tensors"].values())
    both = kif.save(_model(), tmp_path / "both.kif", digests="both")
    doc = json.loads(_member(both, "model.json"))
    assert doc["kif_version"] == "0.2.0" and {"sha256", "header_sha256"} <= set(doc["weights"]["files"][0])
    assert kif.validate(whole).ok and kif.validate(both).ok
    with pytest.raises(UsageError) as info:
        kif.save(_model(), tmp_path / "x.kif", digests="blake3")
    assert "digests" in info.value.message and not (tmp_path / "x.kif").exists()


def test_lazy_open_hashes_nothing_until_a_tensor_is_read(archive: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = tensor_digests.digest
    monkeypatch.setattr(tensor_digests, "digest", lambda data: calls.append(len(data)) or real(data))
    model = kif.load(archive)
    assert calls == [], "opening checks the header digest only"
    assert model.weights.unverified() == sorted(model.weights)
    np.testing.assert_array_equal(model.weights["d/kernel"], KERNEL)
    assert calls == [KERNEL.nbytes], "the first read hashes exactly that tensor's bytes"
    model.weights["d/kernel"]
    assert calls == [KERNEL.nbytes], "a second read does not hash again"
    assert "d/kernel" not in model.weights.unverified()


@pytest.mark.parametrize("name, array", [("d/kernel", KERNEL), ("ln/gamma", SCALE)])
def test_a_flipped_byte_is_detected_on_that_tensors_first_read(archive: Path, tmp_path: Path, name: str, array: np.ndarray) -> None:
    bad = _flip(archive, array, tmp_path / "bad.kif")
    model = kif.load(bad)  # opens: headers are intact
    with pytest.raises(KifError) as info:
        model.weights[name]
    error = info.value
    assert error.code == "weights-checksum-mismatch"
    assert error.pointer == f"/weights/tensors/{name.replace('/', '~1')}/sha256"
    assert error.file is not None and error.file.endswith("weights.safetensors") and "bad.kif" in error.file
    with pytest.raises(KifError):
        model.weights[name]  # still refused: a bad tensor never becomes verified
    others = [n for n in model.weights if n != name]
    for other in others:
        model.weights[other]  # the intact tensors stay usable


def test_run_and_cli_give_one_line_for_a_corrupted_tensor(archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _flip(archive, KERNEL, tmp_path / "bad.kif")
    x = np.ones((1, 64), "float32")
    with pytest.raises(KifError) as info:
        kif.load(bad)(x)
    assert info.value.code == "weights-checksum-mismatch"
    np.save(tmp_path / "x.npy", x)
    code = main(["run", str(bad), "--inputs", str(tmp_path / "x.npy"), "--output", str(tmp_path / "out.npz")])
    err = capsys.readouterr().err
    assert code != 0 and "weights-checksum-mismatch" in err and "Traceback" not in err
    assert not (tmp_path / "out.npz").exists()


def test_eager_validate_reports_every_flipped_tensor_in_file_order(archive: Path, tmp_path: Path) -> None:
    bad = _flip(archive, KERNEL, tmp_path / "one.kif")
    worse = _flip(bad, SCALE, tmp_path / "two.kif")
    report = kif.validate(worse)
    mismatches = [f for f in report.errors if f.code == "weights-checksum-mismatch"]
    doc = json.loads(_member(archive, "model.json"))
    _, spans = _spans(_member(archive, "weights.safetensors"))  # the same layout as the corrupted copies
    order = [n for n in spans if n in ("d/kernel", "ln/gamma")]
    assert [f.pointer for f in mismatches] == [f"/weights/tensors/{n.replace('/', '~1')}/sha256" for n in order]
    assert len(doc["weights"]["tensors"]) == 4 and not report.ok


def test_a_changed_header_byte_is_refused_at_open(archive: Path, tmp_path: Path) -> None:
    data = bytearray(archive.read_bytes())
    entry = b'{"dtype":"F32","shape":[32],"data_offsets":[0,128]}'
    at = data.index(entry)  # d/bias's header entry, rewritten with its keys reordered: same meaning, other bytes
    data[at : at + len(entry)] = b'{"shape":[32],"dtype":"F32","data_offsets":[0,128]}'
    (tmp_path / "hdr.kif").write_bytes(bytes(data))
    with pytest.raises(kif.ValidationError) as info:
        kif.load(tmp_path / "hdr.kif")
    assert [(f.code, f.pointer) for f in info.value.findings if f.severity == "error"] == [
        ("weights-checksum-mismatch", "/weights/files/0/header_sha256")
    ]


def test_verify_false_reads_without_hashing(archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = _flip(archive, KERNEL, tmp_path / "bad.kif")
    calls: list[int] = []
    monkeypatch.setattr(tensor_digests, "digest", lambda data: calls.append(1) or "")
    model = kif.load(bad, verify=False)
    assert model.weights["d/kernel"].shape == KERNEL.shape and calls == []


def test_bulk_verify_checks_every_pending_tensor_once_and_names_the_bad_one(
    archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = tensor_digests.digest
    monkeypatch.setattr(tensor_digests, "digest", lambda data: calls.append(len(data)) or real(data))
    model = kif.load(archive)
    model.weights["d/bias"]
    model.weights.verify()
    assert sorted(calls) == sorted([BIAS.nbytes, KERNEL.nbytes, SCALE.nbytes, BIAS.nbytes])  # bias hashed once
    assert model.weights.unverified() == []
    model.weights["d/kernel"]
    assert len(calls) == 4, "verified tensors are not hashed again on read"
    bad = kif.load(_flip(archive, SCALE, tmp_path / "bad.kif"))
    with pytest.raises(KifError) as info:
        bad.weights.verify()
    assert info.value.pointer == "/weights/tensors/ln~1gamma/sha256"
    assert bad.weights.unverified() == ["ln/gamma"], "the tensors that matched count as verified"


def test_run_verifies_every_tensor_before_the_first_layer(archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = kif.load(_flip(archive, SCALE, tmp_path / "bad.kif"))  # ln/gamma feeds the last layer
    ran: list[str] = []
    from kif import runtime

    real = runtime._guard
    monkeypatch.setattr(runtime, "_guard", lambda kernel, layer, *a: ran.append(layer.name) or real(kernel, layer, *a))
    with pytest.raises(KifError) as info:
        kif.run(bad, np.ones((1, 64), "float32"))
    assert info.value.code == "weights-checksum-mismatch" and ran == [], "no layer ran on unverified weights"


def test_digests_cover_the_bytes_written_for_strided_and_big_endian_arrays(tmp_path: Path) -> None:
    """Arrays in file layout are hashed on other threads, the rest inline: both give the digest of the file bytes."""
    b = kif.GraphBuilder("layouts")
    x = b.input("x", "float32", (None, 32))
    kernel = np.asfortranarray(np.arange(32 * 16, dtype="float32").reshape(32, 16))  # strided: copied to write
    bias = np.linspace(0, 1, 16).astype(">f4")  # big-endian: swapped to write
    b.output(b.add("Dense", x, name="d", units=16, weights={"kernel": kernel, "bias": bias}))
    bundle = kif.save(b.build(), tmp_path / "m")
    doc = json.loads((bundle / "model.json").read_text())
    _, spans = _spans((bundle / "weights.safetensors").read_bytes())
    assert spans["d/kernel"] == np.ascontiguousarray(kernel).tobytes() and spans["d/bias"] == bias.astype("<f4").tobytes()
    for name, data in spans.items():
        assert doc["weights"]["tensors"][name]["sha256"] == hashlib.sha256(data).hexdigest(), name
    assert kif.validate(bundle).ok


@pytest.mark.parametrize("form", ["archive", "directory"])
def test_a_flip_in_a_tensor_large_enough_to_be_prefetched_is_still_caught_on_first_read(tmp_path: Path, form: str) -> None:
    """Tensors of a MiB and more are faulted in (madvise) before their hash: the check still sees the file's bytes."""
    big = (np.arange(512 * 1024, dtype="float32") * 0.25 - 7.0).reshape(1024, 512)  # 2 MiB
    b = kif.GraphBuilder("prefetched")
    x = b.input("x", "float32", (None, 1024))
    b.output(b.add("Dense", x, name="d", units=512, use_bias=False, weights={"kernel": big}))
    bundle = tmp_path / ("m.kif" if form == "archive" else "m")
    kif.save(b.build(), bundle, progress=False)
    np.testing.assert_array_equal(kif.load(bundle).weights["d/kernel"], big)
    if form == "archive":
        bad = _flip(bundle, big, tmp_path / "bad.kif")
    else:
        (weights,) = [p for p in bundle.rglob("*.safetensors")]
        data = bytearray(weights.read_bytes())
        data[data.index(big.tobytes()[4096:4160]) + 3] ^= 0x01
        weights.write_bytes(bytes(data))
        bad = bundle
    lazy = kif.load(bad)  # headers only: the flip is not touched yet
    with pytest.raises(KifError, match="d/kernel"):
        lazy.weights["d/kernel"]
