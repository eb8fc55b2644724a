"""Condensing a timeline to key events."""

from __future__ import annotations

import pandas as pd

from incident_timeline.timeline.keyevents import KEY_KINDS, error_signature, key_events
from incident_timeline.timeline.schema import COLUMNS, empty_events, make_events

T0 = pd.Timestamp("2026-02-17 14:00:00", tz="UTC")


def frame(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    """Events one second apart from (kind, severity, summary) rows; ref is the row number."""
    return make_events(
        time=[T0 + pd.Timedelta(seconds=i) for i in range(len(rows))],
        source="kubernetes",
        stream="checkout/api/app",
        kind=[r[0] for r in rows],
        severity=[r[1] for r in rows],
        summary=[r[2] for r in rows],
        ref=[f"raw/k#L{i}" for i in range(len(rows))],
    )


def test_key_kinds_are_exported() -> None:
    assert KEY_KINDS == (
        "alert_pending",
        "alert_firing",
        "alert_resolved",
        "alert_notify",
        "silence",
        "note",
        "deploy",
        "metric_threshold",
        "clock",
        "gap",
    )


def test_rules_keep_and_drop_by_kind_and_severity() -> None:
    rows = [(kind, "info", kind) for kind in KEY_KINDS]
    rows += [
        ("page_trigger", "critical", "page_trigger"),
        ("page_custom_thing", "info", "page_custom_thing"),
        ("k8s_event", "info", "k8s normal: Scheduled"),
        ("k8s_event", "warning", "k8s warning: BackOff"),
        ("k8s_event", "critical", "k8s critical: Evicted"),
        ("log", "info", "GET /health 200"),
        ("log", "warning", "slow query 900ms"),
        ("log", "debug", "cache miss"),
        ("metric", "info", "unknown kind"),
    ]
    key = key_events(frame(rows))
    expected = [*KEY_KINDS, "page_trigger", "page_custom_thing"]
    expected += ["k8s warning: BackOff", "k8s critical: Evicted"]
    assert key["summary"].tolist() == expected
    assert tuple(key.columns) == COLUMNS
    assert key.index.tolist() == list(range(len(expected)))


def test_error_logs_are_deduplicated_by_signature_with_a_count() -> None:
    rows = [
        ("log", "error", "db pool exhausted wait_ms=2000 trace_id=ab12cd34ef"),
        ("log", "info", "request ok"),
        ("log", "error", "upstream 10.0.3.7:8080 refused"),
        ("log", "critical", "db pool exhausted wait_ms=150 trace_id=9f8e7d6c5b4a"),
        ("alert_firing", "critical", "CheckoutHighErrorRate firing"),
        ("log", "error", "db pool exhausted  wait_ms=31 trace_id=0a1b2c"),
        ("log", "error", 'payment declined order="A-17"'),
        ("log", "error", 'payment declined order="B-99"'),
    ]
    key = key_events(frame(rows))
    assert key["summary"].tolist() == [
        "db pool exhausted wait_ms=2000 trace_id=ab12cd34ef (×3 in window)",
        "upstream 10.0.3.7:8080 refused",
        "CheckoutHighErrorRate firing",
        'payment declined order="A-17" (×2 in window)',
    ]
    assert key["ref"].tolist() == ["raw/k#L0", "raw/k#L2", "raw/k#L4", "raw/k#L6"]


def test_error_signature_normalizes_variable_parts() -> None:
    summaries = pd.Series(
        [
            "db pool exhausted wait_ms=2000 trace_id=ab12cd34ef",
            "req 3f2b8c1e-1111-4222-8333-123456789abc failed for user 'bob' from 192.168.1.20",
            'lookup "checkout.svc" took=1.5ms retries=3 ptr 0xDEADbeef',
            "decade facade cafe: attempt 12 of 40",
            "can't reach 'db-1'",
            "span 123456 of trace 9f3a7c2b1d done",
            "span 9f3a7c of trace 000000000001 done",
        ],
        dtype="string",
    )
    assert error_signature(summaries).tolist() == [
        "db pool exhausted wait_ms=<n> trace_id=<n>",
        "req <uuid> failed for user '<str>' from <ip>",
        'lookup "<str>" took=<n> retries=<n> ptr <n>',
        "decade facade cafe: attempt <n> of <n>",
        "can't reach '<str>'",
        "span <n> of trace <n> done",
        "span <n> of trace <n> done",
    ]


def test_signature_is_per_summary_across_streams_and_key_frame_keeps_order() -> None:
    events = frame([("log", "error", "timeout after 30s"), ("log", "error", "timeout after 5s")])
    events.loc[1, "stream"] = "checkout/worker/app"
    key = key_events(events)
    assert key["summary"].tolist() == ["timeout after 30s (×2 in window)"]
    assert key["stream"].tolist() == ["checkout/api/app"]
    assert events["summary"].tolist() == ["timeout after 30s", "timeout after 5s"]


def test_empty_and_error_free_frames() -> None:
    assert key_events(empty_events()).empty
    assert tuple(key_events(empty_events()).columns) == COLUMNS
    only_info = frame([("log", "info", "ok"), ("k8s_event", "info", "Pulled")])
    assert key_events(only_info).empty
