"""README.md's two set-up commands stay true: CI runs the test command verbatim, and the main job works."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def _setup_commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Set-up on a fresh machine", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section, flags=re.S)


def test_readme_has_exactly_two_setup_commands_and_ci_runs_the_second() -> None:
    commands = _setup_commands()
    assert len(commands) == 2
    assert all("\n" not in c for c in commands), "each set-up command is one line"
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert ci == commands[1]


def test_main_job_converts_validates_and_reproduces_tf_keras(tmp_path: Path) -> None:
    main_job = _setup_commands()[0]
    steps = [s.strip() for s in main_job.split("&&")]
    assert steps[0].startswith("python -m pip install")
    scripts = Path(sys.executable).parent
    for step in steps[1:]:  # the install step is what this test environment already did
        argv = [a.replace("python-sdk/", f"{REPO}/python-sdk/") for a in shlex.split(step)]
        argv[0] = str(scripts / argv[0]) if (scripts / argv[0]).exists() else argv[0]
        result = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=300, env={**os.environ})
        assert result.returncode == 0, f"{step}\n{result.stdout}\n{result.stderr}"
    outputs = np.load(tmp_path / "cnn_outputs.npz")
    expected = np.load(REPO / "python-sdk" / "examples" / "cnn_expected.npz")["output_0"]
    np.testing.assert_allclose(next(iter(outputs.values())), expected, rtol=1e-4, atol=1e-4)
