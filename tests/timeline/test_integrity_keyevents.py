"""Key events stay tens of rows however big the window: warnings and errors by signature,
a budget of signatures, and bursts of like alerts collapsed."""

from __future__ import annotations

import pandas as pd

from incident_timeline.timeline.keyevents import MAX_ERROR_SIGNATURES, error_signature, key_events
from incident_timeline.timeline.schema import make_events

T0 = pd.Timestamp("2026-02-17 14:00:00", tz="UTC")


def events(rows: list[tuple[float, str, str, str]], **extra: object) -> pd.DataFrame:
    """(seconds, kind, severity, summary) rows from one stream; ref is the row number."""
    return make_events(
        time=[T0 + pd.Timedelta(seconds=r[0]) for r in rows],
        source="kubernetes",
        stream="ns/api",
        kind=[r[1] for r in rows],
        severity=[r[2] for r in rows],
        summary=[r[3] for r in rows],
        ref=[f"raw/k#L{i}" for i in range(len(rows))],
        **extra,
    )


def test_pod_names_do_not_split_a_signature() -> None:
    names = pd.Series(
        [
            "Pod checkout-api-6d8f7b9c5d-7f8k7: Unhealthy",
            "Pod checkout-api-5c9d7f6b8-hmlh4: Unhealthy",
        ],
        dtype="string",
    )
    assert error_signature(names).tolist() == ["Pod checkout-api-<n>-<id>: Unhealthy"] * 2


def test_a_logfmt_message_is_part_of_the_signature() -> None:
    lines = pd.Series(
        [
            'level=error msg="db pool exhausted" wait_ms=2000 trace_id=ab12cd34ef',
            'level=error msg="cache miss storm" wait_ms=31 trace_id=0a1b2c3d4e',
        ],
        dtype="string",
    )
    assert error_signature(lines).tolist() == [
        "level=error msg=«db pool exhausted» wait_ms=<n> trace_id=<n>",
        "level=error msg=«cache miss storm» wait_ms=<n> trace_id=<n>",
    ]


def test_the_same_warning_on_many_pods_is_one_row_with_a_count() -> None:
    pods = ["6d8f7b9c5d-7f8k7", "6d8f7b9c5d-5mk8p", "6d8f7b9c5d-ms2ds"]
    rows = [
        (i, "k8s_event", "warning", f"Pod api-{p}: Unhealthy: probe failed: 503")
        for i, p in enumerate(pods)
    ]
    rows.append((9, "k8s_event", "warning", "Pod api-6d8f7b9c5d-7f8k7: BackOff: restarting"))
    key = key_events(events(rows))
    assert key["summary"].tolist() == [
        "Pod api-6d8f7b9c5d-7f8k7: Unhealthy: probe failed: 503 (×3 in window)",
        "Pod api-6d8f7b9c5d-7f8k7: BackOff: restarting",
    ]


def test_at_most_twenty_error_signatures_then_one_row_for_the_rest() -> None:
    words = [f"failure{chr(97 + i)}" for i in range(26)]  # 26 signatures, no digits
    rows = [
        (float(i * 30 + k), "log", "error", f"{w} happened")
        for i, w in enumerate(words)
        for k in range(26 - i)
    ]  # word i occurs 26 - i times
    key = key_events(events(sorted(rows)))
    assert len(key) == MAX_ERROR_SIGNATURES + 1
    assert key["summary"].iloc[0] == "failurea happened (×26 in window)"
    rest = key["summary"].iloc[-1]
    total = sum(26 - i for i in range(20, 26))
    assert (
        rest == f"6 more error signatures ({total} events) not listed, the first: failureu happened"
    )
    assert key["time"].is_monotonic_increasing


def test_a_burst_of_like_alerts_is_one_row_and_a_later_one_another() -> None:
    rows = [
        (i * 3.0, "alert_firing", "error", f"KubePodCrashLooping firing (pod=p{i})")
        for i in range(40)
    ]
    rows.append((1000.0, "alert_firing", "error", "KubePodCrashLooping firing (pod=p99)"))
    rows.append((5.0, "alert_firing", "error", "HighErrorRate firing"))
    frame = events(
        sorted(rows),
        labels=[
            {"alertname": "HighErrorRate" if "High" in r[3] else "KubePodCrashLooping"}
            for r in sorted(rows)
        ],
    )
    key = key_events(frame)
    assert key["summary"].tolist() == [
        "KubePodCrashLooping firing (pod=p0) (+39 more within 1 min 57 s)",
        "HighErrorRate firing",
        "KubePodCrashLooping firing (pod=p99)",
    ]
