"""The prometheus collector against a fake Prometheus HTTP API (httpx.MockTransport; the real
server is in tests/integration): chunk planning and stitching, the 11,000-point limit, threshold
crossings, ALERTS history, gaps, errors verbatim, retries, config strictness."""

from __future__ import annotations

import itertools
import json
import random
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from incident_timeline.collector.bundle import read_events, read_manifest
from incident_timeline.collector.config import load_config
from incident_timeline.collector.errors import ConfigError
from incident_timeline.collector.formats import Context
from incident_timeline.collector.http import RetryPolicy
from incident_timeline.collector.prometheus.chunks import (
    Chunk,
    choose_step,
    range_chunks,
    raw_chunks,
    stitch,
)
from incident_timeline.collector.prometheus.collector import PrometheusCollector
from incident_timeline.collector.prometheus.formats import parse_prometheus
from incident_timeline.collector.prometheus.queryrange import fingerprint
from incident_timeline.timeline.window import Window
from tests.support import ROOT, run_collector, warning_messages

T0 = datetime(2026, 2, 17, 14, tzinfo=UTC)
WINDOW = Window(T0, T0 + timedelta(hours=1))
NOW = T0 + timedelta(days=40)
Series = tuple[dict[str, str], Callable[[float], float | None]]
LIMIT_ERROR = (
    "exceeded maximum resolution of 11,000 points per timeseries. "
    "Try decreasing the query resolution (?step=XX)"
)


def at(clock: str) -> float:
    """Unix seconds of ``HH:MM[:SS]`` on the test day."""
    parts = [int(p) for p in clock.split(":")] + [0]
    return (T0.replace(hour=parts[0], minute=parts[1], second=parts[2])).timestamp()


class FakePrometheus:
    """Series as functions of time on a 15 s scrape grid; answers like Prometheus 2.42."""

    def __init__(self, series: dict[str, list[Series]], *, scrape: int = 15) -> None:
        self.series = series
        self.scrape = scrape
        self.phase = 0.0  # raw samples' offset within the scrape interval (a target's phase)
        self.requests: list[httpx.Request] = []
        self.rules: dict[str, Any] = {"groups": []}
        self.alerts: list[dict[str, Any]] = []
        self.warnings: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        q, path = request.url.params, request.url.path
        if path == "/api/v1/query_range":
            return self._range(q["query"], int(q["start"]), int(q["end"]), int(q["step"]))
        if path == "/api/v1/query":
            found = re.fullmatch(r"(\w+)(?:\{(\w+)=\"([^\"]*)\"\})?\[(\d+)ms\]", q["query"])
            name, key, value, millis = found.groups()  # type: ignore[union-attr]
            return self._raw(name, float(q["time"]), int(millis) / 1000, key, value)
        if path == "/api/v1/label/__name__/values":
            return self._ok(sorted(self.series))
        if path == "/api/v1/rules":
            return self._ok(self.rules)
        if path == "/api/v1/alerts":
            return self._ok({"alerts": self.alerts})
        return httpx.Response(404, text="404 page not found")

    def _ok(self, data: Any, **extra: Any) -> httpx.Response:
        return httpx.Response(200, json={"status": "success", "data": data, **extra})

    def _range(self, query: str, start: int, end: int, step: int) -> httpx.Response:
        if query not in self.series:
            return httpx.Response(
                400,
                json={
                    "status": "error",
                    "errorType": "bad_data",
                    "error": "1:16: parse error: unclosed left parenthesis",
                },
            )
        if (end - start) / step > 11000:
            return httpx.Response(
                400, json={"status": "error", "errorType": "bad_data", "error": LIMIT_ERROR}
            )
        grid = range(start, end + 1, step)
        return self._matrix(query, grid, **({"warnings": self.warnings} if self.warnings else {}))

    def _raw(
        self, name: str, time: float, span: float, key: str | None = None, value: str = ""
    ) -> httpx.Response:
        first = -(-(time - span) // self.scrape) * self.scrape
        grid = [
            t + self.phase
            for t in range(int(first), int(time) + 1, self.scrape)
            if time - span <= t + self.phase <= time
        ]
        return self._matrix(name, grid, match=(key, value) if key else None)

    def _matrix(
        self, name: str, grid: Any, match: tuple[str, str] | None = None, **extra: Any
    ) -> httpx.Response:
        result: list[dict[str, Any]] = []
        for labels, fn in self.series.get(name, []):
            if match is not None and labels.get(match[0]) != match[1]:
                continue
            values = [[t, f"{v:.15g}"] for t in grid if (v := fn(t)) is not None]
            if values:
                result.append({"metric": {"__name__": name, **labels}, "values": values})
        return self._ok({"resultType": "matrix", "result": result}, **extra)


def collector(
    tmp_path: Path, fake: FakePrometheus, toml: str, env: dict[str, str] | None = None
) -> PrometheusCollector:
    path = tmp_path / "config.toml"
    path.write_text('[prometheus]\nurl = "http://prom.test:9090"\n' + toml)
    built = load_config(path).sources["prometheus"]
    return PrometheusCollector(
        built.settings,
        tmp_path,
        transport=httpx.MockTransport(fake),
        env=env or {},
        policy=RetryPolicy(retries=2, sleep=lambda s: None),
    )


def run(
    tmp_path: Path, prom: PrometheusCollector, window: Window = WINDOW, now: datetime = NOW
) -> tuple[Path, Any]:
    return run_collector(tmp_path, "prometheus", prom, window.since, window.until, now)


def events_of(out: Path) -> pd.DataFrame:
    [events] = read_events(out)
    return events


def pointer(out: Path, ref: str) -> Any:
    """Follow a ref (``raw/...json#/a/0/b``) into the raw file."""
    rel, _, ptr = ref.partition("#")
    node = json.loads((out / rel).read_text())
    for part in ptr.strip("/").split("/"):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


RATIO: Series = (
    {"service": "checkout-api"},
    lambda t: 0.073 if at("14:10") <= t < at("14:20") else 0.01,
)
QUERY = (
    '[[prometheus.queries]]\nname = "error_ratio"\nexpr = "ratio"\nthreshold = "> 0.05"\n'
    'label = "5xx ratio"\n'
)


# ---------------------------------------------------------------- planning and stitching


def test_choose_step_aims_at_1000_points_and_never_below_15s() -> None:
    assert choose_step(timedelta(minutes=90)) == 15
    assert choose_step(timedelta(hours=6)) == 30
    assert choose_step(timedelta(days=1)) == 120
    assert choose_step(timedelta(days=30)) == 3600


def test_thirty_days_at_15s_fit_11000_points_per_request_without_holes() -> None:
    since = T0 + timedelta(seconds=7.4)  # not on the grid: the first point is 14:00:15
    chunks = range_chunks(since, since + timedelta(days=30), 15, 11000)
    assert len(chunks) == 16
    points = [int((e - s).total_seconds()) // 15 + 1 for s, e in chunks]
    assert max(points) == 11000 and sum(points) == 30 * 86400 // 15
    assert chunks[0][0] == T0 + timedelta(seconds=15)
    assert chunks[-1][1] == T0 + timedelta(days=30)  # the last grid point before until
    for (_, end), (start, _) in itertools.pairwise(chunks):
        assert start - end == timedelta(seconds=15)
    assert all(s.microsecond == 0 and s.timestamp() % 15 == 0 for s, _ in chunks)


def test_raw_chunks_overlap_by_one_millisecond() -> None:
    assert raw_chunks(T0, T0 + timedelta(hours=5), timedelta(hours=2)) == [
        (T0 + timedelta(hours=2), "7200001ms"),
        (T0 + timedelta(hours=4), "7200001ms"),
        (T0 + timedelta(hours=5), "3600001ms"),
    ]


def test_stitch_drops_edge_duplicates_and_refs_point_into_the_right_chunk() -> None:
    t = T0.timestamp()
    one = {
        "status": "success",
        "warnings": ["w"],
        "data": {
            "resultType": "matrix",
            "result": [{"metric": {"a": "1"}, "values": [[t, "1"], [t + 15, "2"], [t + 30, "3"]]}],
        },
    }
    two = {
        "status": "success",
        "warnings": ["w"],
        "data": {
            "resultType": "matrix",
            "result": [
                {"metric": {"a": "0"}, "values": [[t + 45, "9"]]},
                {"metric": {"a": "1"}, "values": [[t + 30, "3"], [t + 45, "4"], [t + 3600, "x"]]},
            ],
        },
    }
    merged = stitch(
        [Chunk("raw/p/000.json", one), Chunk("raw/p/001.json", two)], T0, T0 + timedelta(hours=1)
    )
    result = merged.document["data"]["result"]
    assert [r["metric"] for r in result] == [{"a": "0"}, {"a": "1"}]
    assert [v[1] for v in result[1]["values"]] == ["1", "2", "3", "4"]
    assert merged.document["warnings"] == ["w"]
    assert merged.ref("/data/result/1/values/2") == "raw/p/000.json#/data/result/0/values/2"
    assert merged.ref("/data/result/1/values/3") == "raw/p/001.json#/data/result/1/values/1"
    assert merged.ref("/data/result/0") == "raw/p/001.json#/data/result/0"


def test_thirty_day_window_is_stitched_exactly(tmp_path: Path) -> None:
    fake = FakePrometheus({"ratio": [RATIO]})
    prom = collector(tmp_path, fake, 'step = "15s"\nbuiltin_queries = false\n' + QUERY)
    window = Window(T0 - timedelta(days=29, hours=14), T0 + timedelta(hours=10))
    out, outcome = run(tmp_path, prom, window)
    assert outcome.status == "ok"
    ranges = [r for r in fake.requests if r.url.path == "/api/v1/query_range"]
    assert len(ranges) == 16
    samples = pd.read_parquet(out / "metrics/error_ratio.parquet")
    assert len(samples) == 30 * 86400 // 15 and samples["time"].is_unique
    assert samples["time"].diff().dropna().eq(pd.Timedelta(seconds=15)).all()
    events = events_of(out)
    assert list(events["time"]) == [
        pd.Timestamp("2026-02-17T14:10Z"),
        pd.Timestamp("2026-02-17T14:20Z"),
    ]
    for ref in [*events["ref"], samples["ref"].iloc[-1]]:
        assert ref.startswith("raw/prometheus/queries/error_ratio/")
    assert pointer(out, events["ref"].iloc[0]) == [at("14:10"), "0.073"]


class InFlight(FakePrometheus):
    """Counts the range requests in flight at once (each waits a moment before answering);
    the range request numbered ``fail`` gets Prometheus's 11,000-point error."""

    def __init__(self, series: dict[str, list[Series]], fail: int | None = None) -> None:
        super().__init__(series)
        self.lock = threading.Lock()
        self.now = self.most = self.ranges = 0
        self.fail = fail

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path != "/api/v1/query_range":
            return super().__call__(request)
        with self.lock:
            self.now, self.ranges = self.now + 1, self.ranges + 1
            self.most, number = max(self.most, self.now), self.ranges
        time.sleep(0.02)
        with self.lock:
            self.now -= 1
        if number == self.fail:
            error = {"status": "error", "errorType": "bad_data", "error": LIMIT_ERROR}
            return httpx.Response(400, json=error)
        return super().__call__(request)


def thirty_days(tmp_path: Path, concurrent: int, fail: int | None = None) -> Any:
    """A 30-day collect (16 range requests) with ``concurrent`` requests in flight."""
    fake = InFlight({"ratio": [RATIO]}, fail)
    toml = f'step = "15s"\nbuiltin_queries = false\nconcurrent_requests = {concurrent}\n'
    out = tmp_path / f"c{concurrent}"
    out.mkdir()
    window = Window(T0 - timedelta(days=29, hours=14), T0 + timedelta(hours=10))
    bundle, outcome = run(out, collector(out, fake, toml + QUERY), window)
    metrics = pd.read_parquet(bundle / "metrics/error_ratio.parquet")
    return fake, outcome, metrics, events_of(bundle), read_manifest(bundle)["files"]


def test_requests_in_flight_at_once_are_bounded_and_change_nothing(tmp_path: Path) -> None:
    one, outcome, metrics, events, files = thirty_days(tmp_path, 1)
    three, outcome3, metrics3, events3, files3 = thirty_days(tmp_path, 3)
    assert outcome.status == outcome3.status == "ok"
    assert one.most == 1 and 2 <= three.most <= 3
    assert len(metrics) == 30 * 86400 // 15
    pd.testing.assert_frame_equal(metrics, metrics3)
    pd.testing.assert_frame_equal(events, events3)
    raw = {k: v for k, v in files.items() if k.startswith("raw/")}
    assert len(raw) == 3 + 16 and raw == {k: v for k, v in files3.items() if k.startswith("raw/")}


def test_an_error_stops_the_query_at_its_chunk_whatever_is_in_flight(tmp_path: Path) -> None:
    _, outcome, metrics, events, files = thirty_days(tmp_path, 1, fail=3)
    _, outcome3, metrics3, events3, files3 = thirty_days(tmp_path, 3, fail=3)
    assert outcome.status == outcome3.status == "partial"
    assert outcome.error == outcome3.error == f"query error_ratio: bad_data: {LIMIT_ERROR}"
    assert len(metrics) == 2 * 11_000  # the two chunks before the error
    pd.testing.assert_frame_equal(metrics, metrics3)
    pd.testing.assert_frame_equal(events, events3)
    chunks = "raw/prometheus/queries/error_ratio/"
    stored = sorted(k for k in files if k.startswith(chunks))  # 003 was in flight: kept
    assert stored == [f"{chunks}{i:03d}.json" for i in range(4)]
    stored3 = sorted(k for k in files3 if k.startswith(chunks))
    assert stored3[:4] == stored and len(stored3) <= 6  # at most 3 in flight after 002


# ---------------------------------------------------------------- events


def test_crossings_are_the_file_collectors_events_for_the_same_data(tmp_path: Path) -> None:
    fake = FakePrometheus({"ratio": [RATIO]})
    out, outcome = run(tmp_path, collector(tmp_path, fake, "builtin_queries = false\n" + QUERY))
    assert outcome.status == "ok" and outcome.counts["samples"] == 240
    events = events_of(out)
    assert list(events["summary"]) == [
        "5xx ratio > 0.05 (0.073) for service=checkout-api",
        "5xx ratio back to 0.01, no longer > 0.05 for service=checkout-api",
    ]
    assert list(events["kind"]) == ["metric_threshold"] * 2
    assert list(events["stream"]) == ["error_ratio"] * 2
    assert list(events["ref"]) == [
        "raw/prometheus/queries/error_ratio/000.json#/data/result/0/values/40",
        "raw/prometheus/queries/error_ratio/000.json#/data/result/0/values/80",
    ]
    raw = json.loads((out / "raw/prometheus/queries/error_ratio/000.json").read_text())
    saved = parse_prometheus(
        raw, Context(ref="x", stream="error_ratio", threshold="> 0.05", label="5xx ratio")
    ).events
    columns = ["time", "kind", "severity", "summary", "labels", "time_quality"]
    pd.testing.assert_frame_equal(events[columns], saved[columns])
    request = next(r for r in fake.requests if r.url.path == "/api/v1/query_range")
    assert dict(request.url.params) == {
        "query": "ratio",
        "start": str(int(at("14:00"))),
        "end": str(int(at("14:59:45"))),
        "step": "15",
    }


ALERT = {"alertname": "HighErrorRate", "service": "checkout-api", "severity": "page"}


def alert_fake() -> FakePrometheus:
    def state(first: str, last: str) -> Callable[[float], float | None]:
        return lambda t: 1.0 if at(first) <= t < at(last) else None

    fake = FakePrometheus(
        {
            "ALERTS": [
                ({**ALERT, "alertstate": "pending"}, state("14:11", "14:12")),
                ({**ALERT, "alertstate": "firing"}, state("14:12", "14:20")),
                ({"alertname": "StillFiring", "alertstate": "firing"}, state("14:30", "16:00")),
            ],
            "ALERTS_FOR_STATE": [
                (ALERT, lambda t: at("14:11") if at("14:11") <= t < at("14:20") else None)
            ],
        }
    )
    fake.rules = {
        "groups": [
            {
                "name": "checkout",
                "rules": [
                    {
                        "type": "alerting",
                        "name": "HighErrorRate",
                        "query": "ratio > 0.05",
                        "duration": 60,
                        "labels": {"severity": "page"},
                        "health": "ok",
                    },
                    {
                        "type": "recording",
                        "name": "job:x",
                        "query": "x",
                        "health": "err",
                        "lastError": "many-to-many matching not allowed",
                    },
                ],
            }
        ]
    }
    fake.alerts = [
        {
            "labels": {"alertname": "StillFiring"},
            "state": "firing",
            "activeAt": "2026-02-17T14:29:30.123456789Z",
            "value": "1e+00",
        }
    ]
    return fake


def test_alert_history_from_raw_alerts_samples(tmp_path: Path) -> None:
    fake = alert_fake()
    out, outcome = run(tmp_path, collector(tmp_path, fake, ""), now=T0 + timedelta(hours=2))
    events = events_of(out)
    alerts = events[events["stream"] == "ALERTS"].reset_index(drop=True)
    assert [(str(t.time()), k) for t, k in zip(alerts["time"], alerts["kind"], strict=False)] == [
        ("14:11:00", "alert_pending"),
        ("14:12:00", "alert_firing"),
        ("14:20:00", "alert_resolved"),
        ("14:30:00", "alert_firing"),
    ]
    assert alerts["summary"][1] == "HighErrorRate firing (service=checkout-api, severity=page)"
    assert list(alerts["embedded_time"][:3]) == [pd.Timestamp("2026-02-17T14:11Z")] * 3
    assert alerts["embedded_time"][3] == pd.Timestamp("2026-02-17T14:29:30.123456789Z")
    labels = json.loads(alerts["labels"][1])
    assert labels == {**ALERT, "fingerprint": fingerprint(ALERT), "rule_group": "checkout"}
    assert alerts["message"][1].endswith(
        "\nrule HighErrorRate (group checkout, for 60s): ratio > 0.05"
    )
    assert pointer(out, alerts["ref"][0]) == [at("14:11"), "1"]
    assert pointer(out, alerts["ref"][2]) == [at("14:19:45"), "1"]  # the last firing sample
    assert warning_messages(read_manifest(out), "prometheus") == [
        "rule checkout/job:x is err: many-to-many matching not allowed"
    ]
    assert outcome.status == "ok" and outcome.counts["rules"] == 1


def test_alert_firing_at_the_end_of_the_data_is_not_resolved(tmp_path: Path) -> None:
    fake = alert_fake()
    out, _ = run(tmp_path, collector(tmp_path, fake, ""), now=T0 + timedelta(minutes=40))
    alerts = events_of(out).query("stream == 'ALERTS'")
    assert list(alerts["kind"]) == [
        "alert_pending",
        "alert_firing",
        "alert_resolved",
        "alert_firing",
    ]


def test_fingerprint_is_fnv1a_over_sorted_labels() -> None:
    assert fingerprint({}) == "cbf29ce484222325"  # FNV-1a 64 offset basis
    # what Alertmanager 0.25 returned for these labels (tests/integration checks it live)
    assert fingerprint(ALERT) == "c5962100eddb5f40"
    assert fingerprint(dict(reversed(ALERT.items()))) == "c5962100eddb5f40"


def test_builtin_evidence_clock_restarts_phases_up_and_gaps(tmp_path: Path) -> None:
    node = {"instance": "node-b:9100", "job": "node"}
    pod = {"namespace": "checkout", "pod": "p1"}

    def phase(name: str, first: str, last: str) -> Series:
        return ({**pod, "phase": name}, lambda t: 1.0 if at(first) <= t < at(last) else None)

    fake = FakePrometheus(
        {
            "node_timex_offset_seconds": [(node, lambda t: -2.4 if t < at("14:30") else 0.0003)],
            "node_timex_sync_status": [(node, lambda t: 0.0)],
            "node_timex_maxerror_seconds": [(node, lambda t: 16.0)],
            "up": [
                (
                    {"instance": "a:8080", "job": "app"},
                    lambda t: None if at("14:40") < t < at("14:46") else 1.0,
                ),
                (
                    {"instance": "b:8080", "job": "app"},
                    lambda t: 0.0 if at("14:05") <= t < at("14:07") else 1.0,
                ),
            ],
            "kube_pod_container_status_restarts_total": [
                ({**pod, "container": "app"}, lambda t: 3.0 if t < at("14:15") else 4.0)
            ],
            "kube_pod_status_phase == 1": [
                phase("Pending", "14:00", "14:01"),
                phase("Running", "14:01", "14:50"),
                phase("Failed", "14:50", "15:00"),
            ],
        }
    )
    fake.series["kube_pod_status_phase"] = []
    out, outcome = run(tmp_path, collector(tmp_path, fake, ""))
    events = events_of(out).sort_values(["time", "summary"], kind="stable")
    assert [
        (str(t.time()), k, s)
        for t, k, s in zip(events["time"], events["kind"], events["summary"], strict=False)
    ] == [
        (
            "14:00:00",
            "clock",
            (
                "clock ahead by 2.4 s (node_timex_offset_seconds -2.4 s, beyond ±0.1 s) on "
                "instance=node-b:9100, job=node"
            ),
        ),
        (
            "14:00:00",
            "clock",
            "clock maximum error 16 s, above 1 s, on instance=node-b:9100, job=node",
        ),
        (
            "14:00:00",
            "clock",
            (
                "clock not NTP-synchronised (node_timex_sync_status 0) on "
                "instance=node-b:9100, job=node"
            ),
        ),
        ("14:01:00", "k8s_event", "pod checkout/p1 phase Pending → Running"),
        ("14:05:00", "metric_threshold", "up < 1 (0) for instance=b:8080, job=app"),
        (
            "14:07:00",
            "metric_threshold",
            "up back to 1, no longer < 1 for instance=b:8080, job=app",
        ),
        ("14:15:00", "k8s_event", "container app of checkout/p1 restarted (restarts 3 → 4)"),
        (
            "14:30:00",
            "clock",
            (
                "clock offset back within ±0.1 s (node_timex_offset_seconds +0.0003 s) on "
                "instance=node-b:9100, job=node"
            ),
        ),
        (
            "14:40:00",
            "gap",
            ('no samples of up{instance="a:8080",job="app"} from 14:40:00 to 14:46:00 (6 min)'),
        ),
        ("14:50:00", "k8s_event", "pod checkout/p1 phase Running → Failed"),
    ]
    gap = events[events["kind"] == "gap"].iloc[0]
    assert json.loads(gap["labels"])["gap_seconds"] == "360"
    assert pointer(out, gap["ref"]) == [at("14:40"), "1"]
    assert set(events.query("kind == 'k8s_event'")["stream"]) == {"checkout/p1", "checkout/p1/app"}
    assert outcome.counts["gaps"] == 1 and outcome.status == "ok"
    assert (out / "metrics/node_timex_offset_seconds.parquet").exists()


def test_builtins_run_only_when_their_series_exist(tmp_path: Path) -> None:
    fake = FakePrometheus({"ratio": [RATIO]})
    run(tmp_path, collector(tmp_path, fake, QUERY))
    assert sorted({r.url.path for r in fake.requests}) == [
        "/api/v1/alerts",
        "/api/v1/label/__name__/values",
        "/api/v1/query_range",
        "/api/v1/rules",
    ]


# ---------------------------------------------------------------- errors and HTTP policy


def test_bad_promql_is_reported_verbatim_with_the_query_name(tmp_path: Path) -> None:
    fake = FakePrometheus({"ratio": [RATIO]})
    toml = (
        'builtin_queries = false\n[[prometheus.queries]]\nname = "broken"\n'
        'expr = "sum(rate(x[5m])"\n' + QUERY
    )
    out, outcome = run(tmp_path, collector(tmp_path, fake, toml))
    assert outcome.status == "partial"
    assert outcome.error == "query broken: bad_data: 1:16: parse error: unclosed left parenthesis"
    assert len(events_of(out)) == 2  # the good query is still collected
    assert (
        json.loads((out / "raw/prometheus/queries/broken/000.json").read_text())["error"]
        == "1:16: parse error: unclosed left parenthesis"
    )


def test_too_many_points_is_prometheus_own_message(tmp_path: Path) -> None:
    fake = FakePrometheus({"ratio": [RATIO]})
    toml = 'step = "1s"\nmax_points_per_request = 20000\nbuiltin_queries = false\n' + QUERY
    window = Window(T0, T0 + timedelta(hours=4))
    _, outcome = run(tmp_path, collector(tmp_path, fake, toml), window)
    assert outcome.error == f"query error_ratio: bad_data: {LIMIT_ERROR}"


def test_warnings_are_recorded_not_fatal(tmp_path: Path) -> None:
    fake = FakePrometheus({"ratio": [RATIO]})
    fake.warnings = ["PromQL info: metric might not be a counter"]
    out, outcome = run(tmp_path, collector(tmp_path, fake, "builtin_queries = false\n" + QUERY))
    assert outcome.status == "ok"
    assert warning_messages(read_manifest(out), "prometheus") == [
        "query error_ratio: Prometheus warning: PromQL info: metric might not be a counter"
    ]


def test_unreachable_server_fails_the_source_and_the_bundle_is_written(tmp_path: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    prom = collector(tmp_path, FakePrometheus({}), QUERY)
    prom.transport = httpx.MockTransport(refuse)
    out, outcome = run(tmp_path, prom)
    assert outcome.status == "failed"
    assert outcome.error == (
        "prometheus: cannot reach http://prom.test:9090: ConnectError: connection refused"
    )
    manifest = read_manifest(out)
    assert manifest["sources"]["prometheus"]["status"] == "failed"
    assert "events/prometheus.parquet" in manifest["files"]


def test_range_queries_use_our_auth_headers_and_retry_after(tmp_path: Path) -> None:
    fake = FakePrometheus({"ratio": [RATIO]})
    busy = iter([httpx.Response(503, headers={"Retry-After": "4"})])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/query_range":
            answer = next(busy, None)
            if answer is not None:
                fake.requests.append(request)
                return answer
        return fake(request)

    toml = (
        'token_env = "PROM_TOKEN"\nheaders = {"X-Scope-OrgID" = "tenant-1"}\n'
        "builtin_queries = false\n" + QUERY
    )
    prom = collector(tmp_path, fake, toml, env={"PROM_TOKEN": "s3cret"})
    slept: list[float] = []
    prom.transport = httpx.MockTransport(handler)
    prom.policy = RetryPolicy(retries=2, sleep=slept.append, rng=random.Random(0))
    out, outcome = run(tmp_path, prom)
    assert outcome.status == "ok" and slept == [4.0]
    ranges = [r for r in fake.requests if r.url.path == "/api/v1/query_range"]
    assert len(ranges) == 2
    for request in ranges:
        assert request.headers["Authorization"] == "Bearer s3cret"
        assert request.headers["X-Scope-OrgID"] == "tenant-1"
    assert "s3cret" not in (out / "manifest.json").read_text()


# ---------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[prometheus]\nurl = "http://p"\nstepp = "15s"\n',
            "unknown key prometheus.stepp (did you mean 'step'?)",
        ),
        ('[[prometheus]]\nurl = "http://p"\n', "write [prometheus], not [[prometheus]]"),
        ('[prometheus]\nurl = "p:9090"\n', "prometheus.url must start with http:// or https://"),
        (
            '[prometheus]\nurl = "http://p"\nstep = "1.5s"\n',
            "prometheus.step must be a whole number of seconds",
        ),
        (
            '[prometheus]\nurl = "http://p"\nconcurrent_requests = 0\n',
            "prometheus.concurrent_requests must be at least 1",
        ),
        (
            '[prometheus]\nurl = "http://p"\nheaders = {"X-Auth-Token" = "k"}\n',
            "prometheus.headers.X-Auth-Token looks like a credential",
        ),
        (
            '[prometheus]\nurl = "http://p"\n[[prometheus.queries]]\nname = "a"\n',
            "missing required key prometheus.queries[0].expr",
        ),
        (
            (
                '[prometheus]\nurl = "http://p"\n[[prometheus.queries]]\nname = "a"\nexpr = "x"\n'
                'threshold = "above 5"\n'
            ),
            "prometheus.queries[0].threshold: 'above 5' is not a threshold",
        ),
        (
            '[prometheus]\nurl = "http://p"\n[[prometheus.queries]]\nname = "a/b"\nexpr = "x"\n',
            "prometheus.queries[0].name 'a/b' must be unique",
        ),
        (
            '[prometheus]\nurl = "http://p"\n[[prometheus.queries]]\nname = "up"\nexpr = "x"\n',
            "prometheus.queries[0].name 'up' is a built-in query's name",
        ),
    ],
)
def test_config_errors_name_the_key(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert message in str(err.value) and str(path) in str(err.value)


def test_example_config_documents_every_prometheus_and_alertmanager_key(tmp_path: Path) -> None:
    import dataclasses

    from incident_timeline.collector.alertmanager.collector import (
        AlertmanagerCollector,
        AlertmanagerSettings,
    )
    from incident_timeline.collector.prometheus.collector import PrometheusSettings, Query

    path = ROOT / "config.example.toml"
    assert load_config(path).sources.keys() == {"file"}  # commented out
    text = path.read_text()
    tail = text[text.index("# [prometheus]") :]
    for cls in (PrometheusSettings, Query, AlertmanagerSettings):
        for field in dataclasses.fields(cls):
            if field.name != "queries":
                assert re.search(rf"^# {field.name} = .+# \S", tail, re.MULTILINE), field.name
    live = tmp_path / "live.toml"
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "internal-ca.pem").write_text("")  # ca_file must exist
    live.write_text(
        "\n".join(line[2:] for line in tail.splitlines() if re.match(r"# (\[|\w+ = )", line))
    )
    sources = load_config(live).sources
    prom, am = sources["prometheus"], sources["alertmanager"]
    assert isinstance(prom, PrometheusCollector) and isinstance(am, AlertmanagerCollector)
    assert prom.settings.queries[0].threshold == "> 0.05"
    assert prom.settings.headers == {"X-Scope-OrgID": "tenant-1"}
    assert am.settings.webhook_log == "exports/alertmanager-webhook.jsonl"


def test_node_time_seconds_is_read_raw_with_its_scrape_latency(tmp_path: Path) -> None:
    from incident_timeline.report.trust import load

    def node(name: str) -> dict[str, str]:
        return {"instance": f"{name}:9100", "job": "node", "node": name}

    fake = FakePrometheus(
        {
            # node-b's clock 2.4 s ahead; node_exporter reads it 3 ms into a 6 ms scrape
            "node_time_seconds": [
                (node("node-b"), lambda t: t + 2.403),
                (node("node-a"), lambda t: t + 0.001),
            ],
            "scrape_duration_seconds": [
                (node("node-b"), lambda t: 0.006),
                (node("node-a"), lambda t: 0.002),
                ({"instance": "a:8080", "job": "app"}, lambda t: 0.5),
            ],
        }
    )
    fake.phase = 0.25  # scrape times carry the target's phase: not whole seconds
    out, outcome = run(tmp_path, collector(tmp_path, fake, ""))
    assert outcome.status == "ok"
    asked = [r.url.params["query"] for r in fake.requests if r.url.path == "/api/v1/query"]
    assert asked == [
        "node_time_seconds[3600001ms]",
        'scrape_duration_seconds{job="node"}[3600001ms]',
    ]
    events = events_of(out)
    clock = events[events["kind"] == "clock"]
    assert list(clock["summary"]) == [
        "clock ahead of Prometheus by 2.4 s (node_time_seconds − scrape time +2.4 s, "
        "beyond ±0.1 s) on instance=node-b:9100, job=node, node=node-b"
    ]
    _, assembled = load(out)
    [finding] = [f for f in assembled.integrity.findings if f.check == "node_clock"]
    assert finding.id == "node_clock:node-b"
    assert {k: finding.labels[k] for k in ("offset_seconds", "low_seconds", "high_seconds")} == {
        "offset_seconds": "2.400",
        "low_seconds": "2.397",
        "high_seconds": "2.403",
    }
    assert (finding.labels["samples"], finding.labels["measure"]) == (
        "240",
        "node_time_seconds − scrape time",
    )
    assert finding.summary.startswith(
        "node-b clock 2.4 s ahead of Prometheus (14:00:00.250–14:59:45.250; node_time_seconds "
        "− scrape time, median of 240 scrapes, spread 0 ms)"
    )
    assert finding.correction is not None and finding.correction.shift_ns == -2_400_000_000


def test_a_non_numeric_sample_is_a_wrong_shape_not_an_internal_error(tmp_path: Path) -> None:
    # Issue 8 item 3: the answer's shape is checked; the source is partial with the endpoint.
    fake = FakePrometheus({"ratio": [RATIO]})
    fake._matrix = lambda name, grid, **extra: fake._ok(  # type: ignore[method-assign]
        {"resultType": "matrix", "result": [{"metric": {}, "values": [["x", "y"]]}]}
    )
    _, outcome = run(tmp_path, collector(tmp_path, fake, "builtin_queries = false\n" + QUERY))
    assert outcome.status == "partial"
    assert outcome.error == (
        "query error_ratio: wrong shape: GET /api/v1/query_range: sample ['x', 'y'] is not "
        '[time, "value"] (at /data/result/0/values/0)'
    )


def test_a_vector_for_a_range_query_is_a_wrong_shape(tmp_path: Path) -> None:
    fake = FakePrometheus({"ratio": [RATIO]})
    fake._matrix = lambda name, grid, **extra: fake._ok(  # type: ignore[method-assign]
        {"resultType": "vector", "result": [{"metric": {}, "value": [1, "1"]}]}
    )
    _, outcome = run(tmp_path, collector(tmp_path, fake, "builtin_queries = false\n" + QUERY))
    assert outcome.status == "partial"
    assert "resultType is 'vector', not 'matrix' (at /data/resultType)" in str(outcome.error)
