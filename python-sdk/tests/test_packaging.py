"""The distribution as a user gets it: sdist → wheel → a fresh venv outside the repository → the main job.

And the README's first set-up command, run in a copy of the repository (what a fresh clone holds) with nothing beside
it. Both run offline: the venvs are new and hold only kif-format; the third-party packages they need (NumPy, h5py, the
build backend) come from this interpreter's site-packages through a path file, which — unlike
``--system-site-packages`` — does not process the editable install of the checkout under test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import venv
from pathlib import Path

import numpy as np
import pytest

from tests.test_readme import _setup_commands

SDK = Path(__file__).resolve().parents[1]
REPO = SDK.parent
EXAMPLES = SDK / "examples"


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 600) -> str:
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert result.returncode == 0, f"{argv}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr
    return result.stdout


def _fresh_venv(where: Path) -> tuple[Path, dict[str, str]]:
    """A new venv whose site-packages sees this interpreter's third-party packages but not its editable kif."""
    venv.EnvBuilder(with_pip=False, symlinks=True).create(where)
    python = where / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], where).strip())
    (site / "_host_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "PIP_"))}
    # pip from the host, no index, no build isolation: nothing is downloaded
    env |= {"PATH": f"{where / 'bin'}{os.pathsep}{env.get('PATH', '')}", "PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0"}
    env |= {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "KERAS_BACKEND": "torch"}
    return python, env


def _check_main_job(bin_dir: Path, cwd: Path, env: dict[str, str]) -> None:
    kif = str(bin_dir / "kif")
    _run([kif, "convert", str(EXAMPLES / "cnn_tfkeras.h5"), "cnn.kif"], cwd, env)
    assert "valid" in _run([kif, "validate", "cnn.kif"], cwd, env)
    _run([kif, "run", "cnn.kif", "--inputs", str(EXAMPLES / "cnn_inputs.npz"), "--output", "out.npz"], cwd, env)
    got = next(iter(np.load(cwd / "out.npz").values()))
    np.testing.assert_allclose(got, np.load(EXAMPLES / "cnn_expected.npz")["output_0"], rtol=1e-4, atol=1e-4)


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(out / "sdist"), str(SDK)], out)
    (sdist,) = (out / "sdist").glob("kif_format-*.tar.gz")
    with tarfile.open(sdist) as archive:
        archive.extractall(out / "unpacked", filter="data")
    (unpacked,) = (out / "unpacked").iterdir()
    # The wheel is built from the unpacked sdist alone, which has no ../schemas or ../conformance beside it.
    _run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out / "wheel"), str(unpacked)], out)
    (wheel,) = (out / "wheel").glob("kif_format-*-py3-none-any.whl")
    return {"sdist": sdist, "unpacked": unpacked, "wheel": wheel}


def test_sdist_is_self_contained(dists: dict[str, Path]) -> None:
    unpacked = dists["unpacked"]
    assert (unpacked / "src" / "kif" / "_schemas" / "graph.schema.json").is_file()
    runner = {p.name for p in (REPO / "conformance" / "runner").glob("*.py")}
    assert {p.name for p in (unpacked / "src" / "kif" / "_conformance" / "runner").glob("*.py")} == runner, "every runner module ships"
    assert (unpacked / "LICENSE").read_bytes() == (REPO / "LICENSE").read_bytes() == (SDK / "LICENSE").read_bytes()
    assert not (unpacked / "tests").exists(), "tests and their third-party fixtures stay in the repository"
    metadata = (unpacked / "PKG-INFO").read_text(encoding="utf-8")
    assert "Name: kif-format" in metadata and "License-Expression: Apache-2.0" in metadata
    assert "Requires-Dist: h5py" in metadata and "Project-URL: Changelog" in metadata


def test_wheel_from_sdist_installs_in_a_fresh_venv_and_runs_the_main_job(dists: dict[str, Path], tmp_path: Path) -> None:
    python, env = _fresh_venv(tmp_path / "venv")
    _run([str(python), "-m", "pip", "install", "--no-deps", str(dists["wheel"])], tmp_path, env)
    work = tmp_path / "work"
    work.mkdir()
    probe = "import kif, kif.schemas as s, kif.conformance as c; print(kif.__file__); print(s.schema_dir()); print(c.suite_dir())"
    located = _run([str(python), "-c", probe], work, env).split()
    site = tmp_path / "venv" / "lib"
    assert all(Path(p).is_relative_to(site) for p in located), f"kif must come from the venv, not the checkout: {located}"
    assert _run([str(python), "-m", "kif", "--version"], work, env).startswith("kif 0.1.0")
    _check_main_job(tmp_path / "venv" / "bin", work, env)
    # The suite ships in the wheel (kif/_conformance): it runs with no source tree.
    kif = str(tmp_path / "venv" / "bin" / "kif")
    ran = _run([kif, "conformance", "run", "--backend", "reference", "-k", "models/mlp", "-q"], work, env)
    assert "1 passed, 0 failed" in ran, ran
    # kif view's assets (script, style, vendored dagre and its licence) ship as package data.
    _run([kif, "view", "cnn.kif", "-o", "cnn.html"], work, env)
    assert "Copyright (c) 2012-2014 Chris Pettitt" in (work / "cnn.html").read_text(encoding="utf-8")


def test_python_dash_m_kif_is_the_kif_command() -> None:
    via_module = _run([sys.executable, "-m", "kif", "--version"], SDK)
    assert via_module.strip() == f"kif {__import__('kif').__version__} (spec {__import__('kif').SPEC_VERSION})"
    assert "usage: kif validate" in _run([sys.executable, "-m", "kif", "validate", "--help"], SDK)


def test_readme_first_command_works_in_a_fresh_clone(tmp_path: Path) -> None:
    """A copy of what a clone holds (tracked and new, not ignored, files), nothing beside it, the command verbatim."""
    listed = _run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], REPO)
    clone = tmp_path / "clone"
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file() or source.is_symlink():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, clone / name, follow_symlinks=False)
    _python, env = _fresh_venv(tmp_path / "venv")
    first = _setup_commands()[0]
    _run(["bash", "-c", first], clone, env)
    got = next(iter(np.load(clone / "cnn_outputs.npz").values()))
    np.testing.assert_allclose(got, np.load(EXAMPLES / "cnn_expected.npz")["output_0"], rtol=1e-4, atol=1e-4)
