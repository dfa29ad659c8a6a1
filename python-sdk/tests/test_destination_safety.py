"""A writer creates, or atomically replaces, only a KIF bundle: it never removes what it did not create.

Every write path (kif.save, kif.keras.convert, kif convert, a failure mid-write) is run in a folder
holding a sibling file and a sibling folder, which must come out byte-identical; destinations that
are the source, a non-empty folder, a foreign file, a link or a name with a foreign suffix are
refused with files intact; an existing bundle is replaced only with overwrite=True / --force.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kif
from kif.bundle import atomic, safetensors_io
from kif.bundle.atomic import clean_stale
from kif.cli import main
from kif.graph import Layer
from kif.keras import convert

H5 = Path(__file__).resolve().parent / "fixtures" / "keras" / "tf_keras" / "mlp_activations" / "model.h5"


def _model(seed: int = 1) -> kif.Model:
    rng = np.random.default_rng(seed)
    b = kif.GraphBuilder(f"model_{seed}")
    x = b.input("x", "float32", (None, 32))
    weights = {"kernel": rng.normal(size=(32, 32)).astype("float32"), "bias": np.zeros(32, "float32")}
    b.output(b.add("Dense", x, name="dense", units=32, weights=weights))
    return b.build()


def _tree(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` with its bytes (None for a folder)."""
    return {str(p.relative_to(folder)): (None if p.is_dir() else p.read_bytes()) for p in sorted(folder.rglob("*"))}


@pytest.fixture
def neighbours(tmp_path: Path) -> Callable[[], None]:
    """A sibling file and folder in the destination's parent; call the result to assert they are intact."""
    (tmp_path / "notes.txt").write_bytes(b"keep me\n")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "data.bin").write_bytes(os.urandom(256))
    before = {k: v for k, v in _tree(tmp_path).items() if k == "notes.txt" or k.startswith("other")}

    def check() -> None:
        after = _tree(tmp_path)
        assert {k: after.get(k) for k in before} == before
        assert not [k for k in after if k.startswith((".kif-tmp-", ".kif-old-"))]

    return check


def _cli(*args: Any) -> int:
    return main([str(a) for a in args])


# -- every write path leaves its neighbours alone ------------------------------------------------

WRITERS: dict[str, Callable[[Path], Any]] = {
    "save": lambda dst: kif.save(_model(), dst),
    "convert": lambda dst: convert(H5, dst, progress=False),
    "cli": lambda dst: _cli("convert", H5, dst),
}


@pytest.mark.parametrize("name", ["out", "out.kif"])
@pytest.mark.parametrize("writer", list(WRITERS))
def test_siblings_survive_a_write_and_a_forced_rewrite(tmp_path: Path, neighbours: Callable[[], None], writer: str, name: str) -> None:
    target = tmp_path / name
    WRITERS[writer](target)
    assert kif.validate(target).ok
    neighbours()
    if writer == "cli":
        assert _cli("convert", H5, target, "--force") == 0
    elif writer == "save":
        kif.save(_model(2), target, overwrite=True)
        assert kif.load(target).name == "model_2"
    else:
        convert(H5, target, progress=False, overwrite=True)
    assert kif.validate(target).ok
    neighbours()


class _DiskFull:
    def __init__(self, stream: Any) -> None:
        self._stream, self._written = stream, 0

    def write(self, data: Any) -> int:
        self._written += len(bytes(data))
        if self._written > 1000:
            raise OSError(28, "No space left on device")
        return int(self._stream.write(data))


@pytest.mark.parametrize("existing", [False, True])
@pytest.mark.parametrize("name", ["out", "out.kif"])
@pytest.mark.parametrize("writer", list(WRITERS))
def test_failure_mid_write_keeps_siblings_and_the_old_bundle(
    tmp_path: Path, neighbours: Callable[[], None], monkeypatch: pytest.MonkeyPatch, writer: str, name: str, existing: bool
) -> None:
    target = tmp_path / name
    if existing:
        kif.save(_model(7), target)
    before = _tree(tmp_path)
    real = safetensors_io.write
    monkeypatch.setattr(safetensors_io, "write", lambda stream, *a, **k: real(_DiskFull(stream), *a, **k))
    if writer == "cli":
        assert _cli("convert", H5, target, *(["--force"] if existing else [])) == 2
    else:
        with pytest.raises(kif.KifError) as caught:
            if writer == "save":
                kif.save(_model(), target, overwrite=existing)
            else:
                convert(H5, target, progress=False, overwrite=existing)
        assert caught.value.code == "write-failed" and ".kif-tmp" not in str(caught.value)
        assert "No space left on device" in str(caught.value)
    monkeypatch.undo()
    assert _tree(tmp_path) == before  # the old bundle byte for byte, or still nothing
    neighbours()


def test_cli_error_never_names_a_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    real = safetensors_io.write
    monkeypatch.setattr(safetensors_io, "write", lambda stream, *a, **k: real(_DiskFull(stream), *a, **k))
    assert _cli("convert", H5, tmp_path / "out.kif") == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and ".kif-tmp" not in err and str(tmp_path / "out.kif") in err


# -- the source is never the destination -----------------------------------------------------------


def test_convert_onto_its_source_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "copy.h5"
    shutil.copy(H5, copy)
    original = copy.read_bytes()
    assert _cli("convert", copy, copy) == 2
    assert "source" in capsys.readouterr().err
    assert _cli("convert", copy, copy, "--force") == 2
    assert copy.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.h5"]


@pytest.mark.parametrize("link", ["hard", "symbolic"])
def test_a_link_to_the_source_is_refused(tmp_path: Path, link: str) -> None:
    copy = tmp_path / "copy.h5"
    shutil.copy(H5, copy)
    original = copy.read_bytes()
    alias = tmp_path / "alias"  # no suffix: would otherwise be a bundle directory name
    os.link(copy, alias) if link == "hard" else alias.symlink_to(copy)
    with pytest.raises(kif.KifError) as caught:
        convert(copy, alias, overwrite=True)
    assert caught.value.code == "write-refused"
    assert copy.read_bytes() == original and alias.read_bytes() == original


def test_a_bundle_folder_holding_the_source_is_refused(tmp_path: Path) -> None:
    bundle = kif.save(_model(), tmp_path / "bundle")
    inside = bundle / "model.h5"
    shutil.copy(H5, inside)
    with pytest.raises(kif.KifError) as caught:
        convert(inside, bundle, overwrite=True)
    assert caught.value.code == "write-refused" and "source" in caught.value.message
    assert inside.read_bytes() == H5.read_bytes()


# -- what exists at the destination ------------------------------------------------------------------


@pytest.mark.parametrize("force", [False, True])
def test_a_non_empty_folder_is_refused_with_its_files_intact(tmp_path: Path, force: bool, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "somedir"
    folder.mkdir()
    (folder / "thesis.tex").write_text("years of work")
    (folder / "sub").mkdir()
    (folder / "sub" / "fig.png").write_bytes(b"\x89PNG")
    before = _tree(tmp_path)
    assert _cli("convert", H5, folder, *(["--force"] if force else [])) == 2
    assert "thesis.tex" in capsys.readouterr().err
    with pytest.raises(kif.KifError) as caught:
        kif.save(_model(), folder, overwrite=force)
    assert caught.value.code == "write-refused"
    assert _tree(tmp_path) == before


def test_a_bundle_folder_with_foreign_files_is_never_replaced(tmp_path: Path) -> None:
    bundle = kif.save(_model(), tmp_path / "bundle")
    (bundle / "README.md").write_text("my notes")
    before = _tree(tmp_path)
    with pytest.raises(kif.KifError) as caught:
        kif.save(_model(2), bundle, overwrite=True)
    assert caught.value.code == "write-refused" and "README.md" in caught.value.message
    assert _tree(tmp_path) == before


@pytest.mark.parametrize("name", ["model", "model.kif"])
@pytest.mark.parametrize("content", [b"not a bundle", b"PK\x05\x06" + bytes(18)])  # plain bytes; an empty ZIP
def test_an_existing_non_bundle_file_is_refused_always(tmp_path: Path, name: str, content: bytes) -> None:
    target = tmp_path / name
    target.write_bytes(content)
    for overwrite in (False, True):
        with pytest.raises(kif.KifError) as caught:
            kif.save(_model(), target, overwrite=overwrite)
        assert caught.value.code == "write-refused" and "not a KIF bundle" in caught.value.message
        assert _cli("convert", H5, target, "--force") == 2
    assert target.read_bytes() == content


def test_a_keras_archive_is_not_taken_for_a_bundle(tmp_path: Path) -> None:
    keras_file = H5.parent / "model.keras"
    target = tmp_path / "model.kif"
    shutil.copy(keras_file, target)  # a ZIP, but with config.json, not model.json
    with pytest.raises(kif.KifError, match="not a KIF bundle"):
        kif.save(_model(), target, overwrite=True)
    assert target.read_bytes() == keras_file.read_bytes()


@pytest.mark.parametrize("name", ["out", "out.kif"])
def test_an_existing_bundle_needs_overwrite(tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    target = kif.save(_model(1), tmp_path / name)
    before = _tree(tmp_path)
    with pytest.raises(kif.KifError) as caught:
        kif.save(_model(2), target)
    assert caught.value.code == "write-refused" and "overwrite=True" in caught.value.message
    assert _cli("convert", H5, target) == 2
    assert "--force" in capsys.readouterr().err
    assert _tree(tmp_path) == before
    assert _cli("convert", H5, target, "--force") == 0
    assert kif.load(target).name != "model_1" and kif.validate(target).ok


def test_replacing_a_bundle_keeps_its_form(tmp_path: Path) -> None:
    """A bundle directory named with a dot stays a directory; an archive named without .kif stays an archive."""
    folder = kif.save(_model(1), tmp_path / "resnet-1.5", archive=False)
    kif.save(_model(2), folder, overwrite=True)
    assert folder.is_dir() and kif.load(folder).name == "model_2"
    archive = kif.save(_model(1), tmp_path / "plain", archive=True)
    kif.save(_model(2), archive, overwrite=True)
    assert archive.is_file() and kif.load(archive).name == "model_2"


def test_an_empty_folder_is_filled(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    kif.save(_model(), folder)
    assert kif.validate(folder).ok and (folder / "model.json").is_file()


def test_a_symbolic_link_destination_is_refused(tmp_path: Path) -> None:
    real = kif.save(_model(1), tmp_path / "real.kif")
    link = tmp_path / "link.kif"
    link.symlink_to(real)
    before = real.read_bytes()
    with pytest.raises(kif.KifError, match="symbolic link"):
        kif.save(_model(2), link, overwrite=True)
    assert link.is_symlink() and real.read_bytes() == before


# -- names ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["out.keras", "out.safetensors", "out.h5", "out.zip", "out.json", "out.v2"])
def test_a_foreign_suffix_is_refused(tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(kif.KifError) as caught:
        kif.save(_model(), tmp_path / name)
    assert caught.value.code == "write-refused"
    assert ".kif" in caught.value.message and "without a suffix" in caught.value.message
    with pytest.raises(kif.KifError):
        convert(H5, tmp_path / name)
    assert _cli("convert", H5, tmp_path / name) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and name in err
    assert list(tmp_path.iterdir()) == []


def test_an_explicit_form_accepts_any_name(tmp_path: Path) -> None:
    assert kif.save(_model(), tmp_path / "a.bin", archive=True).is_file()
    assert kif.save(_model(), tmp_path / "b.d", archive=False).is_dir()


def test_a_missing_output_folder_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "nowhere" / "m.kif"
    with pytest.raises(kif.KifError) as caught:
        kif.save(_model(), target)
    assert caught.value.code == "write-failed" and "does not exist" in caught.value.message
    assert "nowhere" in caught.value.message and ".kif-tmp" not in str(caught.value)
    assert _cli("convert", H5, target) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and ".kif-tmp" not in err
    assert list(tmp_path.iterdir()) == []


def test_refusal_exit_code_in_a_real_process(tmp_path: Path) -> None:
    (tmp_path / "somedir").mkdir()
    (tmp_path / "somedir" / "keep.txt").write_text("x")
    done = subprocess.run(
        [sys.executable, "-m", "kif.cli", "convert", str(H5), str(tmp_path / "somedir")], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr and "[write-refused]" in done.stderr
    assert (tmp_path / "somedir" / "keep.txt").read_text() == "x"


# -- validation before writing ---------------------------------------------------------------------------


def _broken(kind: str) -> kif.Model:
    m = _model()
    dense = m.layers[0]
    if kind == "no-outputs":
        return dataclasses.replace(m, outputs=[])
    if kind == "missing-weight":
        return dataclasses.replace(m, weights={"dense/kernel": m.weights["dense/kernel"]})
    if kind == "dangling":
        return dataclasses.replace(m, layers=[Layer("dense", "Dense", dense.attributes, ["nope"], dense.outputs, dense.weights)])
    weights = {"dense/kernel": np.ones((5, 32), "float32"), "dense/bias": np.zeros(32, "float32")}
    return dataclasses.replace(m, weights=weights)


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("no-outputs", "schema-violation"),
        ("missing-weight", "weights-reference-unknown"),
        ("dangling", "graph-dangling-reference"),
        ("wrong-shape", "shape-mismatch"),
    ],
)
@pytest.mark.parametrize("name", ["out", "out.kif"])
def test_an_invalid_model_is_refused_before_anything_is_written(tmp_path: Path, kind: str, code: str, name: str) -> None:
    with pytest.raises(kif.ValidationError) as caught:
        kif.save(_broken(kind), tmp_path / name)
    assert caught.value.code == code and "Nothing was written" in caught.value.message
    assert caught.value.findings and caught.value.findings[0].code == code
    assert list(tmp_path.iterdir()) == []


def test_check_false_writes_an_invalid_bundle_on_purpose(tmp_path: Path) -> None:
    """For tests and corpora of broken bundles; the validator then reports the finding."""
    path = kif.save(_broken("dangling"), tmp_path / "bad.kif", check=False)
    assert "graph-dangling-reference" in [f.code for f in kif.validate(path).errors]


# -- what a killed writer left -------------------------------------------------------------------------


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_next_write_cleans_what_a_dead_writer_left(tmp_path: Path, neighbours: Callable[[], None]) -> None:
    tag, dead = atomic._host_tag(), _dead_pid()
    stale_dir = tmp_path / f".kif-tmp-{tag}-{dead}-{'a' * 16}"
    stale_dir.mkdir()
    (stale_dir / "weights.safetensors").write_bytes(b"partial")
    stale_file = tmp_path / f".kif-tmp-{tag}-{dead}-{'b' * 16}"
    stale_file.write_bytes(b"partial archive")
    live = tmp_path / f".kif-tmp-{tag}-{os.getppid()}-{'c' * 16}"  # a live process: never touched
    live.write_bytes(b"in progress")
    elsewhere = tmp_path / f".kif-tmp-00000000-{dead}-{'d' * 16}"  # another host's: its pid means nothing here
    elsewhere.write_bytes(b"x")
    lookalike = tmp_path / ".kif-tmp-mine"  # not a name the writer makes
    lookalike.write_bytes(b"x")
    kif.save(_model(), tmp_path / "m.kif")
    names = {p.name for p in tmp_path.iterdir()}
    assert stale_dir.name not in names and stale_file.name not in names
    assert {live.name, elsewhere.name, lookalike.name, "m.kif", "notes.txt", "other"} == names
    for path in (live, elsewhere, lookalike):
        path.unlink()
    neighbours()


def test_a_bundle_moved_aside_by_a_dead_writer_is_put_back(tmp_path: Path) -> None:
    """Killed between the two renames of a directory swap: the final name is empty, the old bundle aside."""
    target = kif.save(_model(1), tmp_path / "m")
    before = _tree(target)
    holder = tmp_path / f".kif-old-{atomic._host_tag()}-{_dead_pid()}-{'e' * 16}"
    holder.mkdir()
    target.rename(holder / "m")
    assert clean_stale(tmp_path) == [holder.name]
    assert _tree(target) == before and sorted(p.name for p in tmp_path.iterdir()) == ["m"]
