"""A small local fault server: what a hostile but fair network gives an HTTP collector.

The first path segment picks the fault, so one server serves every case and a collector's
``url`` names it: ``http://127.0.0.1:PORT/<fault>/api/v1/query_range``.

    ok       valid, empty answers for Prometheus and Alertmanager
    trickle  headers, then one byte every TRICKLE_GAP seconds, never done
    hang     accepts the request and never answers
    echo     401 whose body quotes the Authorization header
    echo500  500 with a Prometheus ``status: error`` body (or an Alertmanager status page with
             receiver secrets) quoting the Authorization header
    shape    well-formed JSON of the wrong shape (a vector for a range query; an object for
             Alertmanager's arrays)
    field    Alertmanager alerts of which one has a wrong-typed field (``labels: "x"``)
    big      200 with a body of BIG_BYTES
    401/403/404/429/500  that status, always (429 with Retry-After: 0)
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

TRICKLE_GAP = 0.1
BIG_BYTES = 3 << 20
FIELD_ALERT = {
    "labels": {"alertname": "HighErrorRate"},
    "annotations": {},
    "fingerprint": "3a75c0f1e2d4b6a8",
    "startsAt": "2026-02-17T14:02:00Z",
    "endsAt": "2026-02-17T15:02:00Z",
    "updatedAt": "2026-02-17T14:02:00Z",
    "receivers": [{"name": "pagerduty"}],
    "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
}
AM_SECRETS = {"slack_api_url": "https://hooks.slack.com/services/T0/B0/am-slack-secret"}


class FaultServer:
    """The server on an ephemeral loopback port, in daemon threads; ``stop`` ends it."""

    def __init__(self) -> None:
        self.stopping = threading.Event()
        handler = type("Handler", (_Handler,), {"server_ref": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, fault: str) -> str:
        """The base URL a collector uses for ``fault``."""
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{fault}"

    def stop(self) -> None:
        """End every open request (hang, trickle) and the server."""
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    server_ref: FaultServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path).path.strip("/").split("/", 1)
        fault, api = parts[0], "/" + (parts[1] if len(parts) > 1 else "")
        stopping = self.server_ref.stopping
        if fault == "hang":
            stopping.wait(30)
            return
        if fault == "trickle":
            self._trickle(stopping)
            return
        auth = self.headers.get("Authorization", "")
        if fault == "echo":
            self._send(401, {"error": f"invalid credentials: {auth}", "status": "error"})
        elif fault == "echo500":
            if api.startswith("/api/v2/status"):
                self._send(500, {"config": AM_SECRETS, "auth": auth})
            else:
                body = {"status": "error", "errorType": "internal", "error": f"bad {auth}"}
                self._send(500, body)
        elif fault.isdigit():
            headers = {"Retry-After": "0"} if fault == "429" else {}
            self._send(int(fault), {"status": "error", "error": f"HTTP {fault}"}, headers)
        elif fault == "field" and api.startswith("/api/v2/alerts"):
            self._send(200, [FIELD_ALERT, {**FIELD_ALERT, "labels": "x"}])
        elif fault == "big":
            self._raw(200, b"[" + b" " * BIG_BYTES + b"]")
        else:
            self._send(200, _answer(api, shape=fault == "shape"))

    def _trickle(self, stopping: threading.Event) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "1000000")
        self.end_headers()
        try:
            while not stopping.is_set():
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(TRICKLE_GAP)
        except OSError:  # the client gave up: what we want
            return

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self._raw(status, json.dumps(body).encode(), headers)

    def _raw(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        try:
            self.wfile.write(data)
        except OSError:
            return


def _answer(api: str, *, shape: bool) -> Any:
    """Valid (or, with ``shape``, wrong-shaped) answers of the endpoints the collectors ask."""
    if api.startswith("/api/v2/alerts") or api.startswith("/api/v2/silences"):
        return {"alerts": []} if shape else []
    if api.startswith("/api/v2/status"):
        return {"cluster": {"status": "ready"}, "config": {"original": "route: {}"}}
    if api.startswith("/api/v1/query_range"):
        kind = "vector" if shape else "matrix"
        result = [{"metric": {"job": "api"}, "value": [1771337100, "1"]}] if shape else []
        return {"status": "success", "data": {"resultType": kind, "result": result}}
    if api.startswith("/api/v1/rules"):
        return {"status": "success", "data": {"groups": []}}
    if api.startswith("/api/v1/alerts"):
        return {"status": "success", "data": {"alerts": []}}
    return {"status": "success", "data": []}
