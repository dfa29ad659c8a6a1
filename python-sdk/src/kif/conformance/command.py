"""``kif conformance run|check``: find the suite, then hand over to its runner or to the suite lint."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from kif.conformance import runner, suite_dir
from kif.errors import KifError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _pop_suite(rest: list[str]) -> str | None:
    """``--suite PATH`` or ``--suite=PATH`` given after the action (argparse leaves it in the remainder)."""
    for index, arg in enumerate(rest):
        if arg == "--suite" and index + 1 < len(rest):
            value = rest[index + 1]
            del rest[index : index + 2]
            return value
        if arg.startswith("--suite="):
            del rest[index]
            return arg.partition("=")[2]
    return None


def command(action: str, suite: str | None, rest: Sequence[str]) -> int:
    """Exit status: 0 all passed (or the suite is sound), 1 failures, 2 no suite or nothing selected."""
    rest = list(rest)
    suite = _pop_suite(rest) or suite
    try:
        folder = suite_dir(suite)
    except KifError as exc:
        print(f"kif conformance: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if action == "check":
        if rest:
            print(f"kif conformance check: takes only --suite. Received: {' '.join(rest)}", file=sys.stderr)
            return EXIT_USAGE
        from kif.conformance.check import check_suite

        problems = check_suite(folder)
        for line in problems:
            print(line)
        print(f"{folder}: {'OK' if not problems else f'{len(problems)} problems'}")
        return EXIT_OK if not problems else EXIT_FAILED
    code: int = runner(folder).main([*rest, "--suite", str(folder)])
    return code


__all__ = ["command"]
