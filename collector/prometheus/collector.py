"""The ``prometheus`` collector: named range queries with thresholds, alert history, rules,
and built-in clock, scrape and Kubernetes evidence, from anything speaking the Prometheus
HTTP API (Prometheus, Thanos, Mimir, VictoriaMetrics).

Per run, in ``raw/prometheus/``: ``api/metric_names.json`` (which built-ins apply),
``api/rules.json``, ``api/alerts.json``, ``queries/<name>/<chunk>.json`` for each named query,
``builtin/<metric>/<chunk>.json`` for the built-ins, ``samples/<metric>/<chunk>.json`` for raw
samples (``ALERTS``, ``ALERTS_FOR_STATE``, the gap scan). Tidy samples of every range query go
to ``metrics/<name>.parquet``.

A bad query is recorded with Prometheus's own error text and the query's name, and the source
is ``partial``; an unreachable server fails the source (the bundle is still written).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from incident_timeline.collector.bundle import SourceWriter
from incident_timeline.collector.config import build
from incident_timeline.collector.errors import ConfigError
from incident_timeline.collector.http import Endpoint, HttpCollector, make_client
from incident_timeline.collector.prometheus.alerts import alert_rows, alerting_rules, rule_problems
from incident_timeline.collector.prometheus.api import PromAPIError, PrometheusAPI
from incident_timeline.collector.prometheus.chunks import choose_step
from incident_timeline.collector.prometheus.fetch import (
    Fetched,
    fetch_raw,
    range_calls,
    samples_of,
    to_events,
)
from incident_timeline.collector.prometheus.queryrange import alert_event_rows
from incident_timeline.collector.prometheus.streaming import stream_range, write_samples
from incident_timeline.collector.secrets import is_secret_header
from incident_timeline.timeline.clock import Clock
from incident_timeline.timeline.metrics import DEFAULT_STEP_SECONDS, parse_threshold
from incident_timeline.timeline.window import Window, parse_duration

if TYPE_CHECKING:
    import pandas as pd

    from incident_timeline.collector.prometheus.evidence import Evidence

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
RAW_SCRAPE_GUESS = DEFAULT_STEP_SECONDS  # raw requests span max_points_per_request scrapes


@dataclasses.dataclass(frozen=True, kw_only=True)
class Query:
    """One ``[[prometheus.queries]]`` table, e.g. ``name = "error_ratio"``,
    ``expr = 'sum(rate(...))'``, ``threshold = "> 0.05"``, ``label = "5xx ratio"``."""

    name: str
    expr: str
    threshold: str | None = None
    label: str | None = None
    step: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class PrometheusSettings(Endpoint):
    """The ``[prometheus]`` table: an `Endpoint` plus query settings."""

    step: str | None = None
    max_points_per_request: int = 11_000
    concurrent_requests: int = 2  # chunk requests in flight at once (see fetch.py)
    builtin_queries: bool = True
    gzip: bool = False  # ask for compressed answers (slower on a local network: see api.py)
    gap_selector: str = "up"
    queries: tuple[Query, ...] = ()


def endpoint_from_table(
    cls: type[Any], table: Any, where: str, path: Path, nested: tuple[str, ...] = ()
) -> Any:
    """Build an Endpoint subclass strictly; ``headers`` (a table of strings) and the
    ``nested`` keys are checked here, as `collector.config.build` takes flat values only."""
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [{where}] must be a table: write [{where}], not [[{where}]]")
    flat = {k: v for k, v in table.items() if k != "headers" and k not in nested}
    settings = build(cls, flat, where, path)
    headers = table.get("headers", {})
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise ConfigError(
            f"{path}: {where}.headers must be a table of strings, "
            'e.g. headers = {"X-Scope-OrgID" = "tenant-1"}'
        )
    for name in headers:
        if is_secret_header(name):
            raise ConfigError(
                f"{path}: {where}.headers.{name} looks like a credential; secrets "
                "are never values in the file: use token_env or token_file"
            )
    if not re.match(r"^https?://", settings.url):
        raise ConfigError(
            f"{path}: {where}.url must start with http:// or https://, not {settings.url!r}"
        )
    check_limits(settings, where, path)
    return dataclasses.replace(settings, headers=dict(headers))


def check_limits(settings: Endpoint, where: str, path: Path) -> None:
    """ConfigErrors naming the key for a timeout, budget, size cap or retry count that cannot
    work, and for a ``ca_file`` that does not exist."""
    for key in ("timeout", "budget", "max_response_mb"):
        value = getattr(settings, key)
        if not value > 0:
            raise ConfigError(f"{path}: {where}.{key} must be a positive number, not {value!r}")
    if settings.retries < 0:
        raise ConfigError(f"{path}: {where}.retries must be 0 or more, not {settings.retries}")
    if settings.ca_file is not None:
        ca = Path(settings.ca_file).expanduser()
        ca = ca if ca.is_absolute() else path.parent / ca
        if not ca.is_file():
            raise ConfigError(f"{path}: {where}.ca_file: no such file {ca}")


def _whole_seconds(text: str, where: str, path: Path) -> int:
    try:
        seconds = parse_duration(text).total_seconds()
    except ValueError as exc:
        raise ConfigError(f"{path}: {where}: {exc}") from None
    if seconds < 1 or seconds != int(seconds):
        raise ConfigError(f"{path}: {where} must be a whole number of seconds, at least 1s")
    return int(seconds)


def _queries(table: Any, path: Path, builtins: bool) -> tuple[Query, ...]:
    if not isinstance(table, list):
        raise ConfigError(
            f"{path}: prometheus.queries must be an array of tables: write [[prometheus.queries]]"
        )
    queries = tuple(build(Query, t, f"prometheus.queries[{i}]", path) for i, t in enumerate(table))
    seen: set[str] = set()
    reserved: frozenset[str] = frozenset()
    if builtins:  # the built-ins' module brings pandas and the trust checks: only for them
        from incident_timeline.collector.prometheus.evidence import BUILTIN_NAMES

        reserved = BUILTIN_NAMES
    for i, q in enumerate(queries):
        where = f"prometheus.queries[{i}]"
        if not _NAME.match(q.name) or q.name in seen:
            raise ConfigError(
                f"{path}: {where}.name {q.name!r} must be unique and use only "
                "letters, digits, _ . - (it names files in the bundle)"
            )
        if q.name in reserved:
            raise ConfigError(
                f"{path}: {where}.name {q.name!r} is a built-in query's name; "
                "choose another or set prometheus.builtin_queries = false"
            )
        seen.add(q.name)
        if q.threshold is not None:
            try:
                parse_threshold(q.threshold)
            except ValueError as exc:
                raise ConfigError(f"{path}: {where}.threshold: {exc}") from None
        if q.step is not None:
            _whole_seconds(q.step, f"{where}.step", path)
    return queries


class PrometheusCollector(HttpCollector):
    """Collects one Prometheus-compatible server for the window."""

    name = "prometheus"
    settings: PrometheusSettings

    @classmethod
    def from_config(cls, table: Any, path: Path) -> PrometheusCollector:
        """Build from the ``[prometheus]`` table (and its ``[[prometheus.queries]]``)."""
        settings = endpoint_from_table(
            PrometheusSettings, table, "prometheus", path, nested=("queries",)
        )
        if re.search(r"/api/v1/?$", settings.url):
            base = re.sub(r"/api/v1/?$", "", settings.url)
            raise ConfigError(
                f"{path}: prometheus.url {settings.url!r} ends in /api/v1: use the base URL, "
                f"e.g. {base!r}"
            )
        queries = _queries(table.get("queries", []), path, settings.builtin_queries)
        if settings.step is not None:
            _whole_seconds(settings.step, "prometheus.step", path)
        if settings.max_points_per_request < 2:
            raise ConfigError(f"{path}: prometheus.max_points_per_request must be at least 2")
        if settings.concurrent_requests < 1:
            raise ConfigError(f"{path}: prometheus.concurrent_requests must be at least 1")
        return cls(dataclasses.replace(settings, queries=queries), path.parent)

    def collect(self, window: Window, out: SourceWriter, *, clock: Clock) -> dict[str, int]:
        """Query the window into ``out``; returns counts for the manifest."""
        end = min(window.until, clock())
        counts = {"queries": 0, "series": 0, "samples": 0, "alert_events": 0, "gaps": 0}
        if end <= window.since:
            out.warn("the window has not started yet; nothing to query")
            return counts
        env = os.environ if self.env is None else self.env
        with make_client(
            self.settings, base_dir=self.base_dir, env=env, transport=self.transport
        ) as client:
            api = PrometheusAPI(client, policy=self.policy, gzip=self.settings.gzip)
            run = _Run(api, out, window.since, end, self.settings, counts)
            run.all()
            counts["requests"] = api.requests
        return counts


class _Run:
    """One collection: the API, the writer, the effective window ``[since, end)``, counts."""

    def __init__(
        self,
        api: PrometheusAPI,
        out: SourceWriter,
        since: datetime,
        end: datetime,
        settings: PrometheusSettings,
        counts: dict[str, int],
    ) -> None:
        self.api, self.out, self.since, self.end = api, out, since, end
        self.settings, self.counts = settings, counts
        self.step = _seconds(settings.step) if settings.step else choose_step(end - since)

    def all(self) -> None:
        names = self.metric_names()
        rules, active = self.state()
        for query in self.settings.queries:
            step = _seconds(query.step) if query.step else self.step
            self.range(
                query.name,
                query.expr,
                f"queries/{query.name}",
                step,
                query.threshold,
                query.label or query.name,
            )
        if not self.settings.builtin_queries:
            return
        from incident_timeline.collector.prometheus.evidence import BUILTINS, NODE_TIME

        for evidence in BUILTINS:
            if names is None or evidence.name in names:
                self.builtin(evidence)
        if names is None or "ALERTS" in names:
            self.alerts(names, rules, active)
        if names is None or NODE_TIME in names:
            self.node_clocks()
        selector = self.settings.gap_selector
        if selector and (names is None or selector.split("{")[0] in names):
            self.gap_scan(selector)

    def metric_names(self) -> set[str] | None:
        """Metric names with data in the window; None if the server cannot say."""
        reply = self.api.get(
            "/api/v1/label/__name__/values", {"start": _ts(self.since), "end": _ts(self.end)}
        )
        self.out.write_raw("api/metric_names.json", reply.body)
        try:
            return {str(n) for n in reply.check().get("data") or []}
        except PromAPIError as exc:
            self.out.warn(f"metric names: {exc}; running every built-in query")
            return None

    def state(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Alerting rules (with their expressions) and the alerts active now."""
        found: list[list[dict[str, Any]]] = []
        for name, path in (("rules", "/api/v1/rules"), ("alerts", "/api/v1/alerts")):
            reply = self.api.get(path)
            self.out.write_raw(f"api/{name}.json", reply.body)
            try:
                envelope = reply.check()
            except PromAPIError as exc:
                self.out.warn(f"{path}: {exc}")
                found.append([])
                continue
            if name == "rules":
                for problem in rule_problems(envelope):
                    self.out.warn(problem)
                found.append(alerting_rules(envelope))
            else:
                found.append(list((envelope.get("data") or {}).get("alerts") or []))
        self.counts["rules"], self.counts["active_alerts"] = len(found[0]), len(found[1])
        return found[0], found[1]

    def range(
        self,
        name: str,
        expr: str,
        folder: str,
        step: int,
        threshold: str | None,
        label: str,
        evidence: Evidence | None = None,
    ) -> None:
        """A range query, chunk by chunk (`streaming`): raw chunks, samples to
        metrics/<name>, crossings, ALERTS transitions and the finder's findings to events."""
        finder = evidence.finder if evidence is not None else None
        calls = range_calls(
            self.api, expr, self.since, self.end, step, self.settings.max_points_per_request
        )
        done = stream_range(
            self.out,
            name,
            folder,
            calls,
            (self.since, self.end),
            threshold=threshold,
            label=label,
            on_events=self.out.add_events,
            keep_all=finder is not None,
            concurrent=self.settings.concurrent_requests,
        )
        self.counts["queries"] += 1
        if done.error is not None:
            self.out.warn(f"query {name}: {done.error}", partial=True)
        for text in done.warnings:
            self.out.warn(f"query {name}: Prometheus warning: {text}")
        rows = []
        if done.kept is not None:
            alerts = done.kept[done.kept["series"].str.startswith("ALERTS{")]
            if len(alerts):
                rows += alert_event_rows(alerts)
            if finder is not None:
                rows += finder(done.kept)
        self.out.add_events(to_events(rows, None, name))
        self.counts["series"] += done.series
        self.counts["samples"] += done.samples

    def builtin(self, evidence: Evidence) -> None:
        """One built-in evidence query, at the run's step."""
        self.range(
            evidence.name,
            evidence.expr,
            f"builtin/{evidence.name}",
            self.step,
            evidence.threshold,
            evidence.label or evidence.name,
            evidence,
        )

    def raw(self, selector: str, folder: str) -> Any:
        """Raw samples of ``selector`` over the window, chunked."""
        span = timedelta(seconds=self.settings.max_points_per_request * RAW_SCRAPE_GUESS)
        fetched = fetch_raw(
            self.api,
            self.out,
            selector=selector,
            folder=folder,
            since=self.since,
            until=self.end,
            span=span,
            concurrent=self.settings.concurrent_requests,
        )
        if fetched.error is not None:
            self.out.warn(f"raw samples of {selector}: {fetched.error}", partial=True)
        return fetched

    def alerts(
        self, names: set[str] | None, rules: list[dict[str, Any]], active: list[dict[str, Any]]
    ) -> None:
        """Alert transitions from raw ALERTS samples, with activeAt from ALERTS_FOR_STATE."""
        fetched = self.raw("ALERTS", "samples/ALERTS")
        if fetched.empty:
            return
        for_state = None
        if names is None or "ALERTS_FOR_STATE" in names:
            for_state = self.raw("ALERTS_FOR_STATE", "samples/ALERTS_FOR_STATE")
        rows = alert_rows(
            fetched.stitched.document,
            for_state.stitched.document if for_state else None,
            self.end,
            rules,
            active,
        )
        self.out.add_events(to_events(rows, fetched.stitched, "ALERTS"))
        self.counts["alert_events"] += len(rows)

    def node_clocks(self) -> None:
        """Raw ``node_time_seconds`` and the same targets' ``scrape_duration_seconds``: the
        direct measure of each node's clock against Prometheus' (timeline.trust.nodeclock)."""
        from incident_timeline.collector.prometheus.evidence import (
            NODE_TIME,
            SCRAPE_DURATION,
            clock_direct,
        )

        fetched = self.raw(NODE_TIME, f"samples/{NODE_TIME}")
        if fetched.empty:
            return
        samples = _samples(fetched)
        write_samples(self.out, NODE_TIME, [fetched.stitched])
        rows = clock_direct(samples)
        self.out.add_events(to_events(rows, None, NODE_TIME))
        found = []
        jobs = sorted({json.loads(x).get("job", "") for x in samples["labels"].unique()})
        for index, job in enumerate(jobs):  # the same targets' scrape latency bounds
            quoted = job.replace("\\", "\\\\").replace('"', '\\"')
            selector = f'{SCRAPE_DURATION}{{job="{quoted}"}}'
            durations = self.raw(selector, f"samples/{SCRAPE_DURATION}/{index:02d}")
            if not durations.empty:
                found.append(durations.stitched)
        if found:
            write_samples(self.out, SCRAPE_DURATION, found)

    def gap_scan(self, selector: str) -> None:
        """Holes in the raw samples of ``selector`` (``up`` by default), exact bounds."""
        from incident_timeline.collector.prometheus.evidence import gaps

        folder = "samples/" + re.sub(r"[^A-Za-z0-9_.-]+", "_", selector).strip("_")
        fetched = self.raw(selector, folder)
        if fetched.empty:
            return
        rows = gaps(_samples(fetched))
        self.out.add_events(to_events(rows, None, selector.split("{")[0]))
        self.counts["gaps"] += len(rows)


def _samples(fetched: Fetched) -> pd.DataFrame:
    return samples_of(fetched.stitched.metrics, fetched.stitched.pieces)


def _seconds(text: str) -> int:
    return int(parse_duration(text).total_seconds())


def _ts(value: datetime) -> str:
    return f"{value.timestamp():.3f}"
