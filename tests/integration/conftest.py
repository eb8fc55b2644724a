"""Real-server fixtures: each server starts at most once per session, on a free loopback port
with its own temp dir, and is stopped by PID at the end (see servers.py for how)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.servers import (
    Live,
    LocalHTTP,
    Server,
    backfill,
    incident_series,
    local_http,
    openmetrics,
    start_alertmanager,
    start_node_exporter,
    start_prometheus,
    temp_dir,
)

_RUNNING: dict[str, Any] = {}


def _once(request: pytest.FixtureRequest, name: str, factory: Callable[[], Any]) -> Any:
    """Start ``name`` at most once per session (even if two modules import its fixture)."""
    if name not in _RUNNING:
        _RUNNING[name] = factory()
        request.addfinalizer(_RUNNING[name].stop)
    return _RUNNING[name]


@pytest.fixture(scope="session")
def backfilled_prometheus(request: pytest.FixtureRequest) -> Server:
    """Prometheus over a TSDB holding `incident_series` (scrapes nothing)."""

    def make() -> Server:
        workdir = temp_dir("prometheus-backfilled")
        data = backfill(openmetrics(incident_series()), workdir)
        return start_prometheus(workdir, "global: {}\nscrape_configs: []\n", data)

    return _once(request, "backfilled_prometheus", make)  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def alertmanager(request: pytest.FixtureRequest) -> tuple[Server, LocalHTTP]:
    """Alertmanager whose only receiver is a webhook logger (group_wait/interval 1 s)."""

    def make() -> _Pair:
        workdir = temp_dir("alertmanager")
        hook = local_http(workdir)
        config = (
            "route: {receiver: webhook-logger, group_by: [alertname], group_wait: 1s, "
            "group_interval: 1s, repeat_interval: 1h}\n"
            f"receivers: [{{name: webhook-logger, webhook_configs: "
            f"[{{url: '{hook.url}/hook', send_resolved: true}}]}}]\n"
        )
        return _Pair(start_alertmanager(workdir, config), hook)

    pair = _once(request, "alertmanager", make)
    return pair.server, pair.helper


@pytest.fixture(scope="session")
def live_prometheus(request: pytest.FixtureRequest, alertmanager: tuple[Server, LocalHTTP]) -> Live:
    """Prometheus evaluating a real alerting rule every second on a local exporter whose
    ``app_error_ratio`` the test sets, sending alerts to the session's Alertmanager; it also
    scrapes a real node_exporter."""

    def make() -> Live:
        workdir = temp_dir("prometheus-live")
        exporter = local_http(workdir)
        exporter.values["app_error_ratio"] = 0.0
        node = start_node_exporter(temp_dir("node-exporter"))
        (workdir / "rules.yml").write_text(
            "groups:\n- name: live\n  interval: 1s\n  rules:\n  - alert: LiveErrorRatio\n"
            "    expr: app_error_ratio > 0.5\n    for: 2s\n    labels: {severity: page}\n"
            "    annotations: {summary: error ratio above 50 %}\n"
        )
        config = (
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            f"rule_files: ['{workdir / 'rules.yml'}']\n"
            "alerting: {alertmanagers: [{static_configs: [{targets: "
            f"['{alertmanager[0].url.removeprefix('http://')}']}}]}}]}}\n"
            "scrape_configs:\n"
            f"- {{job_name: app, static_configs: [{{targets: ['{exporter.url[7:]}']}}]}}\n"
            f"- {{job_name: node, static_configs: [{{targets: ['{node.url[7:]}']}}]}}\n"
        )
        return Live(start_prometheus(workdir, config), exporter, node)

    return _once(request, "live_prometheus", make)  # type: ignore[no-any-return]


@dataclasses.dataclass
class _Pair:
    server: Server
    helper: LocalHTTP

    def stop(self) -> None:
        self.server.stop()
        self.helper.stop()
