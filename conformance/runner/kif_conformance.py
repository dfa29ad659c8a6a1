"""Run the KIF conformance suite against a backend. Needs only numpy (and ml_dtypes for bfloat16 cases).

    python kif_conformance.py --backend my_package.kif_backend:backend [--level core] [-k conv] [--json row.json]
    python kif_conformance.py --backend "process:./my-importer --flag" [--timeout 60]

A backend is any object with ``load(bundle_path) -> callable``; the callable takes
``dict[str, numpy.ndarray]`` (graph inputs by name; a string input is an object array of ``str``)
and returns the graph outputs as a dict keyed by name or a sequence in graph order. A backend MAY also have
``validate(bundle_path) -> list`` of findings (dicts or objects with ``code`` and
``pointer``); it is then run on the negative cases in ``invalid/`` too. A backend refuses a case
(scored "not-supported", not "fail") by raising an exception with a true ``not_supported``
attribute, such as ``NotSupported`` below. ``process:COMMAND`` drives an executable in any
language instead (kif_process.py). spec/conformance.md states the contract normatively.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import fnmatch
import importlib
import importlib.util
import inspect
import json
import math
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np


def _sibling_module(name: str) -> Any:
    """A module of this folder, imported by path (the runner is itself often imported by path)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().with_name(f"{name}.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


load_file = _sibling_module("kif_tensors").load_tensors  # safetensors.numpy cannot hold bfloat16
strings = _sibling_module("kif_strings")  # string tensors: inputs.json / expected.json beside the safetensors files


def load_case_tensors(folder: Path, stem: str) -> dict[str, np.ndarray]:
    """``<stem>.safetensors`` and, when present, the string tensors of ``<stem>.json`` (names in one file only)."""
    tensors = load_file(str(folder / f"{stem}.safetensors"))
    text_file = folder / f"{stem}.json"
    if text_file.is_file():
        text = strings.load_strings(text_file)
        both = sorted(set(tensors) & set(text))
        if both:
            raise ValueError(f"{folder.name}: {both} in both {stem}.safetensors and {stem}.json")
        tensors.update(text)
    return tensors


SUITE = Path(__file__).resolve().parents[1]
# Backends known by name; anything else is given as module:attr.
BUILTIN = {
    "reference": "kif.conformance:ReferenceBackend",  # the NumPy reference runtime
    "torch": "kif.torch:conformance_backend",  # the PyTorch importer
    "onnx": "kif.onnx:conformance_backend",  # export to ONNX, run in ONNX Runtime
    "keras": "kif.keras.to_keras:KerasBackend",  # rebuild a Keras 3 model
}
# The four outcomes of a case (spec/conformance.md "Outcomes").
PASS, NOT_SUPPORTED, FAIL, ERROR = "pass", "not-supported", "fail", "error"
OUTCOMES = (PASS, NOT_SUPPORTED, FAIL, ERROR)
COUNT_KEYS = {PASS: "passed", NOT_SUPPORTED: "not_supported", FAIL: "failed", ERROR: "errors"}
SCOREBOARD_FORMAT = "kif-scoreboard/1"


class NotSupported(Exception):
    """Raised by a backend to refuse a case it does not implement; any exception whose
    ``not_supported`` attribute is true counts the same (so a backend need not import this)."""

    not_supported = True


@dataclass
class Case:
    id: str
    kind: str  # "model" (positive: run and compare) or "invalid" (negative: validate and find the code)
    folder: Path
    spec: dict[str, Any]

    @property
    def level(self) -> str:
        """core | extended for a positive case (its case.json); always "invalid" for a negative one."""
        return "invalid" if self.kind == "invalid" else str(self.spec.get("level", "core"))

    @property
    def layer_types(self) -> list[str]:
        return list(self.spec.get("layer_types", []))


@dataclass
class Result:
    case: Case
    status: str  # one of OUTCOMES: pass | not-supported | fail | error
    worst: float = 0.0  # max |got - want| / (atol + rtol |want|); <= 1 passes
    max_abs: float = 0.0
    detail: str = ""
    seconds: float = 0.0
    per_output: dict[str, float] = field(default_factory=dict)


Patterns = str | Sequence[str] | None


def discover(suite: Path, level: str = "extended", pattern: Patterns = None, exclude: Patterns = None) -> list[Case]:
    """Positive cases under ``cases/<group>/<id>/`` and negative ones under ``invalid/<id>/``, sorted by id.
    ``level="core"`` keeps the core positive cases and every negative case (level "invalid"). ``pattern``
    (several: any of them) selects, ``exclude`` (several: any of them) drops."""
    found: list[Case] = []
    for path in sorted((suite / "cases").glob("*/*/case.json")):
        found.append(Case(path.parent.name, "model", path.parent, json.loads(path.read_text(encoding="utf-8"))))
    for path in sorted((suite / "invalid").glob("*/case.json")):
        spec = json.loads(path.read_text(encoding="utf-8"))
        found.append(Case("invalid/" + path.parent.name, "invalid", path.parent, spec))
    if level == "core":
        found = [c for c in found if c.level in ("core", "invalid")]
    wanted = [pattern] if isinstance(pattern, str) else list(pattern or [])
    unwanted = [exclude] if isinstance(exclude, str) else list(exclude or [])
    if wanted:
        found = [c for c in found if any(_matches(c, p) for p in wanted)]
    if unwanted:
        found = [c for c in found if not any(_matches(c, p) for p in unwanted)]
    return found


def _matches(case: Case, pattern: str) -> bool:
    """-k: a glob (or a plain substring) tested against the id, the group, ``group/id`` (the case's
    folder under cases/, e.g. models/mlp) and each layer type; case-insensitive."""
    glob = pattern if any(ch in pattern for ch in "*?[") else f"*{pattern}*"
    group = str(case.spec.get("group", ""))
    keys = [case.id, group, f"{group}/{case.id}" if case.kind == "model" else case.id, *case.layer_types]
    return any(fnmatch.fnmatchcase(k.lower(), glob.lower()) for k in keys)


def _process_module() -> Any:
    """kif_process.py beside this file (imported by path: the runner is itself often imported by path)."""
    if "kif_process" not in sys.modules:
        spec = importlib.util.spec_from_file_location("kif_process", Path(__file__).with_name("kif_process.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["kif_process"] = module
        spec.loader.exec_module(module)
    return sys.modules["kif_process"]


def resolve_backend(name: str, timeout: float = 60.0) -> Any:
    """``reference``, ``process:COMMAND`` or ``module:attr``; a class (or factory function) named by attr is
    called with no arguments."""
    if name.startswith("process:"):
        return _process_module().from_spec(name, timeout)
    target = BUILTIN.get(name, name)
    module_name, _, attr = target.partition(":")
    if not attr:
        raise SystemExit(f"Expected --backend NAME (one of {', '.join(BUILTIN)}), process:COMMAND or module:attr. Received: {name!r}")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if isinstance(obj, type) or (callable(obj) and not hasattr(obj, "load")):
        obj = obj()
    if not hasattr(obj, "load"):
        raise SystemExit(f"Backend {name!r} has no load(bundle_path) method")
    return obj


def compare(got: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> tuple[float, float]:
    """(worst ratio, max abs error). Integer and bool outputs must match exactly; NaN must sit where NaN is expected."""
    if want.dtype.kind in "biu":
        same = np.array_equal(got, want)
        return (0.0 if same else math.inf), (0.0 if same else math.inf)
    g, w = got.astype(np.float64), want.astype(np.float64)
    if not np.array_equal(np.isnan(g), np.isnan(w)) or not np.array_equal(np.isinf(w), np.isinf(g) & (g == w)):
        return math.inf, math.inf
    finite = np.isfinite(w)
    diff = np.abs(g[finite] - w[finite])
    if diff.size == 0:
        return 0.0, 0.0
    bound = atol + rtol * np.abs(w[finite])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(diff == 0, 0.0, diff / bound)
    return float(ratio.max()), float(diff.max())


def compare_strings(name: str, got: np.ndarray, want: np.ndarray) -> tuple[float, float, str]:
    """(ratio, error, problem) of a string output: a string tensor equal element for element (exact code points)."""
    if want.dtype != object or not strings.is_strings(got):
        kinds = ["string" if a.dtype == object or strings.is_strings(a) else str(a.dtype) for a in (got, want)]
        return math.inf, math.inf, f"{name}: dtype {kinds[0]}, expected {kinds[1]}"
    try:
        text = strings.as_text(got)
    except ValueError as exc:
        return math.inf, math.inf, f"{name}: not a string tensor: {exc}"
    wrong = [i for i, (g, w) in enumerate(zip(text.reshape(-1), want.reshape(-1), strict=True)) if g != w]
    if not wrong:
        return 0.0, 0.0, ""
    first = wrong[0]
    problem = f"{name}: {len(wrong)} string element(s) differ; first at flat index {first}: "
    problem += f"{text.reshape(-1)[first]!r}, expected {want.reshape(-1)[first]!r}"
    return math.inf, math.inf, problem[:300]


def run_model_case(backend: Any, case: Case) -> Result:
    spec = case.spec
    inputs = load_case_tensors(case.folder, "inputs")
    expected = load_case_tensors(case.folder, "expected")
    feed = {name: inputs[name] for name in spec["inputs"]}
    session = backend.load(str(case.folder / "model.kif"))
    outputs = session(feed)
    names = list(spec["outputs"])
    if isinstance(outputs, Mapping):
        missing = [n for n in names if n not in outputs]
        if missing:
            return Result(case, "fail", math.inf, math.inf, f"missing outputs {missing}")
        got_list = [np.asarray(outputs[n]) for n in names]
    else:
        got_list = [np.asarray(o) for o in outputs]
        if len(got_list) != len(names):
            return Result(case, "fail", math.inf, math.inf, f"expected {len(names)} outputs, received {len(got_list)}")
    tol = spec["tolerance"]
    result = Result(case, "pass")
    problems = []
    for name, got in zip(names, got_list, strict=True):
        want = expected[name]
        if got.shape != want.shape:
            problems.append(f"{name}: shape {list(got.shape)}, expected {list(want.shape)}")
            ratio, err = math.inf, math.inf
        elif want.dtype == object or strings.is_strings(got):
            ratio, err, problem = compare_strings(name, got, want)
            problems += [problem] if problem else []
        elif got.dtype != want.dtype:
            problems.append(f"{name}: dtype {got.dtype}, expected {want.dtype}")
            ratio, err = math.inf, math.inf
        else:
            ratio, err = compare(got, want, float(tol["rtol"]), float(tol["atol"]))
            if ratio > 1:
                problems.append(f"{name}: max abs error {err:.3g} beyond rtol={tol['rtol']} atol={tol['atol']}")
        result.per_output[name] = ratio
        result.worst, result.max_abs = max(result.worst, ratio), max(result.max_abs, err)
    if problems:
        result.status, result.detail = "fail", "; ".join(problems)
    return result


def _finding(item: Any, severity: str = "error") -> tuple[Any, Any] | None:
    """(code, pointer) of a finding of ``severity`` (a missing severity is "error"); None for any other."""
    get = item.get if isinstance(item, Mapping) else lambda key: getattr(item, key, None)
    if str(get("severity") or "error") != severity:
        return None
    return get("code"), get("pointer")


MAX_PADDED_DOCUMENT = 2**30  # a case asking for a bigger padded model.json is itself broken


@contextlib.contextmanager
def invalid_target(case: Case) -> Iterator[Path]:
    """The path a negative case's validator is given (spec/conformance.md, "Negative cases"): its bundle/ or
    bundle.kif; <case>/bundle.kif, which does not exist, when ``bundle_absent``; a temporary copy of bundle/ whose
    model.json is padded with spaces to ``pad_document_to`` bytes (deleted afterwards) when that is given."""
    folder = case.folder
    if case.spec.get("bundle_absent"):
        yield folder / "bundle.kif"
        return
    source = folder / "bundle" if (folder / "bundle").is_dir() else folder / "bundle.kif"
    size = case.spec.get("pad_document_to")
    if size is None:
        yield source
        return
    if not source.is_dir() or not isinstance(size, int) or not 0 < size <= MAX_PADDED_DOCUMENT:
        raise ValueError(f"{case.id}: pad_document_to needs a bundle/ directory and 1..{MAX_PADDED_DOCUMENT} bytes")
    with tempfile.TemporaryDirectory(prefix="kif-case-") as tmp:
        target = Path(tmp) / "bundle"
        shutil.copytree(source, target, symlinks=True)
        document = target / "model.json"
        with document.open("r+b") as handle:  # JSON whitespace: the only fault is the size
            handle.seek(0, os.SEEK_END)
            missing = size - handle.tell()
            if missing < 0:
                raise ValueError(f"{case.id}: model.json is already larger than pad_document_to")
            while missing:
                chunk = min(missing, 2**20)
                handle.write(b" " * chunk)
                missing -= chunk
        yield target


def _call_validate(backend: Any, target: Path, level: str) -> list[Any]:
    """``backend.validate`` at ``level``; a backend whose validate takes no ``level`` validates at "full" only,
    so a numeric case is a refusal for it."""
    if level == "full":
        return list(backend.validate(str(target)))
    try:
        takes_level = "level" in inspect.signature(backend.validate).parameters
    except (TypeError, ValueError):
        takes_level = False
    if not takes_level:
        raise NotSupported(f"validate(bundle_path) takes no level; the case needs level {level!r} (the self-test run)")
    return list(backend.validate(str(target), level=level))


def run_invalid_case(backend: Any, case: Case) -> Result:
    severity = case.spec["expect"].get("severity", "error")  # a warning case expects a warning, never an error
    with invalid_target(case) as target:
        reported = _call_validate(backend, target, case.spec.get("validation_level", "full"))
    findings = [f for f in (_finding(item, severity) for item in reported) if f is not None]
    want = (case.spec["expect"]["code"], case.spec["expect"]["pointer"])
    if want not in findings:
        return Result(case, "fail", math.inf, math.inf, f"expected {severity} {want}, received {findings[:5]}")
    errors = [f for f in (_finding(item) for item in reported) if f is not None] if severity == "warning" else []
    if errors:  # spec/conformance.md: a warning case's bundle is otherwise valid
        return Result(case, "fail", math.inf, math.inf, f"expected warning {want} and no error, received errors {errors[:5]}")
    return Result(case, "pass")


def run_one(backend: Any, case: Case) -> Result:
    start = time.perf_counter()
    try:
        result = run_model_case(backend, case) if case.kind == "model" else run_invalid_case(backend, case)
    except Exception as exc:
        if getattr(exc, "not_supported", False) is True:
            result = Result(case, NOT_SUPPORTED, math.inf, math.inf, f"not supported: {exc}"[:300])
            result.seconds = time.perf_counter() - start
            return result
        last = traceback.extract_tb(exc.__traceback__)[-1:]
        where = f" ({last[0].filename}:{last[0].lineno})" if last and not getattr(exc, "protocol_error", False) else ""
        result = Result(case, "error", math.inf, math.inf, f"{type(exc).__name__}: {exc}"[:300] + where)
    result.seconds = time.perf_counter() - start
    return result


def run_cases(backend: Any, cases: Sequence[Case], jobs: int | None = None) -> list[Result]:
    """Run every case (in threads: backends need not be picklable, but MUST be thread-safe); results in case order."""
    todo = [c for c in cases if c.kind == "model" or hasattr(backend, "validate")]
    if not todo:
        return []
    # The first case runs alone: backends often import their framework lazily in load(), and
    # concurrent first imports of one module can see it half-initialised.
    first = run_one(backend, todo[0])
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs or min(8, os.cpu_count() or 1)) as pool:
        return [first, *pool.map(lambda c: run_one(backend, c), todo[1:])]


def _fmt(ratio: float) -> str:
    return "inf" if math.isinf(ratio) else f"{ratio:.3g}"


def counts(results: Sequence[Result]) -> dict[str, int]:
    """{"passed", "not_supported", "failed", "errors"}: the four outcomes, every key always present."""
    return {key: sum(r.status == outcome for r in results) for outcome, key in COUNT_KEYS.items()}


def coverage(results: Sequence[Result]) -> dict[str, dict[str, int]]:
    """The outcome counts of the cases holding each layer type."""
    return {t: counts([r for r in results if t in r.case.layer_types]) for t in sorted({t for r in results for t in r.case.layer_types})}


def summary(results: Sequence[Result]) -> str:
    """``P passed, F failed`` (F: fail and error), then ``, N not supported`` when there are refusals."""
    n = counts(results)
    line = f"{n['passed']} passed, {n['failed'] + n['errors']} failed"
    return line + (f", {n['not_supported']} not supported" if n["not_supported"] else "")


def report(results: Sequence[Result], out: Any = None, verbose: bool = True) -> None:
    out = out or sys.stdout
    models = [r for r in results if r.case.kind == "model"]
    invalid = [r for r in results if r.case.kind == "invalid"]
    width = max([len(r.case.id) for r in results] + [4])
    if verbose and models:
        print(f"{'case':<{width}}  status  worst/tol  max|err|   tolerance", file=out)
        for r in models:
            tol = r.case.spec["tolerance"]
            line = (
                f"{r.case.id:<{width}}  {r.status:<6}  {_fmt(r.worst):>9}  {_fmt(r.max_abs):>9}  rtol={tol['rtol']:g} atol={tol['atol']:g}"
            )
            print(line + (f"  {r.detail}" if r.status != "pass" else ""), file=out)
    elif models:
        for r in models:
            if r.status in (FAIL, ERROR):
                print(f"{r.case.id}: {r.status.upper()} {r.detail}", file=out)
    if invalid:
        print(
            f"\nvalidator cases: {sum(r.status == 'pass' for r in invalid)}/{len(invalid)} report the expected code and pointer", file=out
        )
        for r in invalid:
            if verbose or r.status in (FAIL, ERROR):
                print(
                    f"  {r.case.id:<{width}}  {r.status:<6}  {r.case.spec['expect']['code']} at {r.case.spec['expect']['pointer']}"
                    + (f"  {r.detail}" if r.status != "pass" else ""),
                    file=out,
                )
    cov = coverage(models)
    if cov:
        print("\ncoverage per layer type (cases passed/run):", file=out)
        cells = [f"{t} {row['passed']}/{sum(row.values())}" for t, row in cov.items()]
        for i in range(0, len(cells), 4):
            print("  " + "  ".join(f"{c:<30}" for c in cells[i : i + 4]).rstrip(), file=out)
    n = counts(results)
    print("\noutcomes: " + ", ".join(f"{n[COUNT_KEYS[o]]} {o}" for o in OUTCOMES), file=out)
    print(summary(results), file=out)


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".")) if all(p.isdigit() for p in text.split(".")) else (-1,)


def scoreboard(backend_name: str, level: str, results: Sequence[Result], suite: Path = SUITE) -> dict[str, Any]:
    """The row a third party publishes (conformance/scoreboard.schema.json, format kif-scoreboard/1): backend,
    spec version, the four outcome counts overall and per layer type, outcome and worst error per case."""
    # the latest spec version among the cases run: a backend that passes them supports that version's features
    versions = sorted({str(r.case.spec.get("spec_version")) for r in results if r.case.kind == "model"}, key=_version_key)
    version_file = suite / "VERSION"
    return {
        "format": SCOREBOARD_FORMAT,
        "backend": backend_name,
        "spec_version": versions[-1] if versions else None,
        "suite_version": version_file.read_text().strip() if version_file.is_file() else None,
        "level": level,
        **counts(results),
        "layer_types": coverage([r for r in results if r.case.kind == "model"]),
        "cases": {
            r.case.id: {
                "status": r.status,
                "worst": None if math.isinf(r.worst) else r.worst,
                "level": r.case.level,
                **({"detail": r.detail[:500]} if r.status != "pass" else {}),
            }
            for r in results
        },
    }


def write_junit(path: Path, results: Sequence[Result]) -> None:
    suite = ElementTree.Element(
        "testsuite", name="kif-conformance", tests=str(len(results)), failures=str(sum(r.status == FAIL for r in results)),
        errors=str(sum(r.status == ERROR for r in results)), skipped=str(sum(r.status == NOT_SUPPORTED for r in results)),
        time=f"{sum(r.seconds for r in results):.3f}",
    )  # fmt: skip
    for r in results:
        group = r.case.spec.get("group", r.case.kind)
        case = ElementTree.SubElement(suite, "testcase", classname=f"kif.{group}", name=r.case.id, time=f"{r.seconds:.3f}")
        if r.status == NOT_SUPPORTED:
            ElementTree.SubElement(case, "skipped", message=r.detail[:500])
        elif r.status != PASS:
            tag = "failure" if r.status == FAIL else "error"
            ElementTree.SubElement(case, tag, message=r.detail[:500]).text = r.detail
    ElementTree.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kif_conformance", description="Run the KIF conformance suite against a backend.")
    p.add_argument(
        "--backend", default="reference",
        help=f"a built-in name ({', '.join(BUILTIN)}), module:attr (an object or class), or process:COMMAND (an executable, any language)",
    )  # fmt: skip
    p.add_argument(
        "--level", choices=["core", "extended"], default="extended",
        help="core: core positive cases and the negative (invalid) cases; extended (default): all cases",
    )  # fmt: skip
    p.add_argument(
        "-k", dest="pattern", action="append",
        help="only cases whose id, group, group/id (models/mlp) or a layer type matches (substring, glob); repeat for any of several",
    )  # fmt: skip
    p.add_argument(
        "--exclude", metavar="PATTERN", action="append",
        help="skip cases matching PATTERN (same matching as -k; repeatable), e.g. layer types not supported",
    )  # fmt: skip
    p.add_argument("--junit", type=Path, help="write a JUnit XML report")
    p.add_argument("--json", type=Path, help="write the scoreboard row as JSON")
    p.add_argument("--suite", type=Path, default=SUITE, help="the suite directory (holding cases/ and invalid/)")
    p.add_argument("--jobs", type=int, default=None, help="parallel workers (default: min(8, CPUs))")
    p.add_argument("--timeout", type=float, default=60.0, help="process:COMMAND only: seconds per invocation before a kill (default 60)")
    p.add_argument("-q", "--quiet", action="store_true", help="list only failing cases")
    return p


def main(argv: Sequence[str] | None = None, backend: Any = None) -> int:
    """Exit status 0 when no case failed or errored (refusals are allowed), 1 otherwise, 2 when nothing was selected."""
    args = build_parser().parse_args(argv)
    if args.timeout <= 0:
        raise SystemExit(f"Expected --timeout > 0. Received: {args.timeout:g}")
    if backend is None:
        backend = resolve_backend(args.backend, args.timeout)
    cases = discover(args.suite, args.level, args.pattern, args.exclude)
    if not cases:
        print(f"no cases selected under {args.suite}", file=sys.stderr)
        return 2
    results = run_cases(backend, cases, args.jobs)
    report(results, verbose=not args.quiet)
    if args.junit:
        write_junit(args.junit, results)
    if args.json:
        name = getattr(backend, "name", args.backend)
        args.json.write_text(json.dumps(scoreboard(name, args.level, results, args.suite), indent=2) + "\n", encoding="utf-8")
    return 0 if all(r.status in (PASS, NOT_SUPPORTED) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
