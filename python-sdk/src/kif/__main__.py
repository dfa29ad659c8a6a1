"""``python -m kif``: the ``kif`` command, for environments where the script is not on PATH."""

from __future__ import annotations

import sys

from kif.cli import main

if __name__ == "__main__":
    sys.exit(main())
