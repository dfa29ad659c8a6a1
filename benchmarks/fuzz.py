"""Mutation fuzzer over the bundle reader, validator, runtime, CLI, npz loader and Keras converter.

Each target runs in one worker process under resource limits (address space, file size),
so an unbounded allocation shows up as a MemoryError failure, not a dead machine. The
parent watches the worker's current input index: an input that takes longer than
``--timeout`` is a hang (the worker is killed and restarted after it), a worker that
dies is a crash. Inputs are generated from (seed, target, index) alone, so every
failure is saved as a folder and replayed with ``--replay``.

    nice python benchmarks/fuzz.py --inputs archive=20000,document=20000 --out /tmp/fuzz
    python benchmarks/fuzz.py --replay /tmp/fuzz/failures/<signature>/<index>

A failure is any exception that is not a ``kif.errors.KifError`` (for the CLI: anything
escaping ``main``, including a UnicodeEncodeError on a strict UTF-8 terminal), plus
harness findings: leftover temporary files, canary bytes from outside the input in a
converted bundle.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import re
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fuzz_keras as fk
import fuzz_targets as ft

TARGETS = {
    t.name: t
    for t in [
        ft.Target("archive", ft.gen_archive, ft.exec_archive),
        ft.Target("document", ft.gen_document, ft.exec_document),
        ft.Target("runtime", lambda rng: ft.gen_document(rng, semantic=True), ft.exec_document),
        ft.Target("container", ft.gen_container, ft.exec_container),
        ft.Target("json", ft.gen_json, ft.exec_json),
        ft.Target("safetensors", ft.gen_safetensors, ft.exec_safetensors),
        ft.Target("npz", ft.gen_npz, ft.exec_npz),
        ft.Target("cli", ft.gen_cli, ft.exec_cli),
        ft.Target("writers", ft.gen_writers, ft.exec_writers),
        ft.Target("keras-h5-bytes", fk.gen_h5_bytes, fk.exec_convert, heavy=True),
        ft.Target("keras-h5-structure", fk.gen_h5_structure, fk.exec_convert, heavy=True),
        ft.Target("keras-config", fk.gen_config, fk.exec_convert, heavy=True),
        ft.Target("keras-zip", fk.gen_keras_zip, fk.exec_convert, heavy=True),
    ]
}
SAVE_PER_SIGNATURE = 3


def signature(exc: BaseException) -> str:
    """Exception type + innermost frame inside the kif package (or the innermost frame at all)."""
    if isinstance(exc, ft.Finding):
        return "Finding: " + str(exc).split(":")[0]
    frames = traceback.extract_tb(exc.__traceback__)
    inside = [f for f in frames if _in_package(f.filename)]
    frame = (inside or frames or [None])[-1]
    where = "?" if frame is None else f"{_short(frame.filename)}:{frame.name}"
    return f"{type(exc).__name__} @ {where}"


def _package_root() -> Path:
    import kif

    return Path(kif.__file__).resolve().parent


def _in_package(filename: str) -> bool:
    # by the installed package's location, not by a "kif" path part: the checkout itself may be called kif
    return Path(filename).resolve().is_relative_to(_package_root())


def _short(filename: str) -> str:
    path = Path(filename).resolve()
    root = _package_root()
    return "kif/" + path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:120]


def rng_for(seed: int, target: str, index: int) -> random.Random:
    return random.Random(f"{seed}/{target}/{index}")


def materialise(files: ft.Files, root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    for name, body in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)


def save(files: ft.Files, out: Path, target: str, index: int, sig: str, detail: str) -> Path:
    folder = out / "failures" / slug(f"{target}--{sig}") / str(index)
    materialise(files, folder)
    (folder / "target.txt").write_text(target + "\n")
    (folder / "error.txt").write_text(detail)
    return folder


def _limit(mem_bytes: int, file_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write raises OSError instead of killing the worker


def worker(name: str, seed: int, start: int, stop: int, current, conn, out: str, scratch: str, mem: int) -> None:
    from kif.errors import KifError

    _limit(mem, 256 * 2**20)
    warnings.simplefilter("ignore")  # zipfile's duplicate-name warnings while building inputs
    target = TARGETS[name]
    root = Path(scratch) / "input"
    tmp = Path(scratch) / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    os.environ["TMPDIR"] = str(tmp)
    tempfile.tempdir = str(tmp)
    saved: dict[str, int] = {}
    for index in range(start, stop):
        current.value = index
        try:
            files = target.generate(rng_for(seed, name, index))
        except Exception as exc:  # a harness bug, reported apart from the SDK's failures
            conn.send(("harness", index, signature(exc), traceback.format_exc()))
            continue
        materialise(files, root)
        try:
            target.execute(root)
        except KifError:
            pass  # the refusal the SDK promises
        except (Exception, RecursionError, MemoryError) as exc:
            sig = signature(exc)
            detail = "".join(traceback.format_exception(exc))[-6000:]
            exc = None
            if saved.get(sig, 0) < SAVE_PER_SIGNATURE:
                saved[sig] = saved.get(sig, 0) + 1
                save(files, Path(out), name, index, sig, detail)
            conn.send(("fail", index, sig, detail))
        for leftover in tmp.iterdir():
            shutil.rmtree(leftover, ignore_errors=True) if leftover.is_dir() else leftover.unlink(missing_ok=True)
    current.value = stop
    conn.send(("done", stop, 0, ""))


def run_target(name: str, count: int, seed: int, timeout: float, out: Path, mem: int) -> dict[str, object]:
    ctx = mp.get_context("fork")
    scratch = Path(tempfile.mkdtemp(prefix=f"kif-fuzz-{name}-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    failures: dict[str, list[int]] = {}
    harness: dict[str, int] = {}
    hangs: list[int] = []
    crashes: list[int] = []
    started = time.perf_counter()
    index = 0
    while index < count:
        current = ctx.Value("q", index)
        parent_end, child_end = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=worker, args=(name, seed, index, count, current, child_end, str(out), str(scratch), mem), daemon=True)
        proc.start()
        child_end.close()
        seen, since, finished = current.value, time.perf_counter(), False
        while True:
            while parent_end.poll(0.05):
                try:
                    kind, at, sig, detail = parent_end.recv()
                except EOFError:
                    break
                if kind == "fail":
                    failures.setdefault(sig, []).append(at)
                elif kind == "harness":
                    harness[sig] = harness.get(sig, 0) + 1
                    if harness[sig] == 1:
                        print(f"[{name}] harness error at {at}: {detail}", file=sys.stderr)
                elif kind == "done":
                    finished = True
            if finished or not proc.is_alive():
                break
            if current.value != seen:
                seen, since = current.value, time.perf_counter()
            elif time.perf_counter() - since > timeout:
                proc.kill()
                proc.join()
                hangs.append(seen)
                _save_regenerated(name, seed, seen, out, "Hang", f"exceeded {timeout} s")
                break
        proc.join()
        if finished:
            break
        if proc.exitcode not in (0, None) and (not hangs or hangs[-1] != current.value):
            crashes.append(current.value)
            _save_regenerated(name, seed, current.value, out, f"Crash exit {proc.exitcode}", "worker died")
        index = current.value + 1
    shutil.rmtree(scratch, ignore_errors=True)
    seconds = time.perf_counter() - started
    return {"target": name, "inputs": count, "seconds": seconds, "failures": failures, "hangs": hangs, "crashes": crashes,
            "harness": harness}


def _save_regenerated(name: str, seed: int, index: int, out: Path, sig: str, detail: str) -> None:
    files = TARGETS[name].generate(rng_for(seed, name, index))
    save(files, out, name, index, sig, detail)


def replay(folder: Path, timeout: float) -> int:
    name = (folder / "target.txt").read_text().strip()
    scratch = Path(tempfile.mkdtemp(prefix="kif-fuzz-replay-"))
    skip = ("target.txt", "error.txt")
    files = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file() and p.name not in skip}
    materialise(files, scratch / "input")
    # A private temporary directory, as in a worker: targets report files left there, and other processes use /tmp.
    (scratch / "tmp").mkdir()
    previous = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir = os.environ["TMPDIR"] = str(scratch / "tmp")
    started = time.perf_counter()
    try:
        TARGETS[name].execute(scratch / "input")
    finally:
        tempfile.tempdir = previous[0]
        if previous[1] is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = previous[1]
        shutil.rmtree(scratch, ignore_errors=True)
    seconds = time.perf_counter() - started
    if seconds > timeout:
        print(f"{folder}: no exception, but took {seconds:.1f} s (a hang above --timeout {timeout} s) ({name})")
        return 1
    print(f"{folder}: no failure in {seconds:.2f} s ({name})")
    return 0


def table(results: list[dict[str, object]]) -> str:
    lines = ["| target | inputs | seconds | inputs/s | uncaught | distinct signatures | hangs | crashes |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        fails = r["failures"]
        assert isinstance(fails, dict)
        uncaught = sum(len(v) for v in fails.values())
        lines.append(
            f"| {r['target']} | {r['inputs']:,} | {r['seconds']:.1f} | {r['inputs'] / r['seconds']:.0f} | {uncaught} | {len(fails)} | "
            f"{len(r['hangs'])} | {len(r['crashes'])} |"  # type: ignore[arg-type]
        )
    return "\n".join(lines)


def report(results: list[dict[str, object]], argv: list[str]) -> str:
    inputs = sum(int(r["inputs"]) for r in results)  # type: ignore[call-overload]
    seconds = sum(float(r["seconds"]) for r in results)  # type: ignore[arg-type]
    lines = [
        "# benchmarks/fuzz.py — results",
        "",
        f"Command: `nice python benchmarks/fuzz.py {' '.join(argv)}`",
        f"Date: {time.strftime('%Y-%m-%d %H:%M')}; {inputs:,} inputs in {seconds / 60:.1f} min "
        f"({inputs / seconds:.0f} inputs/s overall, one worker process).",
        "",
        table(results),
        "",
        "Failure signatures (exception type @ innermost kif frame; count; first input index):",
        "",
    ]
    for r in results:
        fails = r["failures"]
        assert isinstance(fails, dict)
        for sig, where in sorted(fails.items(), key=lambda kv: -len(kv[1])):
            lines.append(f"- `{r['target']}`: {sig} — {len(where)} (first at {where[0]})")
        for kind in ("hangs", "crashes"):
            found = r[kind]
            assert isinstance(found, list)
            if found:
                lines.append(f"- `{r['target']}`: {kind} at inputs {found[:10]}")
    return "\n".join(lines) + "\n"


def parse_counts(text: str, default: int) -> dict[str, int]:
    if not text:
        return {name: default // (20 if t.heavy else 1) for name, t in TARGETS.items()}
    out = {}
    for item in text.split(","):
        name, _, n = item.partition("=")
        if name not in TARGETS:
            raise SystemExit(f"unknown target {name!r}; expected some of {', '.join(TARGETS)}")
        out[name] = int(n) if n else default
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", default="", help="target=N,... (default: every target; heavy converter targets get N/20)")
    parser.add_argument("-n", type=int, default=1000, help="inputs per target when --inputs names none (default 1000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per input before it counts as a hang")
    parser.add_argument("--mem-gb", type=float, default=2.0, help="address-space limit of the worker (RLIMIT_AS)")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "kif-fuzz", help="where failing inputs are saved")
    parser.add_argument("--replay", type=Path, help="re-run one saved failing input in this process (prints the traceback)")
    parser.add_argument("--report", type=Path, help="also write the results as Markdown to this file")
    args = parser.parse_args(argv)
    if args.replay:
        return replay(args.replay, args.timeout)
    fk.ensure_canary()
    ft.bundle_members(), ft.npz_seeds()  # read the seeds once, before the workers fork
    results = []
    for name, count in parse_counts(args.inputs, args.n).items():
        result = run_target(name, count, args.seed, args.timeout, args.out, int(args.mem_gb * 2**30))
        results.append(result)
        fails = result["failures"]
        assert isinstance(fails, dict)
        print(f"{name}: {count} inputs in {result['seconds']:.1f} s, {sum(map(len, fails.values()))} uncaught, "
              f"{len(result['hangs'])} hangs, {len(result['crashes'])} crashes", flush=True)  # type: ignore[arg-type]
        for sig, where in sorted(fails.items(), key=lambda kv: -len(kv[1])):
            print(f"    {len(where):6d}  {sig}  (first at {where[0]})", flush=True)
    print()
    print(table(results))
    total = sum(
        sum(map(len, r["failures"].values())) + len(r["hangs"]) + len(r["crashes"])  # type: ignore[union-attr,arg-type]
        for r in results
    )
    print(f"\nseed {args.seed}; failing inputs saved under {args.out}/failures")
    if args.report:
        args.report.write_text(report(results, argv if argv is not None else sys.argv[1:]))
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
