"""``kif view PATH [-o OUT]``: write the page, or serve it on 127.0.0.1 and print the URL."""

from __future__ import annotations

import argparse
from pathlib import Path

from kif.view.page import build_html


def command(args: argparse.Namespace) -> int:
    from kif.cli_input import check_bundle_input

    check_bundle_input(args.path, "view")
    force = bool(getattr(args, "force", False))
    if args.output:
        from kif.safe_write import atomic_file, check_target

        check_target(args.output, overwrite=force, sources=[args.path])  # before reading the bundle
    page = build_html(args.path, stats=not args.no_stats)
    if args.output:
        with atomic_file(args.output, overwrite=force, sources=[args.path]) as tmp:
            Path(tmp).write_text(page, encoding="utf-8")
        print(f"wrote {args.output}")
        return 0
    from kif.view.serve import serve

    serve(page, port=args.port, announce=lambda line: print(line, flush=True))
    return 0
