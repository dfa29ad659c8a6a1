"""The ``kif`` command line: thin wrappers that parse, call the API and print.

Exit codes: 0 success / valid; 1 invalid bundle or failed check; 2 could not read
the input (missing, unreadable, another format), a missing optional dependency, or bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from kif import __version__
from kif.errors import KifError, ValidationError

EXIT_OK, EXIT_INVALID, EXIT_UNREADABLE = 0, 1, 2
# Errors that mean "could not read the input, or bad usage" (exit 2); every other KifError is a failed check (exit 1).
_UNREADABLE = {"bundle-not-found", "bundle-unreadable", "archive-corrupt", "input-format", "usage", "write-failed", "run-inputs"}
_UNREADABLE_PREFIXES = ("convert-unreadable", "convert-usage", "dependency-missing", "write-refused")


def exit_code(code: str) -> int:
    """The exit status for a KifError code, as the help's epilog promises."""
    return EXIT_UNREADABLE if code in _UNREADABLE or code.startswith(_UNREADABLE_PREFIXES) else EXIT_INVALID


def _cmd_validate(args: argparse.Namespace) -> int:
    from kif.cli_validate import validate_command

    return validate_command(args)


def _cmd_inspect(args: argparse.Namespace) -> int:
    from kif.cli_input import check_bundle_input
    from kif.inspect import describe, render

    check_bundle_input(args.path, "inspect")
    info = describe(args.path)
    print(json.dumps(info, indent=2) if args.json else render(info))
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    from kif.cli_run import run_command

    return run_command(args)


def _cmd_layers(args: argparse.Namespace) -> int:
    from kif.inspect import layer_table, render_layer_table

    rows = layer_table()
    print(json.dumps(rows, indent=2) if args.json else render_layer_table(rows))
    return EXIT_OK


def _cmd_convert(args: argparse.Namespace) -> int:
    from kif.cli_input import convert_kind

    convert_kind(args.src, args.dst, args.weights)  # names a format kif convert does not read, and what to do
    if str(args.dst).lower().endswith(".onnx"):
        from kif.onnx.export import export

        print(f"wrote {export(args.src, args.dst, overwrite=args.force)}")
        return EXIT_OK
    from kif.keras import convert

    target = convert(args.src, args.dst, weights=args.weights, allow_custom=args.allow_custom, custom=args.custom, overwrite=args.force)
    print(f"wrote {target}")
    return EXIT_OK


def _cmd_diff(args: argparse.Namespace) -> int:
    from kif.diff import diff, dumps, render

    result = diff(args.a, args.b)
    print(dumps(result) if args.json else render(result))
    return EXIT_OK if result["identical"] else EXIT_INVALID


def _cmd_view(args: argparse.Namespace) -> int:
    from kif.view.command import command

    return command(args)


def _cmd_conformance(args: argparse.Namespace) -> int:
    from kif.conformance.command import command

    return command(args.action, args.suite, args.rest)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kif",
        description="KIF: validate, inspect and run framework-neutral model bundles.",
        epilog="Exit codes: 0 ok; 1 invalid bundle or failed check (a layer cannot be converted, the model failed to run); "
        "2 missing, unreadable or wrong-format input, missing optional dependency, or usage error.",
    )
    parser.add_argument("--version", action="version", version=f"kif {__version__} (spec {__import__('kif').SPEC_VERSION})")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "validate",
        help="check a bundle and list every finding",
        description="Check a bundle: archive safety, schema, graph, weights, checksums, shapes.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="bundle directories, .kif archives or URLs (exit code: the worst of them)")
    p.add_argument("--json", action="store_true", help="print the report as JSON (a list of reports for several paths)")
    p.add_argument(
        "--level",
        choices=["structure", "full", "numeric"],
        default="full",
        help="structure: no weight files read; full (default): also weights and checksums; numeric: also run the embedded self-test",
    )
    p.add_argument("--no-verify", action="store_true", help="skip SHA-256 checksums (trusted bundles only)")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser(
        "inspect",
        help="show inputs, outputs, layers and sizes",
        description="Describe a bundle: inputs, outputs, layer table, parameter count and sizes.",
    )
    p.add_argument("path", help="bundle directory, .kif archive or fsspec URL (https://..., needs kif-format[remote])")
    p.add_argument("--json", action="store_true", help="print JSON (inputs and outputs as lists of {name, dtype, shape} in graph order)")
    p.set_defaults(func=_cmd_inspect)

    p = sub.add_parser(
        "run",
        help="run a bundle with the NumPy reference runtime, ONNX Runtime or torch",
        description="Run a bundle on inputs from an .npz, .npy or .safetensors file; write outputs to .npz, .npy or .safetensors. "
        "An input that would lose precision when cast to its declared dtype (float64 for float32) is refused unless --cast. "
        "--engine onnxruntime (kif-format[onnx]) exports the bundle to ONNX in memory and runs it with ONNX Runtime; "
        "--engine torch (kif-format[torch]) runs the kif.torch module; both take the same inputs and write the same outputs.",
    )
    p.add_argument("model", help="bundle directory or .kif archive")
    p.add_argument(
        "--inputs", required=True, help="inputs keyed by graph input name (.npz or .safetensors); a single array for a one-input model"
    )
    p.add_argument(
        "--output",
        required=True,
        help="where to write outputs: .npz or .safetensors keyed by graph output name, or .npy for a one-output model",
    )
    p.add_argument("--cast", action="store_true", help="cast inputs to the declared dtypes even when precision is lost (e.g. float64)")
    p.add_argument("--force", action="store_true", help="replace an existing --output file, atomically (never the model or inputs)")
    p.add_argument(
        "--engine",
        default="reference",
        metavar="NAME",
        help="reference (default: the exact NumPy runtime, no extra dependency), onnxruntime or torch",
    )
    p.add_argument(
        "--threads", type=int, default=1, metavar="N", help="intra-op threads of the onnxruntime and torch engines (default 1; 0: theirs)"
    )
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser(
        "convert",
        help="convert a Keras file (.keras, .h5, architecture JSON, TensorFlow SavedModel directory) to KIF, or a KIF bundle to ONNX",
        description="Convert a Keras model file to KIF without TensorFlow or Keras (the reader is chosen by the file's magic "
        "bytes), or a KIF bundle to ONNX when DST ends in .onnx. Nothing is written if any layer cannot be represented.",
    )
    p.add_argument("src", help=".keras, legacy .h5, architecture JSON (with --weights), or a SavedModel directory; or a KIF bundle")
    p.add_argument(
        "dst", help="output: a .kif archive, a bundle directory (a name without a suffix), or an .onnx file (from a KIF bundle)"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace an existing KIF bundle (or .onnx file) at DST, atomically; anything else there is never replaced",
    )
    p.add_argument("--weights", help="weights file (.h5 or .weights.h5) for an architecture JSON")
    p.add_argument(
        "--allow-custom",
        action="store_true",
        help="keep unknown layer classes as namespaced custom types (keras.custom:Class) with their config and weights",
    )
    p.add_argument(
        "--custom",
        metavar="DEFS",
        help="JSON file of composite definitions for custom layer classes, by Keras class name (spec/composites.md)",
    )
    p.set_defaults(func=_cmd_convert)

    p = sub.add_parser(
        "layers",
        help="list the layer catalog",
        description="List every layer type of the catalog: spec version, tolerance class, runtime support.",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_layers)

    p = sub.add_parser(
        "conformance",
        help="run the conformance suite against a backend, or check the suite itself",
        description="run: kif conformance run --backend NAME|module:attr [--level core|extended] [-k PATTERN] [--junit FILE] "
        "[--json FILE] [--jobs N] [-q] (backend 'reference' is the NumPy runtime). check: lint the suite.",
    )
    p.add_argument("action", choices=["run", "check"])
    p.add_argument(
        "--suite", help="the suite directory (default: $KIF_CONFORMANCE_DIR, else the copy installed with kif, else a source checkout's)"
    )
    p.add_argument("rest", nargs=argparse.REMAINDER, help="options of the runner (run --help)")
    p.set_defaults(func=_cmd_conformance)

    p = sub.add_parser(
        "diff",
        help="compare two bundles: metadata, inputs and outputs, layers, weights",
        description="Compare two bundles: metadata and spec version, graph inputs and outputs, layers added, removed, renamed "
        "(matched by structure) or changed, and per-tensor weight differences. Exit codes: 0 identical, 1 different, 2 unreadable.",
    )
    p.add_argument("a", help="bundle directory, .kif archive or URL")
    p.add_argument("b", help="bundle directory, .kif archive or URL")
    p.add_argument("--json", action="store_true", help="print JSON (format kif-diff/1, described in kif.diff)")
    p.set_defaults(func=_cmd_diff)

    p = sub.add_parser(
        "view",
        help="draw a bundle as one self-contained HTML page (graph, shapes, attributes, weight statistics)",
        description="Write one self-contained HTML page of a bundle (nothing is fetched when it is opened): the graph top to "
        "bottom with types and shapes, each layer's attributes and weight statistics, search, collapsible blocks. "
        "Without -o the page is served on 127.0.0.1 and its URL printed.",
    )
    p.add_argument("path", help="bundle directory, .kif archive or URL")
    p.add_argument("-o", "--output", help="write the page to this .html file instead of serving it")
    p.add_argument("--force", action="store_true", help="replace an existing -o file, atomically")
    p.add_argument("--port", type=int, default=0, help="port to serve on (default: any free port)")
    p.add_argument("--no-stats", action="store_true", help="read no tensor: shapes from the headers, no statistics")
    p.set_defaults(func=_cmd_view)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_UNREADABLE
    try:
        code: int = args.func(args)
        return code
    except ValidationError as exc:  # each finding once, not the summary and the first finding again
        errors = [f for f in exc.findings if f.severity == "error"] or exc.findings
        for finding in errors:
            print(f"kif {args.command}: {finding}", file=sys.stderr)
        return max(exit_code(f.code) for f in errors) if errors else exit_code(exc.code)
    except KifError as exc:
        # A message that already names its file (and no pointer) is not followed by the file again.
        shown = f"[{exc.code}] {exc.message}" if exc.file and not exc.pointer and exc.file in exc.message else str(exc)
        print(f"kif {args.command}: {shown}", file=sys.stderr)
        return exit_code(exc.code)
    except OSError as exc:
        print(f"kif {args.command}: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE


if __name__ == "__main__":
    sys.exit(main())
