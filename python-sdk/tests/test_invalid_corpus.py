"""The broken-bundle corpus (conformance/invalid): reproducible, and every case rejected as it says.

A case passes when the validator reports an error with the expected code at the
expected location (never message text), ``kif.load`` raises ``kif.ValidationError``
and ``kif validate`` exits 1 (2 when the input cannot be read) without a traceback.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import kif
from kif import codes
from kif.cli import main
from kif.conformance import runner

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "conformance" / "invalid"
GENERATORS = sorted((ROOT / "conformance" / "generators").glob("invalid_*.py"))  # each writes its own cases
UNREADABLE = {"bundle-not-found", "bundle-unreadable", "archive-corrupt"}  # `kif validate` exits 2 for these

# Error codes no committed case triggers, and why (spec/errors.md, "Negative cases"): none since the runner
# prepares the absent, padded and numeric cases; each still has a test of its own below as well.
EXEMPT: dict[str, str] = {}


def _generator(path: Path) -> ModuleType:
    if path.stem in sys.modules:
        return sys.modules[path.stem]
    sys.path.insert(0, str(path.parent))  # a generator may import another (invalid_digests builds on invalid_bundles)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # dataclasses look their module up while the class is created
    spec.loader.exec_module(module)
    return module


def _cases() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if (p / "case.json").is_file())


def _spec(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "case.json").read_text(encoding="utf-8"))
    return data


def _target(folder: Path) -> Path:
    bundle = folder / "bundle"
    return bundle if bundle.is_dir() else folder / "bundle.kif"


@contextlib.contextmanager
def _prepared(folder: Path) -> Iterator[Path]:
    """The path a validator is given for this case, prepared by the runner (absent, or padded past 64 MiB)."""
    case = runner().Case("invalid/" + folder.name, "invalid", folder, _spec(folder))
    with runner().invalid_target(case) as target:
        yield target


def _level(folder: Path) -> str:
    return str(_spec(folder).get("validation_level", "full"))


def _tree(root: Path) -> dict[str, tuple[str, bytes]]:
    """Relative path -> (kind, content); symlinks are compared by target, never followed."""
    out: dict[str, tuple[str, bytes]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                out[rel] = ("link", os.readlink(path).encode())
            elif path.is_file():
                out[rel] = ("file", path.read_bytes())
            else:
                out[rel] = ("dir", b"")
    return out


CASES = _cases()
IDS = [p.name for p in CASES]


def test_generator_reproduces_the_committed_corpus(tmp_path: Path) -> None:
    ids = [case_id for path in GENERATORS for case_id in _generator(path).generate(tmp_path / "invalid")]
    assert sorted(ids) == IDS
    fresh, committed = _tree(tmp_path / "invalid"), _tree(CORPUS)
    assert sorted(fresh) == sorted(committed)
    different = [name for name in fresh if fresh[name] != committed[name]]
    assert not different, f"regenerate with python conformance/generators/invalid_*.py: {different}"


def test_corpus_lints_itself() -> None:
    assert len(CASES) >= 35
    descriptions = set()
    for folder in CASES:
        spec = _spec(folder)
        prepared = set(spec) - {"id", "description", "expect"}  # how the runner prepares the case, at most one way
        assert prepared in (set(), {"bundle_absent"}, {"pad_document_to"}, {"validation_level"}), folder.name
        assert spec["id"] == folder.name
        assert set(spec["expect"]) in ({"code", "pointer"}, {"code", "pointer", "severity"}), folder.name
        description = spec["description"]
        assert 0 < len(description) <= 80 and "should" not in description.lower(), folder.name
        assert description not in descriptions, f"duplicate description {description!r}"
        descriptions.add(description)
        code, pointer = spec["expect"]["code"], spec["expect"]["pointer"]
        assert codes.CODES[code][0] == spec["expect"].get("severity", codes.ERROR), folder.name
        assert spec["expect"].get("severity") != codes.ERROR, f"{folder.name}: severity error is the default, left out"
        assert pointer is None or pointer == "" or pointer.startswith("/"), folder.name
        bundles = [p for p in ("bundle", "bundle.kif") if (folder / p).exists() or (folder / p).is_symlink()]
        assert len(bundles) == (0 if spec.get("bundle_absent") else 1), folder.name
    total = sum(len(content) for _, content in _tree(CORPUS).values())
    # 640 KB: ~230 KB of small cases plus archive-too-many-members (4,097 real members, ~350 KB: a limit needs one real case)
    assert total < 640 * 1024, f"the corpus holds {total} bytes; keep it tiny"


def test_every_bundle_error_code_is_covered() -> None:
    covered = {_spec(folder)["expect"]["code"] for folder in CASES}
    errors = {code for code, (severity, _) in codes.CODES.items() if severity == codes.ERROR}
    assert set(EXEMPT) <= errors, "stale exemption"
    assert not covered & set(EXEMPT), "exempt code is covered after all"
    assert errors - set(EXEMPT) - covered == set()


@pytest.mark.parametrize("folder", CASES, ids=IDS)
def test_case_is_rejected_with_its_code_and_pointer(folder: Path) -> None:
    expect = _spec(folder)["expect"]
    with _prepared(folder) as target:
        report = kif.validate(target, level=_level(folder))
    if expect.get("severity") == codes.WARNING:  # a warning case holds a valid bundle
        assert report.ok, report.errors
        assert (expect["code"], expect["pointer"]) in [(f.code, f.pointer) for f in report.warnings]
        return
    assert not report.ok
    found = [(f.code, f.pointer) for f in report.errors]
    assert (expect["code"], expect["pointer"]) in found, found


@pytest.mark.parametrize("folder", CASES, ids=IDS)
def test_load_raises_validation_error(folder: Path) -> None:
    expect = _spec(folder)["expect"]
    if expect.get("severity") == codes.WARNING or _level(folder) == "numeric":
        # a valid bundle loads (warnings never stop a reader; a reader does not run the self-test)
        assert kif.load(_target(folder)).layers
        return
    if _spec(folder).get("bundle_absent") or "pad_document_to" in _spec(folder):
        with _prepared(folder) as target, pytest.raises(kif.ValidationError) as prepared:
            kif.load(target)
        assert prepared.value.code == expect["code"]
        return
    if expect["code"] == "weights-checksum-mismatch" and (expect["pointer"] or "").startswith("/weights/tensors/"):
        # A tensor's digest is checked on its first read (spec/integrity.md): load opens, reading it raises.
        weights = kif.load(_target(folder)).weights
        with pytest.raises(kif.KifError) as read:
            [weights[name] for name in weights]
        assert (read.value.code, read.value.pointer) == (expect["code"], expect["pointer"])
        return
    with pytest.raises(kif.ValidationError) as caught:
        kif.load(_target(folder))
    error = caught.value
    assert (expect["code"], expect["pointer"]) in [(f.code, f.pointer) for f in error.findings]
    assert error.code == next(f.code for f in error.findings if f.severity == codes.ERROR)
    assert f"[{error.code}]" in str(error)
    if expect["code"] != "weights-checksum-mismatch":  # the one rule verify=False skips by design
        with pytest.raises(kif.ValidationError):
            kif.load(_target(folder), verify=False)


@pytest.mark.parametrize("folder", CASES, ids=IDS)
def test_cli_exit_code_without_traceback(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expect = _spec(folder)["expect"]
    with _prepared(folder) as target:
        level = ["--level", _level(folder)]
        status = main(["validate", *level, str(target)])
        out, err = capsys.readouterr()
        assert main(["validate", *level, "--json", str(target)]) == status
    warning = expect.get("severity") == codes.WARNING
    assert status == (0 if warning else 2 if expect["code"] in UNREADABLE else 1), out
    if expect["code"] == "bundle-not-found":  # one line naming the path, no report (test_cli_messages.py)
        assert out.strip() == f"{_target(folder)}: does not exist", out
    else:
        assert expect["code"] in out and ("INVALID" not in out if warning else "INVALID" in out)
    assert "Traceback" not in out + err
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is warning
    assert {"code": expect["code"], "pointer": expect["pointer"]}.items() <= next(
        f for f in report["findings"] if f["code"] == expect["code"] and f["pointer"] == expect["pointer"]
    ).items()


@pytest.mark.parametrize("case", ["not-a-zip", "cycle", "archive-zip-bomb"])
def test_cli_in_a_real_process(case: str) -> None:
    target = _target(CORPUS / case)
    done = subprocess.run([sys.executable, "-m", "kif.cli", "validate", str(target)], capture_output=True, text=True, check=False)
    assert done.returncode == (2 if case == "not-a-zip" else 1)
    assert "Traceback" not in done.stdout + done.stderr


# -- the prepared cases' codes, with the SDK's API and CLI -------------------------


def _valid_bundle(path: Path) -> Path:
    b = kif.GraphBuilder("tiny")
    x = b.input("x", "float32", (None, 2))
    b.output(b.add("Dense", x, name="dense", units=2, weights={"kernel": np.eye(2, dtype="float32"), "bias": np.zeros(2, "float32")}))
    kif.save(b.build(), path)
    return path


def test_missing_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.kif"
    report = kif.validate(missing)
    assert [(f.code, f.pointer) for f in report.errors] == [("bundle-not-found", None)]
    with pytest.raises(kif.ValidationError) as caught:
        kif.load(missing)
    assert caught.value.code == "bundle-not-found"
    assert main(["validate", str(missing)]) == 2
    assert "Traceback" not in "".join(capsys.readouterr())


def test_too_many_members(tmp_path: Path) -> None:
    gen = _generator(ROOT / "conformance" / "generators" / "invalid_bundles.py")
    entries = [*gen.archive(), *(gen.Entry(f"m{i}", b"") for i in range(4097))]
    path = tmp_path / "many.kif"
    path.write_bytes(gen.zip_bytes(entries))
    assert ("archive-too-many-members", None) in [(f.code, f.pointer) for f in kif.validate(path).errors]
    with pytest.raises(kif.ValidationError):
        kif.load(path)


def test_document_too_large(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _valid_bundle(tmp_path / "m.kif")
    with kif.limits.override(max_document_bytes=100):
        assert ("document-too-large", None) in [(f.code, f.pointer) for f in kif.validate(path).errors]
        with pytest.raises(kif.ValidationError):
            kif.load(path)


def test_self_test_mismatch(tmp_path: Path) -> None:
    b = kif.GraphBuilder("tiny")
    x = b.input("x", "float32", (None, 2))
    b.output(b.add("Dense", x, name="dense", units=2, weights={"kernel": np.eye(2, dtype="float32"), "bias": np.zeros(2, "float32")}))
    sample = np.array([[1.0, 2.0]], dtype="float32")
    wrong = kif.SelfTest({"x": sample}, {"dense": sample + 1}, rtol=1e-6, atol=1e-6)
    path = kif.save(b.build(self_test=wrong), tmp_path / "m.kif")
    assert kif.validate(path).ok  # structure and weights are fine; only running it tells
    report = kif.validate(path, level="numeric")
    assert [(f.code, f.pointer) for f in report.errors] == [("self-test-mismatch", "/outputs~1dense")]
    right = kif.SelfTest({"x": sample}, {"dense": sample}, rtol=1e-6, atol=1e-6)
    assert kif.validate(kif.save(b.build(self_test=right), tmp_path / "ok.kif"), level="numeric").ok


# -- beyond the corpus: damaged bytes never escape as another exception type ----------


def _outcome(path: Path) -> str:
    """'ok' or the first error code; anything but a ValidationError from load fails the test."""
    report = kif.validate(path, level="numeric")
    try:
        model = kif.load(path)
    except kif.ValidationError as exc:
        assert not report.ok and exc.code == report.errors[0].code
        return exc.code
    bad = {f.pointer for f in report.errors}
    for name in model.weights:  # tensor digests are checked on first read: exactly the ones validate named fail
        try:
            model.weights[name]
        except kif.KifError as exc:
            assert exc.code == "weights-checksum-mismatch" and exc.pointer in bad, (exc, report.errors)
            bad.discard(exc.pointer)
    assert not bad, f"validate reported {bad} but reading every tensor raised nothing for them"
    return "ok" if report.ok else "weights-checksum-mismatch"


def test_random_byte_damage_is_always_a_validation_error(tmp_path: Path) -> None:
    rng = np.random.default_rng(2024)
    b = kif.GraphBuilder("fuzz")
    x = b.input("x", "float32", (None, 3))
    b.output(b.add("Dense", x, name="dense", units=2, weights={"kernel": np.ones((3, 2), "float32"), "bias": np.zeros(2, "float32")}))
    sample = kif.SelfTest({"x": np.ones((1, 3), "float32")}, {"dense": np.full((1, 2), 3.0, "float32")}, rtol=1e-6, atol=1e-6)
    original = kif.save(b.build(self_test=sample), tmp_path / "base.kif").read_bytes()
    damaged = tmp_path / "damaged.kif"
    seen = set()
    for _ in range(300):
        data = bytearray(original)
        for position in rng.integers(0, len(data), size=int(rng.integers(1, 4))):
            data[position] = int(rng.integers(0, 256))
        damaged.write_bytes(bytes(data))
        seen.add(_outcome(damaged))
    assert len(seen) >= 4, seen  # the damage reached several stages, not only the checksum
