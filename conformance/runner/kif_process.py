"""The process backend: the conformance runner drives any executable through the protocol of
spec/conformance.md ("Process protocol"), so an importer in any language needs no Python of its own.

    --backend "process:COMMAND"      COMMAND is split like a shell line (shlex), never run through a shell

    COMMAND run BUNDLE INPUTS.safetensors OUTPUT.safetensors    exit 0: OUTPUT holds every graph output
        string tensors: INPUTS.json beside INPUTS (written iff the case has string inputs), OUTPUT.json beside OUTPUT
    COMMAND validate BUNDLE                                     exit 0: stdout is {"findings": [...]}
    COMMAND validate BUNDLE --level numeric                     the same, running the bundle's self-test too
    either, exit 3 with {"not_supported": "reason"} on stdout   a refusal (scored "not-supported")
    anything else (other exit status, a signal, a timeout, bad JSON, a missing OUTPUT)   an error

Each invocation runs in a fresh empty temporary working directory, with stdin closed, the environment of the
runner plus KIF_CONFORMANCE_PROTOCOL=1, in a process group of its own that is killed (with any child it left)
when it exits or overruns the timeout. Needs only the standard library, numpy and safetensors.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file, save_file


def _strings_module() -> Any:
    """kif_strings.py beside this file (shared with the runner, which may already have imported it)."""
    if "kif_strings" not in sys.modules:
        spec = importlib.util.spec_from_file_location("kif_strings", Path(__file__).resolve().with_name("kif_strings.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules["kif_strings"] = module
    return sys.modules["kif_strings"]


strings = _strings_module()

PROTOCOL = "2"  # 2: string tensors in INPUTS.json / OUTPUT.json beside the safetensors files
ENV_VAR = "KIF_CONFORMANCE_PROTOCOL"
EXIT_RAN, EXIT_REFUSED = 0, 3
PREFIX = "process:"
MAX_STDOUT = 16 * 2**20  # a validator's findings; more than this is a protocol error


class ProtocolError(Exception):
    """The executable broke the protocol (status, output, time); the case scores "error"."""

    protocol_error = True  # the runner reports the message alone, without a traceback location


class Refusal(Exception):
    """The executable refused the case (exit 3 with a reason); the case scores "not-supported"."""

    not_supported = True


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    if hasattr(os, "killpg"):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    else:  # pragma: no cover - no process groups (Windows)
        proc.kill()


def _tail(data: bytes, limit: int = 300) -> str:
    text = data.decode("utf-8", "replace").strip()
    return text[-limit:]


class ProcessBackend:
    """A backend whose load/validate run ``command`` as a subprocess; safe to call from many threads."""

    def __init__(self, command: Sequence[str] | str, timeout: float = 60.0) -> None:
        argv = shlex.split(command) if isinstance(command, str) else list(command)
        if not argv:
            raise ValueError("process backend: the command is empty")
        # The command runs in a temporary directory: words naming an existing relative path are made absolute.
        self.argv = [str(Path(w).resolve()) if not Path(w).is_absolute() and os.sep in w and Path(w).exists() else w for w in argv]
        self.timeout = timeout
        self.name = "process:" + shlex.join(argv)  # as given: a scoreboard names no local path

    def _invoke(self, args: Sequence[str], cwd: Path) -> bytes:
        """stdout of ``COMMAND args`` if it exited 0; raises Refusal on exit 3, ProtocolError otherwise."""
        env = {**os.environ, ENV_VAR: PROTOCOL}
        try:
            proc = subprocess.Popen(
                [*self.argv, *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
            )  # fmt: skip
        except OSError as exc:
            raise ProtocolError(f"cannot start {self.argv[0]!r}: {exc}") from None
        try:
            out, err = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            with contextlib.suppress(subprocess.TimeoutExpired):  # a grandchild that left the group holds the pipes
                proc.communicate(timeout=5)
            raise ProtocolError(f"timed out after {self.timeout:g} s (process group killed)") from None
        finally:
            _kill_group(proc)  # children left behind by an exited command
        if proc.returncode == EXIT_REFUSED:
            raise Refusal(self._reason(out, err))
        if proc.returncode != EXIT_RAN:
            how = f"killed by signal {-proc.returncode}" if proc.returncode < 0 else f"exit status {proc.returncode}"
            raise ProtocolError(f"{how}; stderr: {_tail(err) or '(empty)'}")
        if len(out) > MAX_STDOUT:
            raise ProtocolError(f"stdout larger than {MAX_STDOUT} bytes")
        return out

    @staticmethod
    def _reason(out: bytes, err: bytes) -> str:
        try:
            doc = json.loads(out)
        except ValueError:
            doc = None
        reason = doc.get("not_supported") if isinstance(doc, dict) else None
        if not isinstance(reason, str) or not reason:
            raise ProtocolError(f'exit status 3 without {{"not_supported": "reason"}} on stdout; stdout: {_tail(out) or "(empty)"}')
        return reason

    def load(self, bundle_path: str) -> Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]:
        bundle = str(Path(bundle_path).resolve())

        def session(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            with tempfile.TemporaryDirectory(prefix="kif-proc-") as tmp:
                work = Path(tmp) / "cwd"
                work.mkdir()
                feed, out = Path(tmp) / "inputs.safetensors", Path(tmp) / "outputs.safetensors"
                text = {k: v for k, v in inputs.items() if strings.is_strings(np.asarray(v))}
                save_file({k: np.ascontiguousarray(v) for k, v in inputs.items() if k not in text}, str(feed))
                if text:
                    strings.save_strings(text, strings.sibling(feed))
                self._invoke(["run", bundle, str(feed), str(out)], work)
                return _read_outputs(out)

        return session

    def validate(self, bundle_path: str, level: str = "full") -> list[dict[str, Any]]:
        args = ["validate", str(Path(bundle_path).resolve())] + ([] if level == "full" else ["--level", level])
        with tempfile.TemporaryDirectory(prefix="kif-proc-") as tmp:
            out = self._invoke(args, Path(tmp))
        return parse_findings(out)


def _read_outputs(out: Path) -> dict[str, np.ndarray]:
    """OUTPUT.safetensors (required, MAY hold no tensor) and, when written, the string outputs of OUTPUT.json."""
    if not out.is_file():
        raise ProtocolError("exit status 0 but OUTPUT.safetensors was not written")
    try:
        tensors = dict(load_file(str(out)))
    except Exception as exc:  # any parse failure of the executable's file is its protocol error
        raise ProtocolError(f"OUTPUT.safetensors is not a readable safetensors file: {exc}"[:300]) from None
    text_file = strings.sibling(out)
    if not text_file.exists():
        return tensors
    try:
        text = strings.load_strings(text_file)
    except (OSError, ValueError) as exc:
        raise ProtocolError(f"OUTPUT.json: {exc}".replace(str(text_file), "OUTPUT.json")[:300]) from None
    both = sorted(set(tensors) & set(text))
    if both:
        raise ProtocolError(f"outputs {both} are in both OUTPUT.safetensors and OUTPUT.json")
    return {**tensors, **text}


def parse_findings(out: bytes) -> list[dict[str, Any]]:
    """The findings of ``validate``'s stdout: {"findings": [{"code", "pointer", "severity"?, "file"?, ...}]}."""
    try:
        doc = json.loads(out)
    except ValueError:
        raise ProtocolError(f"validate: stdout is not JSON: {_tail(out) or '(empty)'}") from None
    findings = doc.get("findings") if isinstance(doc, dict) else None
    if not isinstance(findings, list):
        raise ProtocolError('validate: expected {"findings": [...]} on stdout')
    for index, item in enumerate(findings):
        ok = isinstance(item, dict) and isinstance(item.get("code"), str)
        ok = ok and (item.get("pointer") is None or isinstance(item.get("pointer"), str))
        if not ok or item.get("severity", "error") not in ("error", "warning"):
            raise ProtocolError(f"validate: finding {index} is not {{code: string, pointer: string|null, severity?: error|warning}}")
    return findings


def from_spec(spec: str, timeout: float) -> ProcessBackend | None:
    """The backend for ``--backend process:COMMAND``; None for any other backend name."""
    if not spec.startswith(PREFIX):
        return None
    command = spec[len(PREFIX) :].strip()
    if not command:
        raise SystemExit('Expected --backend "process:COMMAND" with a command. Received: "process:"')
    return ProcessBackend(command, timeout)


__all__ = ["ENV_VAR", "PROTOCOL", "ProcessBackend", "ProtocolError", "Refusal", "from_spec", "parse_findings"]
