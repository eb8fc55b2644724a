"""Range queries are plain httpx GETs (bodies decoded once, see collector/prometheus/api.py);
prometheus-api-client stays the reference for what is sent: the same parameters its
``custom_query_range`` sends, compared here by capturing both requests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import requests
from prometheus_api_client import PrometheusConnect
from requests.adapters import BaseAdapter

from incident_timeline.collector.prometheus.api import PrometheusAPI

BODY = b'{"status":"success","data":{"resultType":"matrix","result":[]}}'


class _Capture(BaseAdapter):
    """A requests adapter that records the request and answers an empty matrix."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        self.sent.append(request)
        response = requests.Response()
        response.status_code = 200
        response._content = BODY
        response.url = str(request.url)
        return response

    def close(self) -> None:
        pass


def _query(url: str) -> tuple[str, dict[str, list[str]]]:
    parts = urlsplit(url)
    return parts.path, parse_qs(parts.query)


def test_range_query_sends_what_prometheus_api_client_sends() -> None:
    start = datetime(2024, 6, 1, 11, 0, 0, 400000, tzinfo=UTC)
    end = datetime(2024, 6, 1, 14, 0, 0, 600000, tzinfo=UTC)
    expr = 'sum by (pod) (rate(http_requests_total{job="api",code=~"5.."}[5m]))'

    capture = _Capture()
    session = requests.Session()
    library = PrometheusConnect(url="http://prom.test:9090", session=session)
    # The library mounts its own retrying adapter on the URL; ours goes over it.
    session.mount("http://prom.test:9090", capture)
    library.custom_query_range(expr, start_time=start, end_time=end, step="15")

    ours: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        ours.append(request)
        return httpx.Response(200, content=BODY)

    client = httpx.Client(base_url="http://prom.test:9090", transport=httpx.MockTransport(answer))
    reply = PrometheusAPI(client).query_range(expr, start, end, 15)

    assert reply.check()["data"]["result"] == []
    assert len(capture.sent) == len(ours) == 1
    assert _query(str(ours[0].url)) == _query(str(capture.sent[0].url))
    assert _query(str(ours[0].url))[1] == {
        "query": [expr],
        "start": ["1717239600"],
        "end": ["1717250401"],
        "step": ["15"],
    }
    assert ours[0].headers["accept-encoding"] == "identity"
