"""The Prometheus HTTP API, as any server speaking it answers (Prometheus, Thanos, Mimir,
VictoriaMetrics), behind the project's one HTTP policy (`collector.http`: headers, bearer or
basic auth, CA, total deadlines, the size cap, retries honouring ``Retry-After``, and
``transport=`` for tests).

Every endpoint is a plain GET on the collector's httpx client. Range queries send what
prometheus-api-client's ``custom_query_range`` sent (``start``/``end`` as
``round(dt.timestamp())``, integer seconds; ``step`` in seconds), without the library: it
decodes every body a second time (``response.json()``) only to keep ``data.result``, dropping
``warnings`` and turning ``status: error`` into an exception holding bytes. We read the
envelope ourselves, once: the raw bytes go to the bundle as received, ``warnings`` become
findings, ``status: error`` becomes a `PromAPIError` carrying Prometheus's own ``errorType``
and ``error`` text verbatim, and matrix answers are read straight into columns
(`collector.prometheus.matrix`).

Answers are asked for uncompressed unless ``gzip = true``: on a 4.8 MB range answer,
compressing costs Prometheus more time than the transfer takes on a local network
(``bench/prometheus_bench.py`` measures both in one run).
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx

from incident_timeline.collector.errors import SourceError
from incident_timeline.collector.http import RetryPolicy, request
from incident_timeline.collector.prometheus.matrix import Series, parse_body


class PromAPIError(SourceError):
    """Prometheus answered with an error: ``error_type`` and ``error`` exactly as it wrote them."""

    def __init__(self, error_type: str, error: str, status: int) -> None:
        super().__init__(f"{error_type}: {error}")
        self.error_type = error_type
        self.error = error
        self.status = status


@dataclasses.dataclass(frozen=True)
class Reply:
    """One answer: the body as received, and its parsed envelope."""

    body: bytes
    envelope: dict[str, Any]
    status: int
    endpoint: str = ""  # "GET /api/v1/query_range", for messages
    series: list[Series] | None = None  # a matrix read as columns (its envelope's values empty)

    @property
    def warnings(self) -> list[str]:
        """The envelope's ``warnings`` (and ``infos``, Prometheus 3) as strings."""
        found = list(self.envelope.get("warnings") or []) + list(self.envelope.get("infos") or [])
        return [str(w) for w in found]

    def check(self) -> dict[str, Any]:
        """The envelope if it is a success; else the server's own error as a PromAPIError."""
        if self.envelope.get("status") == "success":
            return self.envelope
        return self._raise()

    def _raise(self) -> dict[str, Any]:
        if "error" in self.envelope:
            raise PromAPIError(
                str(self.envelope.get("errorType") or "error"),
                str(self.envelope["error"]),
                self.status,
            )
        text = self.body.decode("utf-8", errors="replace").strip()[:300]
        raise PromAPIError(f"HTTP {self.status}", text or "empty response", self.status)


class PrometheusAPI:
    """A Prometheus-compatible server behind ``client`` (see `collector._http.make_client`)."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        policy: RetryPolicy | None = None,
        what: str = "prometheus",
        gzip: bool = False,
    ) -> None:
        self.client = client
        self.policy = policy or RetryPolicy()
        self.what = what
        self.requests = 0
        self._lock = threading.Lock()  # chunks are fetched from several threads
        self.headers = {} if gzip else {"Accept-Encoding": "identity"}

    def query_range(self, expr: str, start: datetime, end: datetime, step: int) -> Reply:
        """``/api/v1/query_range`` with tz-aware UTC ``start``/``end`` on whole seconds."""
        params = {
            "query": expr,
            "start": str(round(start.timestamp())),
            "end": str(round(end.timestamp())),
            "step": str(step),
        }
        return self.get("/api/v1/query_range", params, matrix=True)

    def get(
        self, path: str, params: Mapping[str, Any] | None = None, *, matrix: bool = False
    ) -> Reply:
        """GET ``path`` (e.g. ``/api/v1/rules``) with our retry policy; ``matrix``: the answer
        is read as a matrix (`Reply.series`) where its shape allows."""
        with self._lock:
            self.requests += 1
        response = _send(
            self.client,
            "GET",
            path,
            self.what,
            self.policy,
            params=dict(params or {}),
            headers=self.headers,
        )
        return _reply(response, matrix)

    def raw_samples(self, selector: str, at: datetime, span: str) -> Reply:
        """Samples as stored: the instant query ``selector[span]`` evaluated at ``at``."""
        params = {"query": f"{selector}[{span}]", "time": f"{at.timestamp():.3f}"}
        return self.get("/api/v1/query", params, matrix=True)


def _send(
    client: httpx.Client, method: str, url: str, what: str, policy: RetryPolicy, **kwargs: Any
) -> httpx.Response:
    return request(client, method, url, what=what, policy=policy, **kwargs)


def _reply(response: httpx.Response, matrix: bool = False) -> Reply:
    body = response.content
    if matrix:
        envelope, series = parse_body(body)
    else:
        envelope, series = _decode(body), None
    if not isinstance(envelope, dict):
        envelope, series = {}, None
    endpoint = f"{response.request.method} {response.request.url.path}"
    return Reply(body, envelope, response.status_code, endpoint, series)


def _decode(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return {}
