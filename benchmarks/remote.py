"""Remote-read benchmark: a ~1 GB ``.kif`` archive served over local HTTP with Range support, read through fsspec.

The bundle (a stack of square float32 Dense layers, ``--size-mb`` of weights) is generated in a temporary directory
and served by a ThreadingHTTPServer that honours single ``bytes=a-b`` ranges and counts every body byte it sends.
Printed, per step: bytes transferred, requests, time, and bytes as a fraction of the archive:

* ``open``: ``kif.load(url, verify=False)``: ZIP directory, local headers, model.json, safetensors headers;
* ``verified open``: ``kif.load(url)`` (integrity on): the same reads, plus the SHA-256 of each header (the bundle has
  per-tensor digests, what ``kif.save`` writes by default);
* ``first tensor``: one layer's bias (one ranged read, hashed before use), then one kernel;
* ``validate``: ``kif.validate(url)``, which reads and hashes every tensor.

    python benchmarks/remote.py                  # 1 GiB of weights
    python benchmarks/remote.py --size-mb 4      # smoke test

The line "verified open < 1 MB: yes" is the issue's bar: opening a 1 GB bundle with integrity on transfers < 1 MB
before a tensor is read.
"""

from __future__ import annotations

import argparse
import http.server
import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import kif
import numpy as np

_WIDTH = 4096  # one 4096 x 4096 float32 kernel is 64 MiB


class _Server(http.server.ThreadingHTTPServer):
    root: Path
    sent = 0
    requests = 0


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, body: bool) -> None:
        path = self.server.root / self.path.lstrip("/")
        if not path.is_file():
            self.send_error(404)
            return
        size = path.stat().st_size
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        start, end = (int(match[1]), min(size - 1, int(match[2] or size - 1))) if match else (0, size - 1)
        self.send_response(206 if match else 200)
        if match:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if not body:
            return
        self.server.requests += 1
        with open(path, "rb") as stream:
            stream.seek(start)
            left = end - start + 1
            while left > 0:
                chunk = stream.read(min(left, 8 << 20))
                self.server.sent += len(chunk)  # before sending: the client never sees bytes not yet counted
                self.wfile.write(chunk)
                left -= len(chunk)


def _model(size_mb: int) -> kif.Model:
    width = _WIDTH if size_mb >= 64 else 256
    count = max(1, round(size_mb * 2**20 / (width * width * 4)))
    b = kif.GraphBuilder("remote_bench")
    x = b.input("x", "float32", (None, width))
    rng = np.random.default_rng(0)
    for i in range(count):
        kernel = rng.standard_normal((width, width), dtype=np.float32) / width
        x = b.add("Dense", x, name=f"d{i}", units=width, weights={"kernel": kernel, "bias": np.full(width, i, np.float32)})
    b.output(x)
    return b.build()


def _step(server: _Server, name: str, total: int, action) -> tuple[str, int, int, float]:
    sent, requests, start = server.sent, server.requests, time.perf_counter()
    action()
    seconds = time.perf_counter() - start
    moved = server.sent - sent
    print(f"| {name} | {moved:,} | {server.requests - requests} | {seconds:.3f} | {moved / total:.6f} |")
    return name, moved, server.requests - requests, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="weights to generate, in MiB (default 1024)")
    parser.add_argument("--workdir", help="where to write the bundle (default: a temporary directory, removed after)")
    parser.add_argument("--no-validate", action="store_true", help="skip the full validate step (it transfers the whole archive)")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="kif-remote-", dir=args.workdir))
    try:
        started = time.perf_counter()
        archive = kif.save(_model(args.size_mb), root / "model.kif")
        total = archive.stat().st_size
        print(f"wrote {archive.name}: {total:,} bytes in {time.perf_counter() - started:.1f} s")
        server = _Server(("127.0.0.1", 0), _Handler)
        server.root = root
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/model.kif"
        import fsspec.implementations.http  # noqa: F401  (imported first so "open" times reads, not imports)

        holder: dict[str, kif.Model] = {}
        print("| step | bytes transferred | requests | seconds | fraction of archive |")
        print("|---|---:|---:|---:|---:|")
        _step(server, "open (kif.load verify=False)", total, lambda: holder.setdefault("lazy", kif.load(url, verify=False)))
        _, opened, _, _ = _step(server, "verified open (kif.load)", total, lambda: holder.setdefault("m", kif.load(url)))
        weights = holder["m"].weights
        _step(server, "first tensor (d0/bias), verified", total, lambda: float(weights["d0/bias"].sum()))
        _step(server, "one kernel (d0/kernel), verified", total, lambda: float(weights["d0/kernel"].sum()))
        if not args.no_validate:
            _step(server, "kif.validate (SHA-256 of every tensor)", total, lambda: kif.validate(url))
        server.shutdown()
        server.server_close()
        fraction = f"{opened:,} bytes of {total:,}: 1/{total // max(opened, 1):,}"
        print(f"verified open < 1 MB: {'yes' if opened < 2**20 else 'NO'} ({fraction})")
        return 0 if opened < 2**20 else 1
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
