"""Node clock measures on hand-made evidence: the kubelet's stamps against the API server's
(from a ``kubectl get events -o json`` export alone), node_time_seconds in range-query steps,
and a disagreement between the direct measure and the kernel's."""

from __future__ import annotations

import json

import pandas as pd

from incident_timeline.collector.files.collector import parse
from incident_timeline.collector.formats import Context
from incident_timeline.timeline.schema import empty_events
from incident_timeline.timeline.trust.evidence import pod_lives
from incident_timeline.timeline.trust.nodefindings import node_clock_findings

T0 = pd.Timestamp("2026-03-04 14:00:00", tz="UTC")


def stamp(seconds: float) -> str:
    return (T0 + pd.Timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def kubelet_event(i: int, node: str, created: float, skew: float) -> dict[str, object]:
    """A kubelet event on ``node`` whose clock is ``skew`` s off; the API server stored it
    0.3 s after the kubelet stamped it (its delivery delay)."""
    pod = f"api-{node}-{i % 3}"
    return {
        "kind": "Event",
        "metadata": {
            "name": f"{pod}.{i:x}",
            "namespace": "ns",
            "creationTimestamp": stamp(created),
        },
        "involvedObject": {"kind": "Pod", "name": pod, "namespace": "ns"},
        "reason": "Pulled" if i % 2 else "Started",
        "message": "Started container app",
        "source": {"component": "kubelet", "host": node},
        "firstTimestamp": stamp(created - 0.3 + skew),
        "lastTimestamp": stamp(created - 0.3 + skew),
        "count": 1,
        "type": "Normal",
    }


def test_a_skewed_kubelet_is_found_from_creation_timestamps_alone() -> None:
    items = [
        kubelet_event(i, node, 60.0 + 37.3 * i, {"node-b": -3.0}.get(node, 0.0))
        for i in range(8)
        for node in ("node-a", "node-b", "node-c")
    ]
    doc = {"apiVersion": "v1", "kind": "List", "items": items}
    ctx = Context(ref="raw/k8s/events.json", stream="events.json")
    events = parse("kubectl-events", json.dumps(doc).encode(), ctx).events
    assert (
        json.loads(events["labels"].iloc[0])["created"] == items[0]["metadata"]["creationTimestamp"]
    )  # type: ignore[index]
    [finding] = node_clock_findings(events, {}, pod_lives(events))
    assert finding.id == "node_clock:node-b"
    assert finding.labels["measure"] == "kubelet events"
    assert (finding.labels["offset_seconds"], finding.labels["samples"]) == ("-3.000", "8")
    assert finding.summary.startswith("node-b clock 3 s behind the API server (")
    assert "kubelet events, median of 8 events" in finding.summary
    corr = finding.correction
    assert corr is not None and corr.shift_ns == 3_000_000_000  # forward
    assert len(corr.refs) == 8


def samples(metric: str, rows: list[tuple[float, float]], **labels: str) -> pd.DataFrame:
    metric_labels = {"__name__": metric, "instance": "n1:9100", "job": "node", **labels}
    series = f"{metric}{{n1}}"
    return pd.DataFrame(
        {
            "time": [T0 + pd.Timedelta(seconds=t) for t, _ in rows],
            "series": series,
            "labels": json.dumps(metric_labels, sort_keys=True),
            "value": [v for _, v in rows],
            "pointer": [f"/data/result/0/values/{i}" for i in range(len(rows))],
        }
    )


def test_range_query_steps_only_bound_the_offset() -> None:
    # scrapes every 15 s at phase 4.2 s on a clock 20 s behind; a range query at 10 s steps
    # shows the newest scrape at each step (0.8 to 10.8 s old here)
    base = T0.value / 1e9
    scrapes = [4.2 + 15 * k for k in range(40)]
    steps = []
    for t in range(10, 590, 10):
        newest = max(s for s in scrapes if s <= t)
        steps.append((float(t), base + newest - 20))
    metrics = {"node_time_seconds": samples("node_time_seconds", steps)}
    [finding] = node_clock_findings(empty_events(), metrics, {})
    assert (finding.labels["low_seconds"], finding.labels["high_seconds"]) == ("-20.800", "-15.800")
    assert finding.summary.startswith("n1 clock 18.3 s behind Prometheus (")
    assert "node_time_seconds − step time (a range query: bounds only)" in finding.summary
    assert "export raw samples" in finding.detail


def test_range_query_steps_that_cannot_tell_say_nothing() -> None:
    base = T0.value / 1e9
    scrapes = [4.2 + 15 * k for k in range(40)]
    steps = [(float(t), base + max(s for s in scrapes if s <= t) - 1.5) for t in range(10, 590, 10)]
    metrics = {"node_time_seconds": samples("node_time_seconds", steps)}
    assert node_clock_findings(empty_events(), metrics, {}) == []  # [-2.3, +2.7] holds 0


def test_the_kernel_disagreeing_with_the_direct_measure_is_reported_not_corrected() -> None:
    base = T0.value / 1e9
    direct = [(4.25 + 15 * k, base + 4.25 + 15 * k + 0.002) for k in range(20)]
    kernel = [(15.0 * k, 0.3) for k in range(20)]  # says: 0.3 s behind
    metrics = {
        "node_time_seconds": samples("node_time_seconds", direct),
        "node_timex_offset_seconds": samples("node_timex_offset_seconds", kernel),
    }
    [finding] = node_clock_findings(empty_events(), metrics, {})
    assert finding.check == "node_clock_disagree" and finding.correction is None
    assert finding.summary == (
        "n1: node_timex_offset_seconds says its clock is 0.3 s behind (20 samples), but "
        "node_time_seconds − scrape time shows no skew: the measures disagree"
    )


def test_slow_scrapes_are_not_a_skewed_clock() -> None:
    # node_exporter read the clock 0.39 s into 0.4 s scrapes: the offset lies in [-0.01, 0.39]
    base = T0.value / 1e9
    times = [4.25 + 15 * k for k in range(10)]
    clock = samples("node_time_seconds", [(t, base + t + 0.39) for t in times])
    took = samples("scrape_duration_seconds", [(t, 0.4) for t in times])
    metrics = {"node_time_seconds": clock, "scrape_duration_seconds": took}
    assert node_clock_findings(empty_events(), metrics, {}) == []
    late = samples("scrape_duration_seconds", [(t, 0.004) for t in times])  # fast: it is skew
    [finding] = node_clock_findings(
        empty_events(), {**metrics, "scrape_duration_seconds": late}, {}
    )
    assert finding.labels["offset_seconds"] == "0.388"
