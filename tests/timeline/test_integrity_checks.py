"""Each clock and gap check on small hand-made evidence: it fires with the right size and place,
and stays quiet just below its threshold."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from incident_timeline.timeline.schema import make_events
from incident_timeline.timeline.trust.checks import Integrity, check_integrity, select_corrections
from incident_timeline.timeline.trust.clocks import (
    app_clock_findings,
    causality_findings,
    unique_ids,
    zones_for_offset,
)
from incident_timeline.timeline.trust.evidence import pod_lives, workload
from incident_timeline.timeline.trust.findings import Correction, Finding
from incident_timeline.timeline.trust.gaps import (
    backwards_findings,
    future_findings,
    pod_log_findings,
    silence_findings,
    ttl_findings,
)
from incident_timeline.timeline.trust.metricgaps import metric_gap_findings, sample_gaps
from incident_timeline.timeline.trust.nodefindings import node_clock_findings
from incident_timeline.timeline.window import Window

T0 = pd.Timestamp("2026-02-17 14:00:00", tz="UTC")


def s(seconds: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(seconds=seconds)


def logs(
    times: list[float],
    stream: str = "ns/api-6d8f7b9c5d-ms2ds/app",
    *,
    offset: list[float] | float | None = None,
    file: str = "raw/f/a.log",
) -> pd.DataFrame:
    """Log lines at ``times`` (s after T0), in file order; ``offset``: embedded − time."""
    ns, pod, container = stream.split("/")
    offsets = offset if isinstance(offset, list) else [offset] * len(times)
    return make_events(
        time=[s(t) for t in times],
        source="kubernetes",
        stream=stream,
        kind="log",
        summary=[f"line {i}" for i in range(len(times))],
        labels={"namespace": ns, "pod": pod, "container": container},
        embedded_time=[
            s(t + o) if o is not None else pd.NaT for t, o in zip(times, offsets, strict=False)
        ],
        ref=[f"{file}#L{i + 1}" for i in range(len(times))],
    )


def pod_event(
    t: float,
    pod: str,
    reason: str,
    node: str | None = None,
    actor: str = "kubelet",
    message: str = "",
) -> pd.DataFrame:
    labels = {"kind": "Pod", "name": pod, "namespace": "ns", "reason": reason}
    if node and actor == "kubelet":
        labels["node"] = node
    return make_events(
        time=[s(t)],
        source="kubernetes",
        stream=f"ns/pod/{pod}",
        kind="k8s_event",
        actor=actor,
        summary=[f"{pod}: {reason}"],
        message=[message or reason],
        labels=[labels],
        ref=[f"raw/k/events.json#/items/{int(t)}"],
    )


def samples(metric: str, rows: list[tuple[float, str, float]], **extra: str) -> pd.DataFrame:
    """Tidy samples from (seconds, node-or-pod, value) rows."""
    key = "node" if metric.startswith("node_") else "pod"
    labels = [{"__name__": metric, key: who, **extra} for _, who, _ in rows]
    return pd.DataFrame(
        {
            "time": [s(t) for t, _, _ in rows],
            "series": [f'{metric}{{{key}="{who}"}}' for _, who, _ in rows],
            "labels": [json.dumps(lab, sort_keys=True) for lab in labels],
            "value": [v for _, _, v in rows],
            "pointer": [f"/data/result/0/values/{i}" for i in range(len(rows))],
        }
    )


def test_app_clock_zone_skew_and_buffering_are_told_apart() -> None:
    lines = 30
    frames = [
        logs(list(range(lines)), "ns/a-1/kolkata", offset=5.5 * 3600 + 0.002),
        logs(list(range(lines)), "ns/a-1/skewed", offset=3.0),
        logs(list(range(lines)), "ns/a-1/buffered", offset=[-(i % 10) * 0.5 for i in range(lines)]),
        logs(list(range(lines)), "ns/a-1/fine", offset=-0.004),
        logs(list(range(4)), "ns/a-1/few", offset=7200.0),
    ]
    events = pd.concat(frames, ignore_index=True)
    found = {f.labels["container"]: f for f in app_clock_findings(events)}
    assert sorted(found) == ["buffered", "kolkata", "skewed"]
    zone = found["kolkata"]
    assert zone.labels["utc_offset"] == "UTC+05:30" and "Asia/Kolkata" in zone.labels["zones"]
    assert zone.correction is not None and zone.correction.shift_ns == -19800 * 10**9
    skew = found["skewed"]
    assert "skewed clock" in skew.summary and skew.correction is not None
    assert skew.correction.shift_ns == -3 * 10**9
    assert skew.correction.columns == ("embedded_time",)
    assert "buffered logging" in found["buffered"].summary
    assert found["buffered"].correction is None


def test_zones_that_fit_depend_on_the_date() -> None:
    winter = zones_for_offset(-5 * 3600, pd.Timestamp("2026-02-17", tz="UTC"))
    summer = zones_for_offset(-5 * 3600, pd.Timestamp("2026-07-17", tz="UTC"))
    assert winter[0] == "America/New_York" and "America/Bogota" in winter
    assert "America/New_York" not in summer and "America/Chicago" in summer
    assert all("/" in z and not z.startswith(("Etc/", "US/")) for z in winter)


def test_node_clock_run_bounds_and_what_it_touches() -> None:
    # node_timex_offset_seconds +0.3: the kernel still has to advance the clock by 0.3 s
    # (kernel/time/ntp.c second_overflow), so node-b is behind and is corrected forward.
    off = [(t, "node-b", 0.0004 if t < 60 or t > 150 else 0.3) for t in range(0, 241, 15)]
    off += [(t, "node-a", 0.0002) for t in range(0, 241, 15)]
    metrics = {"timex": samples("node_timex_offset_seconds", off)}
    events = pd.concat(
        [
            logs([70, 80], "ns/api-6d8f7b9c5d-ms2ds/app"),
            pod_event(
                10,
                "api-6d8f7b9c5d-ms2ds",
                "Scheduled",
                actor="default-scheduler",
                message="Successfully assigned ns/api-6d8f7b9c5d-ms2ds to node-b",
            ),
            pod_event(12, "api-6d8f7b9c5d-ms2ds", "Started", node="node-b"),
        ],
        ignore_index=True,
    )
    [finding] = node_clock_findings(events, metrics, pod_lives(events))
    assert finding.id == "node_clock:node-b"
    assert (finding.time, finding.end) == (s(60), s(150))
    assert (finding.labels["offset_seconds"], finding.labels["timex_offset_seconds"]) == (
        "-0.300",
        "0.300",
    )
    assert "node-b clock 0.3 s behind" in finding.summary
    corr = finding.correction
    assert corr is not None and corr.shift_ns == 300_000_000  # forward
    assert (corr.since, corr.until) == (s(60), s(150))  # known only while measured
    assert corr.streams == ("ns/api-6d8f7b9c5d-ms2ds/app",)
    assert corr.refs == ("raw/k/events.json#/items/12",)


def test_node_clock_below_threshold_or_a_single_sample_is_quiet() -> None:
    rows = [(t, "node-a", 0.09) for t in range(0, 100, 15)] + [(30, "node-b", 0.5)]
    metrics = {"timex": samples("node_timex_offset_seconds", rows)}
    assert node_clock_findings(logs([1]), metrics, {}) == []


def test_kubelet_event_before_the_pod_was_scheduled_is_a_clock_problem() -> None:
    events = pd.concat(
        [
            pod_event(
                100,
                "api-1",
                "Scheduled",
                actor="default-scheduler",
                message="Successfully assigned ns/api-1 to node-c",
            ),
            pod_event(97, "api-1", "Pulled", node="node-c"),
            pod_event(
                100,
                "api-2",
                "Scheduled",
                actor="default-scheduler",
                message="Successfully assigned ns/api-2 to node-a",
            ),
            pod_event(99, "api-2", "Pulled", node="node-a"),  # 1 s: within the stamps' precision
        ],
        ignore_index=True,
    )
    [finding] = causality_findings(events, pod_lives(events))
    assert (finding.id, finding.labels["lead_seconds"]) == ("causality:node-c", "3")
    assert "node-c's clock is behind" in finding.summary


def alert_chain(pd_trigger: float) -> pd.DataFrame:
    alert = {"alertname": "HighErrorRate"}
    return pd.concat(
        [
            make_events(
                time=[s(0)],
                source="prometheus",
                stream="alerts",
                kind="alert_firing",
                summary=["HighErrorRate firing"],
                labels=[alert],
                ref=["raw/p#/0"],
            ),
            make_events(
                time=[s(0.5)],
                source="alertmanager",
                stream="am",
                kind="alert_firing",
                summary=["HighErrorRate firing"],
                labels=[alert],
                ref=["raw/a#/0"],
            ),
            make_events(
                time=[s(1.2)],
                source="alertmanager",
                stream="hook",
                kind="alert_notify",
                summary=["notified"],
                labels=[{**alert, "status": "firing"}],
                ref=["raw/w#L1"],
            ),
            make_events(
                time=[s(pd_trigger)],
                source="pagerduty",
                stream="Q1",
                kind="page_trigger",
                summary=["Triggered"],
                labels=[{"incident_title": "[#1] HighErrorRate: x"}],
                ref=["raw/pd#/0"],
            ),
        ],
        ignore_index=True,
    )


def test_a_page_before_the_notification_that_caused_it_is_said_so() -> None:
    integrity = check_integrity(alert_chain(-4.0), {}, {})
    [finding] = [f for f in integrity.findings if f.check == "alert_path"]
    assert finding.labels == {
        "alertname": "HighErrorRate",
        "cause": "webhook",
        "effect": "pagerduty",
        "lag_seconds": "-5.200",
    }
    assert "PagerDuty trigger (13:59:56) is 5.200 s before webhook received" in finding.summary
    quiet = check_integrity(alert_chain(3.0), {}, {})
    assert [p.text() for p in quiet.paths] == [
        (
            "HighErrorRate: Prometheus firing 14:00:00 → Alertmanager startsAt 14:00:00.500 "
            "(+0.500 s) → webhook received 14:00:01.200 (+0.700 s) → PagerDuty trigger 14:00:03 "
            "(+1.800 s); total +3.000 s"
        )
    ]
    assert quiet.findings == ()


def test_silence_needs_ten_times_the_usual_interval_and_a_minute() -> None:
    times = [float(t) for t in range(0, 60, 2)] + [60 + 240.0] + [302.0 + t for t in range(20)]
    [finding] = silence_findings(logs(times))
    assert (finding.time, finding.end) == (s(58), s(300))
    assert finding.labels["silence_seconds"] == "242.000"
    assert finding.ref == "raw/f/a.log#L30"
    assert silence_findings(logs([float(t) for t in range(0, 200, 10)] + [250.0])) == []
    assert silence_findings(logs([0.0, 1.0, 500.0])) == []  # too few lines to know the usual


def test_pods_without_logs_only_for_workloads_whose_logs_were_collected() -> None:
    events = pd.concat(
        [
            logs([float(t) for t in range(30)], "ns/api-6d8f7b9c5d-7f8k7/app"),
            pod_event(5, "api-6d8f7b9c5d-ms2ds", "Started", node="node-b"),
            pod_event(40, "api-6d8f7b9c5d-ms2ds", "Killing", node="node-b"),
            pod_event(5, "redis-0", "Started", node="node-a"),
            pod_event(400, "api-6d8f7b9c5d-7f8k7", "Killing", node="node-a"),
        ],
        ignore_index=True,
    )
    found = {f.check: f for f in pod_log_findings(events, pod_lives(events), None)}
    assert sorted(found) == ["logs_cut", "missing_logs"]
    missing = found["missing_logs"]
    assert (missing.labels["pod"], missing.time, missing.end) == (
        "api-6d8f7b9c5d-ms2ds",
        s(5),
        s(40),
    )
    cut = found["logs_cut"]
    assert (cut.labels["pod"], cut.time, cut.end) == ("api-6d8f7b9c5d-7f8k7", s(29), s(400))
    assert workload("api-6d8f7b9c5d-7f8k7") == workload("api-5c9d7f6b8-hmlh4") == "api"
    assert workload("redis-0") == "redis"


def test_time_running_backwards_in_file_order() -> None:
    frame = logs([0, 1, 2, 40, 3.5, 41, 42, 41.5])  # one 36.5 s step back, one of 0.5 s
    [finding] = backwards_findings(frame)
    assert finding.labels == {"times": "1", "max_seconds": "36.500"}
    assert finding.ref == "raw/f/a.log#L5"
    two_files = pd.concat([logs([10, 11]), logs([0, 1], file="raw/f/b.log")], ignore_index=True)
    assert backwards_findings(two_files) == []  # each save is in order; merge sorts them


def test_future_and_event_ttl() -> None:
    frame = pd.concat(
        [logs([0, 100, 200]), pod_event(3000, "api-1", "Started", node="n")], ignore_index=True
    )
    future, _ = future_findings(frame, s(150))
    assert (future.time, future.labels["events"]) == (s(200), "1")
    window = Window(s(0), s(3600))
    [ttl] = ttl_findings(frame, window, s(6000), live_events=True)
    assert (ttl.time, ttl.end) == (s(0), s(2400))
    assert "before 14:40:00 are likely missing" in ttl.summary
    assert ttl_findings(frame, window, s(6000), live_events=False) == []  # a file export
    older = pd.concat([frame, pod_event(60, "api-1", "Pulled", node="n")], ignore_index=True)
    assert ttl_findings(older, window, s(6000), live_events=True) == []  # kept longer here
    assert ttl_findings(frame, window, s(3000), live_events=True) == []  # collected in time


def test_metric_gaps_group_series_and_skip_alerts() -> None:
    rows = [(t, pod, 1.0) for pod in ("a", "b") for t in range(0, 301, 15) if not 60 <= t < 120]
    rows += [(t, "c", 0.0 if 30 <= t <= 60 else 1.0) for t in range(0, 301, 15)]
    alerts = samples("ALERTS", [(0, "x", 1.0), (200, "x", 1.0)])
    found = metric_gap_findings({"up": samples("up", rows), "alerts": alerts})
    gap, down = found
    assert (gap.check, gap.time, gap.end) == ("metric_gap", s(60), s(120))
    assert gap.labels["series"] == "2" and gap.labels["missing_steps"] == "4"
    assert "no samples for 2 series from 14:01:00 to 14:02:00" in gap.summary
    assert (down.check, down.time, down.end) == ("target_down", s(30), s(75))
    assert "up == 0 for pod=c" in down.summary


def test_select_corrections_by_id_or_all() -> None:
    frames = pd.concat(
        [
            logs(list(range(10)), "ns/p-1/a", offset=3.0),
            logs(list(range(10)), "ns/p-1/b", offset=-3600.0),
        ],
        ignore_index=True,
    )
    integrity = check_integrity(frames, {}, {})
    assert [c.id for c in select_corrections(integrity, ["all"])] == ["app_clock:a", "app_clock:b"]
    assert [c.id for c in select_corrections(integrity, ["app_clock:b"])] == ["app_clock:b"]
    with pytest.raises(ValueError) as info:
        select_corrections(integrity, ["node_clock:x"])
    assert str(info.value) == (
        "no suggested correction node_clock:x; on offer: app_clock:a, app_clock:b"
    )
    assert select_corrections(Integrity((), ()), ["all"]) == []


def test_one_gap_rule_per_series_interval() -> None:
    # a 15 s target missing one scrape, beside a healthy 30 s target in the same frame
    fast = [(t, "a", 1.0) for t in range(0, 300, 15) if t != 150]
    slow = [(t, "b", 1.0) for t in range(0, 300, 30)]
    frame = samples("up", fast + slow)
    holes = sample_gaps(frame)
    assert [
        (frame.at[b, "series"], frame.at[b, "time"], frame.at[a, "time"], step)
        for b, a, step in holes.itertuples(index=False)
    ] == [('up{pod="a"}', s(135), s(165), pd.Timedelta(seconds=15))]
    [finding] = metric_gap_findings({"up": frame})
    assert (finding.time, finding.end, finding.labels["missing_steps"]) == (s(150), s(165), "1")


def test_findings_at_the_same_time_of_day_on_other_days_keep_ids_of_their_own() -> None:
    # A three-day window: the same stream goes quiet at 14:01:50 each day (and each night).
    # An id names a time of day only, so each of the three is dated (and a correction by id
    # stays exact).
    day = 86_400
    times = [float(t) for d in range(3) for t in range(d * day, d * day + 3600, 10)]
    times = [t for t in times if not 110 < t % day < 420]
    window = {"since": str(T0), "until": str(s(3 * day))}
    found = check_integrity(logs(times), {}, {"window": window}).findings
    silences = [f for f in found if f.check == "silence" and "@14:01:50" in f.id]
    assert [f.id for f in silences] == [
        f"silence:ns/api-6d8f7b9c5d-ms2ds/app@14:01:50/2026-02-{d}" for d in (17, 18, 19)
    ]
    assert len({f.id for f in found}) == len(found)


def test_a_repeated_id_on_one_day_is_numbered_and_its_correction_renamed() -> None:
    def finding(at: float, node: str = "node-b") -> Finding:
        fix = Correction(id=f"node_clock:{node}@14:00:00", description="", shift_ns=1, columns=())
        return Finding(
            id=fix.id,
            kind="clock",
            check="node_clock",
            time=s(at),
            end=None,
            subject=f"node/{node}",
            summary="",
            detail="",
            ref="",
            correction=fix,
        )

    out = unique_ids([finding(0), finding(0.5), finding(0, "node-c")])
    assert [(f.id, f.correction and f.correction.id) for f in out] == [
        ("node_clock:node-b@14:00:00/2026-02-17",) * 2,
        ("node_clock:node-b@14:00:00/2026-02-17#2",) * 2,
        ("node_clock:node-c@14:00:00",) * 2,
    ]
