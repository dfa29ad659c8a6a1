"""Seeded fuzz properties; hypothesis keeps its caches in the temporary directory, never in the repository."""

import tempfile
from pathlib import Path

from hypothesis.configuration import set_hypothesis_home_dir

set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "kif-hypothesis")
