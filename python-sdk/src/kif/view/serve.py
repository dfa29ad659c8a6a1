"""``kif view`` without ``-o``: serve the page on 127.0.0.1 (never another interface) until interrupted."""

from __future__ import annotations

import http.server
from collections.abc import Callable


def make_server(page: str, port: int = 0) -> http.server.ThreadingHTTPServer:
    """A server bound to 127.0.0.1 that answers ``/`` (and ``/index.html``) with ``page`` and 404 otherwise."""
    body = page.encode("utf-8")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] not in ("/", "/index.html"):
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # quiet: the URL line is the only output
            pass

    return http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)


def serve(page: str, port: int = 0, announce: Callable[[str], None] = print) -> None:
    """Serve ``page`` and call ``announce`` with its URL; returns on Ctrl-C."""
    server = make_server(page, port)
    host, bound = server.server_address[:2]
    announce(f"kif view: serving on http://{host}:{bound}/ (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
