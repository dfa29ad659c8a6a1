"""Bundles read from fsspec URLs: a local HTTP server honouring Range, and fsspec's memory filesystem.

Bytes are counted where they leave: by the HTTP handler (what went over the socket) and by the reader's own counters
for memory://. The arrays read remotely are compared with the arrays that were written.
"""

from __future__ import annotations

import http.server
import json
import re
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import fsspec
import numpy as np
import pytest

import kif
from kif.bundle.container import open_container
from kif.bundle.remote import is_url, transferred
from kif.cli import main
from kif.errors import KifError

BIG = np.arange(4 * 1024 * 1024, dtype="float32").reshape(2048, 2048) / 7.0  # 16 MiB: the kernel that is never read
SMALL = np.linspace(-1, 1, 2048, dtype="float32")


def _model() -> kif.Model:
    b = kif.GraphBuilder("wide")
    x = b.input("x", "float32", (None, 2048))
    b.output(b.add("Dense", x, name="d", units=2048, weights={"kernel": BIG, "bias": SMALL}))
    return b.build()


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return kif.save(_model(), tmp_path_factory.mktemp("remote") / "wide.kif")


class _Server(http.server.ThreadingHTTPServer):
    root: Path
    sent: int
    requests: list[str | None]
    paths: list[str]
    honour_range: bool


class _RangeHandler(http.server.BaseHTTPRequestHandler):
    """GET and HEAD of files under the server's root, with single ``bytes=a-b`` ranges (206) as RFC 9110 says."""

    server: _Server

    def log_message(self, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, body: bool) -> None:
        self.server.paths.append(self.path)
        path = self.server.root / self.path.lstrip("/")
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if body:
            self.server.requests.append(self.headers.get("Range"))
        if match and self.server.honour_range:
            start, end = int(match[1]), int(match[2] or len(data) - 1)
            part = data[start : end + 1]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{start + len(part) - 1}/{len(data)}")
        else:
            part = data
            self.send_response(200)
        self.send_header("Content-Length", str(len(part)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if body:
            self.server.sent += len(part)  # counted before sending, so a client never sees bytes not yet counted
            self.wfile.write(part)


@pytest.fixture
def server(archive: Path) -> Iterator[_Server]:
    httpd = _Server(("127.0.0.1", 0), _RangeHandler)
    httpd.root, httpd.sent, httpd.requests, httpd.paths, httpd.honour_range = archive.parent, 0, [], [], True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


def _url(server: _Server, name: str = "wide.kif") -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/{name}"


def test_is_url_tells_urls_from_paths() -> None:
    assert is_url("memory://a.kif") and is_url("https://host/a.kif") and is_url("file:///tmp/a.kif")
    assert not is_url("a.kif") and not is_url("C:\\models\\a.kif") and not is_url(Path("memory://a.kif"))


def test_http_lazy_load_reads_headers_then_one_tensor(server: _Server, archive: Path) -> None:
    total = archive.stat().st_size
    model = kif.load(_url(server), verify=False)
    opened = server.sent
    assert opened < 64 * 1024, f"opening transferred {opened} bytes of {total}"
    assert model.parameter_count() == BIG.size + SMALL.size  # from the headers: no tensor read
    assert server.sent == opened
    bias = model.weights["d/bias"]
    np.testing.assert_array_equal(bias, SMALL)
    assert server.sent - opened == SMALL.nbytes, "one tensor costs exactly its bytes"
    assert server.requests[-1] is not None, "the tensor came from a ranged request"
    assert server.sent < total / 100
    assert all(r is not None for r in server.requests), "no request fetched the whole archive"


def test_http_verified_load_reads_headers_then_verifies_each_tensor_read(server: _Server, archive: Path) -> None:
    x = np.linspace(0, 1, 2 * 2048, dtype="float32").reshape(2, 2048)
    remote = kif.load(_url(server))  # verify=True; per-tensor digests (spec 0.2): only the headers are checked now
    opened = server.sent
    assert opened < 64 * 1024, f"a verified open transferred {opened} bytes"
    np.testing.assert_array_equal(remote.weights["d/bias"], SMALL)
    assert server.sent - opened == SMALL.nbytes, "a verified tensor read costs exactly its bytes: the ones hashed"
    np.testing.assert_array_equal(remote(x)["d"], kif.load(archive)(x)["d"])


def test_http_whole_file_digests_are_streamed_on_a_verified_load(server: _Server, archive: Path) -> None:
    kif.save(kif.load(archive), archive.parent / "whole.kif", digests="file", overwrite=True)
    kif.load(_url(server, "whole.kif"))  # spec 0.1 digests cover whole files: the SHA-256 pass reads the weights
    assert server.sent >= (archive.parent / "whole.kif").stat().st_size - 4096


def test_http_a_corrupted_tensor_is_caught_by_validate_and_on_its_first_read(server: _Server, archive: Path) -> None:
    data = bytearray(archive.read_bytes())
    at = data.index(BIG[1000].tobytes())  # a byte inside the big kernel's data
    data[at] ^= 0xFF
    (archive.parent / "bad.kif").write_bytes(bytes(data))
    report = kif.validate(_url(server, "bad.kif"))
    assert "weights-checksum-mismatch" in report.codes()
    assert any(f.file.startswith(_url(server, "bad.kif")) for f in report.errors), "findings name the URL"
    model = kif.load(_url(server, "bad.kif"))  # opens: the headers are intact
    np.testing.assert_array_equal(model.weights["d/bias"], SMALL)
    with pytest.raises(KifError) as info:
        model.weights["d/kernel"]
    assert info.value.code == "weights-checksum-mismatch" and info.value.pointer == "/weights/tensors/d~1kernel/sha256"
    kif.load(_url(server, "bad.kif"), verify=False).weights["d/kernel"]  # unverified: read as is, as documented


def test_http_directory_bundle_is_read_from_the_files_model_json_names(server: _Server, archive: Path) -> None:
    folder = archive.parent / "wide_dir_http"
    if not folder.exists():
        kif.save(kif.load(archive), folder)
    url = _url(server, "wide_dir_http/")  # plain HTTP cannot list a folder: the trailing slash says it is one
    model = kif.load(url)
    opened = server.sent
    assert opened < 64 * 1024, f"a verified open of an HTTP directory bundle transferred {opened} bytes"
    np.testing.assert_array_equal(model.weights["d/bias"], SMALL)
    assert server.sent - opened == SMALL.nbytes
    assert kif.validate(url).ok
    assert all(p.startswith("/wide_dir_http/") for p in server.paths)
    assert {p.rsplit("/", 1)[-1] for p in server.paths} == {"", "model.json", "weights.safetensors"}  # "": the folder probe


def test_http_directory_bundle_never_fetches_outside_its_folder(server: _Server, archive: Path) -> None:
    folder = archive.parent / "hostile_dir"
    folder.mkdir(exist_ok=True)
    with zipfile.ZipFile(archive) as z:
        doc = json.loads(z.read("model.json"))
        (folder / "weights.safetensors").write_bytes(z.read("weights.safetensors"))
    doc["weights"]["files"][0]["path"] = "../wide.kif"
    (folder / "model.json").write_text(json.dumps(doc))
    report = kif.validate(_url(server, "hostile_dir/"))
    assert not report.ok and "schema-violation" in report.codes()
    assert not any("wide.kif" in p for p in server.paths), server.paths
    with pytest.raises(KifError) as info:
        kif.load(_url(server, "no_such_dir/"))
    assert info.value.code == "bundle-not-found" and "model.json" in info.value.message


def test_http_server_ignoring_range_is_one_error(server: _Server) -> None:
    server.honour_range = False
    with pytest.raises(KifError) as info:
        kif.load(_url(server), verify=False)
    assert info.value.code == "bundle-unreadable" and "Range" in info.value.message


def test_http_missing_bundle_is_not_found(server: _Server) -> None:
    with pytest.raises(KifError) as info:
        kif.load(_url(server, "nothing.kif"))
    assert info.value.code == "bundle-not-found" and info.value.file == _url(server, "nothing.kif")


def test_cli_inspect_and_validate_take_a_url(server: _Server, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", _url(server), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["parameters"] == BIG.size + SMALL.size and info["path"] == _url(server)
    assert server.sent < 64 * 1024, "inspect reads headers only"
    assert main(["validate", _url(server)]) == 0
    assert "valid" in capsys.readouterr().out
    assert main(["validate", _url(server, "nothing.kif")]) == 2


def test_memory_archive_and_directory(archive: Path) -> None:
    fs = fsspec.filesystem("memory")
    fs.pipe("/kif-test/wide.kif", archive.read_bytes())
    folder = kif.save(kif.load(archive), archive.parent / "wide_dir")
    for file in folder.iterdir():
        fs.pipe(f"/kif-test/wide_dir/{file.name}", file.read_bytes())
    try:
        for url in ("memory://kif-test/wide.kif", "memory://kif-test/wide_dir"):
            container = open_container(url)
            opened, _ = transferred(container)
            assert opened < 16 * 1024, f"{url}: opening read {opened} bytes"
            model = kif.load(url, verify=False)
            np.testing.assert_array_equal(model.weights["d/kernel"], BIG)
            assert kif.validate(url).ok
    finally:
        fs.rm("/kif-test", recursive=True)


def test_without_fsspec_a_url_names_the_install_command() -> None:
    code = (
        "import sys\nsys.modules['fsspec'] = None\nimport kif\n"
        "try:\n    kif.load('memory://x.kif')\nexcept ImportError as exc:\n    print(exc.code, exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    line = out.stdout.strip()
    assert line.startswith("dependency-missing") and 'pip install "kif-format[remote]"' in line and "\n" not in line


def test_remote_benchmark_smoke(tmp_path: Path) -> None:
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "remote.py"
    done = subprocess.run(
        [sys.executable, str(script), "--size-mb", "4", "--workdir", str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    rows = {line.split("|")[1].strip(): line.split("|")[2:] for line in done.stdout.splitlines() if line.startswith("| ")}
    opened = int(rows["verified open (kif.load)"][0].replace(",", ""))
    assert 0 < opened < 2**20 and "verified open < 1 MB: yes" in done.stdout
    assert opened == int(rows["open (kif.load verify=False)"][0].replace(",", "")), "integrity on reads nothing more"
    assert int(rows["first tensor (d0/bias), verified"][0].replace(",", "")) == 256 * 4  # one bias of the smoke model, exactly
    assert list(tmp_path.iterdir()) == []  # the generated bundle was removed
