"""A small Chrome DevTools Protocol client over ``--remote-debugging-pipe`` (stdlib only: no websocket, no driver).

Chromium reads commands on fd 3 and writes replies and events on fd 4, each message JSON ended by a NUL byte.
One page target is attached in flat mode; every event of that session is kept, so a test can assert on console
errors and network requests after the fact.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

TIMEOUT = 60.0


def chromium_path() -> str:
    """The Chromium binary; a missing one is a failure that says how to install it, never a skip."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise AssertionError(
        "kif view's browser test needs Chromium and found none on PATH: install it with "
        "`apt-get install -y chromium` (.ci/run does this before the tests)"
    )


class Browser:
    """Headless Chromium with one attached page; use as a context manager."""

    def __init__(self, width: int = 1400, height: int = 900) -> None:
        self._profile = tempfile.mkdtemp(prefix="kif-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def fds() -> None:  # in the child: fd 3 = commands in, fd 4 = replies out (copied high first: no clobbering)
            high_r, high_w = os.dup2(to_child_r, 100), os.dup2(from_child_w, 101)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        argv = [chromium_path(), "--headless=new", "--remote-debugging-pipe", f"--user-data-dir={self._profile}"]
        argv += ["--no-first-run", "--no-default-browser-check", "--disable-gpu", "--disable-extensions"]
        argv += ["--disable-background-networking", "--disable-component-update", "--disable-sync", "--mute-audio"]
        argv += [f"--window-size={width},{height}", "--hide-scrollbars"]
        if os.geteuid() == 0:
            argv.append("--no-sandbox")  # Chromium refuses to start as root with its sandbox
        argv.append("about:blank")
        self._log = open(os.path.join(self._profile, "stderr.log"), "wb")  # noqa: SIM115 (closed in __exit__)
        self.process = subprocess.Popen(argv, preexec_fn=fds, pass_fds=(3, 4), stdout=subprocess.DEVNULL, stderr=self._log)
        os.close(to_child_r)
        os.close(from_child_w)
        self._next = 0
        self._replies: dict[int, queue.Queue[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.events: list[dict[str, Any]] = []
        self._enabled = False
        self._event = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        self.session = self._attach()

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._from_child, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "id" in message:
                    with self._lock:
                        box = self._replies.get(message["id"])
                    if box is not None:
                        box.put(message)
                else:
                    with self._event:
                        self.events.append(message)
                        self._event.notify_all()

    def send(self, method: str, params: dict[str, Any] | None = None, *, session: bool = True, timeout: float = TIMEOUT) -> Any:
        with self._lock:
            self._next += 1
            ident = self._next
            box: queue.Queue[dict[str, Any]] = queue.Queue()
            self._replies[ident] = box
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        try:
            reply = box.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"Chromium did not answer {method} within {timeout} s") from None
        if "error" in reply:
            raise AssertionError(f"{method} failed: {reply['error']}")
        return reply.get("result", {})

    def _attach(self) -> str:
        self.session = ""
        targets = self.send("Target.getTargets", session=False)["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        return str(self.send("Target.attachToTarget", {"targetId": page["targetId"], "flatten": True}, session=False)["sessionId"])

    def wait_event(self, method: str, timeout: float = TIMEOUT, since: int = 0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._event:
            while True:
                for event in self.events[since:]:
                    if event.get("method") == method:
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {method} event within {timeout} s")
                self._event.wait(left)

    def open(self, url: str) -> int:
        """Navigate and wait for the load event; returns the event number the navigation started at."""
        if not self._enabled:
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.send(f"{domain}.enable")
            self._enabled = True
        mark = len(self.events)
        self.send("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired", since=mark)
        return mark

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, x: float, y: float) -> None:
        """A real mouse click (pressed and released) at page coordinates."""
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})

    def screenshot(self, path: Path) -> None:
        import base64

        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))

    def console_errors(self, since: int = 0) -> list[str]:
        """Exceptions, console.error/assert calls and error log entries, from event number ``since`` on."""
        found = []
        for event in list(self.events)[since:]:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(json.dumps(params.get("exceptionDetails", {}))[:500])
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(json.dumps(params.get("args", []))[:500])
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                found.append(json.dumps(params["entry"])[:500])
        return found

    def requests(self, since: int = 0) -> list[str]:
        """The URL of every request the page made, from event number ``since`` on."""
        return [e["params"]["request"]["url"] for e in list(self.events)[since:] if e.get("method") == "Network.requestWillBeSent"]

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(AssertionError):  # a browser that already died is closed enough
            self.send("Browser.close", session=False, timeout=10)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        os.close(self._to_child)
        os.close(self._from_child)
        self._log.close()
        shutil.rmtree(self._profile, ignore_errors=True)
