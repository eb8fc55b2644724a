"""The Kubernetes collector's pieces on their own: the token bucket, the window-end cut of a
log stream, Status messages, label selectors, the event-TTL gap and log plans."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd
import pytest

from incident_timeline.collector.kubernetes.client import RateLimiter, Reply, status_message
from incident_timeline.collector.kubernetes.events import expanded_rows, ttl_gap
from incident_timeline.collector.kubernetes.logs import fixed, since_time, until_end
from incident_timeline.collector.kubernetes.pods import log_plans
from incident_timeline.collector.kubernetes.selectors import matches
from incident_timeline.timeline.timestamps import parse_iso
from tests.collector import kubernetes_scenario as sc

END = datetime(2026, 2, 17, 15, 30, tzinfo=UTC)


def test_token_bucket_allows_a_burst_then_qps() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds

    bucket = RateLimiter(5, 10, clock=lambda: now[0], sleep=sleep)
    for _ in range(12):
        bucket.take()
    assert slept == [0.2, 0.2]  # ten at once, then one every 1/5 s
    now[0] += 10  # idle: the bucket refills to the burst, not beyond
    for _ in range(10):
        bucket.take()
    assert slept == [0.2, 0.2]


def test_a_stream_stops_at_the_first_line_at_or_past_the_window_end() -> None:
    lines = [
        b"2026-02-17T15:29:59.999999999Z last inside\n",
        b"2026-02-17T15:30:00.000000000Z at the end: outside (the window is half-open)\n",
        b"2026-02-17T15:30:01.000000000Z never read\n",
    ]
    body = b"".join(lines)
    blocks = [body[:10], body[10:50], body[50:]]  # cut anywhere, even mid-stamp
    assert list(until_end(iter(blocks), fixed(END))) == [(lines[0], False), (b"", True)]
    offset = [b"2026-02-17T16:30:00.5+01:00 a runtime writing an offset\n"]
    assert list(until_end(iter(offset), fixed(END))) == [(b"", True)]
    cut = [b"2026-02-17T15:00:00.000000000Z a limitBytes cut mid-li"]
    assert list(until_end(iter(cut), fixed(END))) == [(cut[0], False)]


def test_since_time_is_sent_with_seconds_precision() -> None:
    assert since_time(datetime(2026, 2, 17, 14, 0, 5, 900_000, tzinfo=UTC)) == (
        "2026-02-17T14:00:05Z"
    )
    assert fixed(END) == b"2026-02-17T15:30:00.000000000Z"


def test_status_messages_name_what_rbac_refused_at_cluster_scope() -> None:
    body = {
        "kind": "Status",
        "code": 403,
        "reason": "Forbidden",
        "message": 'events.events.k8s.io is forbidden: User "jane" cannot list resource '
        '"events" in API group "events.k8s.io" at the cluster scope',
    }
    error = status_message(Reply(403, {}, json.dumps(body).encode()), "/apis/x", "prod")
    assert str(error).startswith(
        "RBAC refused list events at the cluster scope for context 'prod' (403 Forbidden: "
    )
    plain = status_message(Reply(502, {}, b"bad gateway"), "/api/v1/pods", None)
    assert str(plain) == "GET /api/v1/pods: 502 error: bad gateway"


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("app=checkout-api", {"app": "checkout-api"}, True),
        ("app==checkout-api,tier!=db", {"app": "checkout-api", "tier": "db"}, False),
        ("app in (a, checkout-api),!canary", {"app": "checkout-api"}, True),
        ("app notin (checkout-api)", {"app": "checkout-api"}, False),
        ("release", {}, False),
        ("", {}, True),
    ],
)
def test_label_selectors(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert matches(selector, labels) is expected


def test_a_window_older_than_every_event_gets_a_ttl_gap() -> None:
    since = datetime(2026, 2, 17, 13, 0, tzinfo=UTC)
    gap = ttl_gap(pd.Timestamp("2026-02-17T13:30:00Z"), since, END)
    assert list(gap["kind"]) == ["gap"] and list(gap["time"]) == [pd.Timestamp(since)]
    assert gap["summary"].iloc[0] == (
        "Kubernetes events before 2026-02-17T13:30:00Z may be missing: the oldest event seen "
        "is at 2026-02-17T13:30:00Z; the API server keeps events about 1 h by default "
        "(--event-ttl)"
    )
    assert ttl_gap(pd.Timestamp("2026-02-17T12:00:00Z"), since, END).empty


def test_a_single_event_is_one_row_and_series_two() -> None:
    single = expanded_rows(sc.core_events()[2], ("raw/e.json", "/items/2"))
    assert [r["time_raw"] for r in single] == ["2026-02-17T14:10:02Z"]
    series = expanded_rows(sc.series_event(), ("raw/e.json", "/items/9"))
    assert [r["time_raw"] for r in series] == [
        "2026-02-17T14:44:01.000000Z",
        "2026-02-17T14:50:30.000000Z",
    ]


def test_log_plans_skip_logs_that_cannot_hold_window_lines() -> None:
    pod_a = sc.pods()[0]
    plans = log_plans(pod_a, sc.SINCE, sc.UNTIL)
    assert [(p.container, p.role, p.previous) for p in plans] == [
        ("migrate", "init", False),
        ("envoy", "sidecar", False),
        ("app", "container", False),
        ("app", "container", True),
    ]
    # a window that ends before the containers started, and one after the OOM kill
    early = datetime(2026, 2, 17, 14, 30, tzinfo=UTC)
    assert log_plans(pod_a, sc.SINCE, early) == []
    late = datetime(2026, 2, 17, 15, 0, tzinfo=UTC)
    assert [p.previous for p in log_plans(pod_a, late, sc.UNTIL) if p.container == "app"] == [False]
    assert log_plans(pod_a, sc.SINCE, sc.UNTIL, previous=False)[-1].previous is False


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-02-17T15:30:00Z",
        "2026-02-17T15:29:59.999999999Z",
        "2026-02-17T15:30:00.000001Z",
        "2026-02-17T17:30:00+02:00",
        "2026-02-17T17:30:01+02:00",
        "2026-02-17T15:30:00",  # no offset: the timestamp engine's reading
        "2026-02-17 15:31:00",
        "yesterday",  # unparsable: counts as before
    ],
)
def test_plan_stamps_read_by_fromisoformat_compare_as_the_timestamp_engine(stamp: str) -> None:
    pod = {
        "metadata": {"namespace": "shop", "name": "api-0"},
        "spec": {"containers": [{"name": "app"}]},
        "status": {
            "containerStatuses": [{"name": "app", "state": {"running": {"startedAt": stamp}}}]
        },
    }
    value = parse_iso(pd.Series([stamp], dtype="string"))["time"].iloc[0]
    started_by_end = bool(value != value or value <= END)  # NaT (unparsable) counts as before
    assert len(log_plans(pod, sc.SINCE, END)) == int(started_by_end)


def test_progress_draws_only_when_enabled() -> None:
    import io

    from incident_timeline.collector.kubernetes.progress import Progress

    shown, quiet = io.StringIO(), io.StringIO()
    for stream, enabled in ((shown, True), (quiet, False)):
        progress = Progress(stream, enabled=enabled)
        progress.start(2)
        progress.add_bytes(3 << 20)
        progress.done_one()
        progress.done_one()
        progress.close()
    assert shown.getvalue().endswith("\rkubernetes: logs 2/2, 3.0 MiB\n")
    assert quiet.getvalue() == ""
    assert Progress.for_terminal().enabled is False  # pytest's stderr is not a terminal
