"""The Prometheus HTTP API, as any server speaking it answers (Prometheus, Thanos, Mimir,
VictoriaMetrics), behind the project's one HTTP policy.

Range queries go through prometheus-api-client's ``custom_query_range`` (it calls
``/api/v1/query_range``; its ``get_metric_range_data`` would use instant queries of range
selectors and split series per chunk). That client is built on requests and keeps only
``data.result``: it drops ``warnings`` and turns an error body into an exception holding bytes.
So we hand it a ``requests.Session`` whose adapter sends every request through the collector's
httpx client (`collector._http`: headers, bearer or basic auth, CA, timeouts, retries honouring
``Retry-After``, and ``transport=`` for tests) and keeps the response as received. We then read
the envelope ourselves: the raw bytes go to the bundle, ``warnings`` become findings, and
``status: error`` becomes a `PromAPIError` carrying Prometheus's own ``errorType`` and
``error`` text verbatim. The library mounts its own urllib3 retry adapter on the URL; ours is
mounted over it afterwards so retries happen once, under our policy.

Other endpoints (instant queries, rules, alerts, label values) are plain GETs on the same
httpx client: the library adds nothing there but the same dropped envelope.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from incident_timeline.collector.errors import SourceError
from incident_timeline.collector.http import RetryPolicy, request

_DROP_REQUEST = frozenset({"connection", "accept-encoding", "content-length", "user-agent"})
_DROP_RESPONSE = frozenset({"content-encoding", "content-length", "transfer-encoding"})


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


class _HttpxAdapter(BaseAdapter):
    """A requests transport adapter that sends through our httpx client and policy."""

    def __init__(self, client: httpx.Client, policy: RetryPolicy, what: str) -> None:
        super().__init__()
        self.client = client
        self.policy = policy
        self.what = what
        self.last: httpx.Response | None = None

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send ``request`` with `collector._http.request` and convert the answer back."""
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROP_REQUEST}
        answer = _send(
            self.client,
            str(request.method),
            str(request.url),
            self.what,
            self.policy,
            content=request.body,
            headers=headers,
        )
        self.last = answer
        response = requests.Response()
        response.status_code = answer.status_code
        response._content = answer.content
        response.headers = CaseInsensitiveDict(
            {k: v for k, v in answer.headers.items() if k.lower() not in _DROP_RESPONSE}
        )
        response.url = str(request.url)
        response.reason = answer.reason_phrase
        response.encoding = answer.encoding
        response.request = request
        return response

    def close(self) -> None:
        """Nothing to close: the httpx client belongs to the caller."""


class PrometheusAPI:
    """A Prometheus-compatible server behind ``client`` (see `collector._http.make_client`)."""

    def __init__(
        self, client: httpx.Client, *, policy: RetryPolicy | None = None, what: str = "prometheus"
    ) -> None:
        from prometheus_api_client import PrometheusConnect

        self.client = client
        self.policy = policy or RetryPolicy()
        self.what = what
        self.requests = 0
        url = str(client.base_url).rstrip("/")
        self._adapter = _HttpxAdapter(client, self.policy, what)
        session = requests.Session()
        self._connect = PrometheusConnect(url=url, session=session)
        for prefix in ("http://", "https://", url):
            session.mount(prefix, self._adapter)

    def query_range(self, expr: str, start: datetime, end: datetime, step: int) -> Reply:
        """``/api/v1/query_range`` via ``custom_query_range``; tz-aware UTC ``start``/``end``
        on whole seconds (the library rounds to integer seconds)."""
        from prometheus_api_client.exceptions import PrometheusApiClientException

        self._adapter.last = None
        self.requests += 1
        # An error status or an odd body: the envelope read below says which.
        with contextlib.suppress(PrometheusApiClientException, ValueError, KeyError, TypeError):
            self._connect.custom_query_range(expr, start_time=start, end_time=end, step=str(step))
        if self._adapter.last is None:
            raise SourceError(f"{self.what}: query_range sent no request")
        return _reply(self._adapter.last)

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Reply:
        """GET ``path`` (e.g. ``/api/v1/rules``) with our retry policy."""
        self.requests += 1
        return _reply(
            _send(self.client, "GET", path, self.what, self.policy, params=dict(params or {}))
        )

    def raw_samples(self, selector: str, at: datetime, span: str) -> Reply:
        """Samples as stored: the instant query ``selector[span]`` evaluated at ``at``."""
        return self.get(
            "/api/v1/query", {"query": f"{selector}[{span}]", "time": f"{at.timestamp():.3f}"}
        )


def _send(
    client: httpx.Client, method: str, url: str, what: str, policy: RetryPolicy, **kwargs: Any
) -> httpx.Response:
    return request(client, method, url, what=what, policy=policy, **kwargs)


def _reply(response: httpx.Response) -> Reply:
    body = response.content
    try:
        envelope = json.loads(body)
    except ValueError:
        envelope = {}
    if not isinstance(envelope, dict):
        envelope = {}
    endpoint = f"{response.request.method} {response.request.url.path}"
    return Reply(body, envelope, response.status_code, endpoint)
