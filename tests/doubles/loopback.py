"""The HTTP server the API doubles share: GET only, JSON bodies, a free loopback port, stopped
when the block ends (a daemon thread, so a failing test never leaves it running)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

# path, query (each key's values), headers (lower-case names) -> status, JSON body, headers
Respond = Callable[[str, dict[str, list[str]], dict[str, str]], tuple[int, Any, dict[str, str]]]


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def do_GET(self) -> None:
        split = urlsplit(self.path)
        query = parse_qs(split.query, keep_blank_values=True)
        headers = {k.lower(): v for k, v in self.headers.items()}
        with self.server.lock:
            status, body, extra = self.server.respond(split.path, query, headers)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the doubles record what they served."""


@contextmanager
def serve(respond: Respond) -> Iterator[str]:
    """Serve ``respond`` for the block; yields the base URL ``http://127.0.0.1:<port>``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.respond = respond  # type: ignore[attr-defined]
    server.lock = threading.Lock()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
