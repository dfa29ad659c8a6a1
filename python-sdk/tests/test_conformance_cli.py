"""``kif conformance`` without the source tree: --suite, the installed copy, a one-line hint, and -k by folder."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

import kif.conformance
from kif.cli import main

REPO_SUITE = Path(__file__).resolve().parents[2] / "conformance"


def _copy_suite(target: Path) -> Path:
    """A minimal suite: the runner, VERSION, the case schema, two model cases and one negative case."""
    for part in ("runner", "cases/models/mlp", "cases/layers_core/dense-3-linear-bias", "invalid/archive-path-traversal"):
        shutil.copytree(REPO_SUITE / part, target / part, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("VERSION", "case.schema.json"):
        shutil.copy(REPO_SUITE / name, target / name)
    return target


@pytest.fixture
def no_source_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary cwd, no $KIF_CONFORMANCE_DIR, neither a source tree nor an installed copy to find."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(kif.conformance.ENV, raising=False)
    monkeypatch.setattr(kif.conformance, "SOURCE_TREE", tmp_path / "no-source-tree")
    monkeypatch.setattr(kif.conformance, "PACKAGED", tmp_path / "no-installed-copy")
    monkeypatch.delitem(sys.modules, "kif_conformance", raising=False)  # load the runner from the copy
    return tmp_path


def test_the_suite_is_there_in_the_repository() -> None:
    assert (REPO_SUITE / "cases" / "layers_core" / "dense-3-linear-bias" / "case.json").is_file()


def test_no_suite_found_says_where_to_get_it_in_one_line(no_source_tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conformance", "run", "--backend", "reference"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "--suite PATH" in err and "KIF_CONFORMANCE_DIR" in err and "conformance/" in err
    assert "Traceback" not in err


def test_a_folder_that_is_not_a_suite_is_named(no_source_tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conformance", "run", "--suite", str(no_source_tree)]) == 2
    err = capsys.readouterr().err
    assert str(no_source_tree) in err and "runner/kif_conformance.py" in err


@pytest.mark.parametrize("where", ["after", "before"])
def test_run_with_suite_pointing_at_a_copy(no_source_tree: Path, capsys: pytest.CaptureFixture[str], where: str) -> None:
    copy = _copy_suite(no_source_tree / "copy")
    suite = ["--suite", str(copy)]
    argv = ["conformance", *suite, "run", "-q"] if where == "before" else ["conformance", "run", *suite, "-q"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "3 passed, 0 failed" in out
    assert sys.modules["kif_conformance"].__file__ == str(copy / "runner" / "kif_conformance.py")


def test_run_finds_the_copy_installed_with_the_package(
    no_source_tree: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    installed = _copy_suite(no_source_tree / "site-packages" / "kif" / "_conformance")
    monkeypatch.setattr(kif.conformance, "PACKAGED", installed)
    assert main(["conformance", "run", "-q", "-k", "dense-3"]) == 0
    assert "1 passed, 0 failed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("models/mlp", ["mlp"]),  # the folder path a user sees under cases/
        ("models/ml", ["mlp"]),  # substrings of it
        ("MODELS/MLP", ["mlp"]),
        ("models/*", ["mlp"]),
        ("layers_core/dense-3", ["dense-3-linear-bias"]),
        ("models", ["mlp"]),  # the group alone
        ("Dense", ["dense-3-linear-bias", "mlp"]),  # a layer type
        ("invalid/archive", ["invalid/archive-path-traversal"]),
        ("nothing-like-this", []),
    ],
)
def test_k_selects_by_folder_path_and_substrings(no_source_tree: Path, pattern: str, expected: list[str]) -> None:
    copy = _copy_suite(no_source_tree / "copy")
    module = kif.conformance.runner(copy)
    assert sorted(c.id for c in module.discover(copy, "extended", pattern)) == expected


def test_k_models_mlp_runs_one_case_from_the_cli(no_source_tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = _copy_suite(no_source_tree / "copy")
    assert main(["conformance", "run", "--suite", str(copy), "-k", "models/mlp"]) == 0
    out = capsys.readouterr().out
    assert "mlp" in out and "1 passed, 0 failed" in out and "dense-3-linear-bias" not in out


def test_check_honours_suite_given_after_the_action(no_source_tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A partial copy is not a sound suite (catalog types lack cases): check must lint the copy, not the repository.
    copy = _copy_suite(no_source_tree / "copy")
    assert main(["conformance", "check", "--suite", str(copy)]) == 1
    out = capsys.readouterr().out
    assert "catalog layer types without a case" in out and str(copy) in out
