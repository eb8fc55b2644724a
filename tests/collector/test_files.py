"""The file collector's parsers, on real exports (tests/data, with their .SOURCE notices) and on
documents in the exact shapes the tools write."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from incident_timeline.collector.errors import ExportFormatError
from incident_timeline.collector.files.collector import detect_format, parse
from incident_timeline.collector.formats import SAMPLE_BYTES, Context, Sample
from tests.support import DATA
from tests.support import utc as ts

T0 = pd.Timestamp("2026-02-17T14:00:00Z")


def ctx(**kw: object) -> Context:
    base = {"ref": "raw/file/x", "stream": "x", "fallback_time": T0}
    base.update(kw)
    return Context(**base)  # type: ignore[arg-type]


def test_kubectl_timestamps_real_file_two_clocks() -> None:
    data = (DATA / "logfmt-kubectl-timestamps.log").read_bytes()
    lines = data.decode().splitlines()
    assert detect_format(data).name == "kubectl-logs"
    events = parse("kubectl-logs", data, ctx(stream="openshift-monitoring/alertmanager")).events
    assert len(events) == len(lines) == 34
    assert events["time"].iloc[0] == ts("2021-11-15T09:21:29.542014685Z")
    assert events["embedded_time"].iloc[0] == ts("2021-11-15T09:21:29.540Z")
    assert events["time_raw"].iloc[0] == "2021-11-15T09:21:29.542014685Z"
    assert (events["time_quality"] == "exact").all()
    assert events["severity"].iloc[2] == "warning"
    assert events["message"].iloc[0] == lines[0].split(" ", 1)[1]
    assert list(events["ref"].head(2)) == ["raw/file/x#L1", "raw/file/x#L2"]
    lag = (events["time"] - events["embedded_time"]).dt.total_seconds()
    assert lag.abs().max() < 1


def test_kubectl_prefix_names_streams_and_keeps_untimed_lines() -> None:
    text = (
        "[pod/api-1/app] 2026-02-17T14:10:03.412345678Z level=error msg=boom\n"
        "[pod/api-1/app] 2026-02-17T14:10:03.500000000Z panic: boom\n"
        "[pod/api-1/app] goroutine 1 [running]:\n"
        "[pod/api-2/proxy] 2026-02-17T14:10:04.000000000Z 2026-02-17 09:10:04.001 [1] LOG x\n"
    )
    events = parse("kubectl-logs", text.encode(), ctx(namespace="shop")).events
    assert list(events["stream"]) == ["shop/api-1/app"] * 3 + ["shop/api-2/proxy"]
    assert list(events["severity"]) == ["error", "critical", "info", "info"]
    assert events["time"].iloc[2] == ts("2026-02-17T14:10:03.5Z")
    assert events["time_quality"].iloc[2] == "inferred"
    # the sidecar's naive local time is read as UTC (the default) and kept as embedded_time
    assert events["embedded_time"].iloc[3] == ts("2026-02-17T09:10:04.001Z")
    assert json.loads(events["labels"].iloc[3]) == {
        "container": "proxy",
        "namespace": "shop",
        "pod": "api-2",
    }


def test_plain_log_with_zone_option() -> None:
    data = (DATA / "java-logback.log").read_bytes()
    events = parse("log", data, ctx(timezone="Europe/Berlin")).events
    assert len(events) == 20
    assert events["time_raw"].iloc[0] == "2025-01-24T07:00:30,139"
    assert events["time"].iloc[0] == ts("2025-01-24T06:00:30.139Z")
    assert set(events["time_quality"]) == {"assumed_tz"}
    assert events["summary"].iloc[0].startswith("INFO [background-preinit")


def test_plain_log_first_iso_timestamp_anywhere() -> None:
    data = (DATA / "logfmt-grafana.log").read_bytes()
    events = parse("log", data, ctx()).events
    assert events["time"].iloc[0] == ts("2025-04-24T19:51:48.520963849Z")
    assert events["time_quality"].iloc[0] == "exact"


def test_garbage_never_vanishes() -> None:
    text = "no time here\n\x00\x01 binary\n2026-02-17T14:00:05Z ok\nstill none\n"
    events = parse("log", text.encode(), ctx()).events
    assert len(events) == 4
    assert list(events["time_quality"]) == ["inferred", "inferred", "exact", "inferred"]
    assert events["time"].iloc[0] == ts("2026-02-17T14:00:05Z")


def query_range(result: list[dict[str, object]], **extra: object) -> bytes:
    return json.dumps(
        {"status": "success", "data": {"resultType": "matrix", "result": result}, **extra}
    ).encode()


def test_prometheus_threshold_crossings_exact() -> None:
    start = 1771336800  # 2026-02-17T14:00:00Z
    values = [[start + 15 * i, v] for i, v in enumerate(["0.01", "0.073", "0.2", "0.04", "NaN"])]
    data = query_range(
        [{"metric": {"service": "checkout-api"}, "values": values}], warnings=["too many samples"]
    )
    parsed = parse("prometheus-query-range", data, ctx(threshold="> 0.05", label="5xx ratio"))
    events = parsed.events
    assert list(events["time"]) == [ts("2026-02-17T14:00:15Z"), ts("2026-02-17T14:00:45Z")]
    assert list(events["summary"]) == [
        "5xx ratio > 0.05 (0.073) for service=checkout-api",
        "5xx ratio back to 0.04, no longer > 0.05 for service=checkout-api",
    ]
    assert list(events["ref"]) == [
        "raw/file/x#/data/result/0/values/1",
        "raw/file/x#/data/result/0/values/3",
    ]
    assert len(parsed.metrics) == 5 and parsed.metrics["value"].isna().sum() == 1
    assert parsed.warnings == ["Prometheus warning: too many samples"]


def test_prometheus_alerts_history() -> None:
    start = 1771336800
    labels = {"__name__": "ALERTS", "alertname": "HighErrorRate", "service": "api"}
    pending = [[start + 15 * i, "1"] for i in range(2)]
    firing = [[start + 15 * i, "1"] for i in range(2, 5)]
    data = query_range(
        [
            {"metric": {**labels, "alertstate": "firing"}, "values": firing},
            {"metric": {**labels, "alertstate": "pending"}, "values": pending},
            {
                "metric": {"__name__": "ALERTS", "alertname": "Other", "alertstate": "firing"},
                "values": [[start + 15 * i, "1"] for i in range(8)],
            },
        ]
    )
    events = parse("prometheus-query-range", data, ctx()).events
    mine = events[events["summary"].str.startswith("HighErrorRate")]
    assert list(zip(mine["kind"], mine["time"], strict=False)) == [
        ("alert_pending", ts("2026-02-17T14:00:00Z")),
        ("alert_firing", ts("2026-02-17T14:00:30Z")),
        ("alert_resolved", ts("2026-02-17T14:01:15Z")),
    ]
    assert "alert_resolved" not in set(events[events["summary"].str.startswith("Other")]["kind"])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {
                "status": "error",
                "errorType": "bad_data",
                "error": "parse error: unclosed left parenthesis",
            },
            "a Prometheus error: bad_data: parse error: unclosed left parenthesis",
        ),
        (
            {"status": "success", "data": {"resultType": "vector", "result": []}},
            "resultType is 'vector', not 'matrix'",
        ),
        ({"hello": 1}, "not a Prometheus API response"),
    ],
)
def test_prometheus_bad_exports(body: dict[str, object], message: str) -> None:
    with pytest.raises(ExportFormatError, match=message):
        parse("prometheus-query-range", json.dumps(body).encode(), ctx())


def test_malformed_json_is_a_clear_error() -> None:
    with pytest.raises(ExportFormatError, match=r"not valid JSON: .*line 1 column"):
        parse("pagerduty-log-entries", b'{"log_entries": [', ctx())
    with pytest.raises(
        ExportFormatError, match="expected a JSON object with a 'log_entries' array"
    ):
        parse("pagerduty-log-entries", b'{"incidents": []}', ctx())


def test_pagerduty_log_entries() -> None:
    doc = {
        "log_entries": [
            {
                "id": "R1",
                "type": "acknowledge_log_entry",
                "summary": "Acknowledged by Alice Chen",
                "created_at": "2026-02-17T14:16:47Z",
                "agent": {"id": "PALICE1", "type": "user_reference", "summary": "Alice Chen"},
                "channel": {"type": "website"},
                "incident": {"id": "Q1", "type": "incident_reference"},
            },
            {
                "id": "R2",
                "type": "acknowledgement_log_entry",
                "summary": "Ack (spec spelling)",
                "created_at": "2026-02-17T14:16:48Z",
                "incident": {"id": "Q1"},
            },
            {
                "id": "R3",
                "type": "snooze_log_entry",
                "summary": "Snoozed",
                "created_at": "2026-02-17T14:17:00Z",
                "incident": {"id": "Q1"},
            },
        ],
        "limit": 100,
        "offset": 0,
        "more": False,
        "total": None,
    }
    data = json.dumps(doc).encode()
    assert detect_format(data).name == "pagerduty-log-entries"
    events = parse("pagerduty-log-entries", data, ctx()).events
    assert list(events["kind"]) == ["page_ack", "page_ack", "page_snooze"]
    first = events.iloc[0]
    assert (first["time"], first["actor"], first["source"], first["stream"]) == (
        ts("2026-02-17T14:16:47Z"),
        "Alice Chen",
        "pagerduty",
        "Q1",
    )
    assert first["ref"] == "raw/file/x#/log_entries/0"


def test_alertmanager_alerts_and_silences() -> None:
    alerts = [
        {
            "labels": {"alertname": "HighErrorRate", "service": "api"},
            "annotations": {},
            "startsAt": "2026-02-17T14:13:30.512Z",
            "endsAt": "2026-02-17T14:24:59.8Z",
            "updatedAt": "2026-02-17T14:19:59.8Z",
            "fingerprint": "0123456789abcdef",
            "receivers": [{"name": "pd"}],
            "generatorURL": "http://p",
            "status": {"state": "suppressed", "silencedBy": ["s-1"], "inhibitedBy": []},
        }
    ]
    silences = [
        {
            "id": "s-1",
            "status": {"state": "active"},
            "comment": "rollback | in `progress`",
            "createdBy": "alice.chen",
            "startsAt": "2026-02-17T14:18:05.22Z",
            "endsAt": "2026-02-17T16:18:05.22Z",
            "updatedAt": "2026-02-17T14:18:05.22Z",
            "matchers": [
                {"name": "alertname", "value": "HighErrorRate", "isRegex": False, "isEqual": True}
            ],
        }
    ]
    a = parse(detect_format(json.dumps(alerts).encode()).name, json.dumps(alerts).encode(), ctx())
    assert a.events["summary"].iloc[0] == ("HighErrorRate firing (service=api) [suppressed by s-1]")
    assert a.events["time"].iloc[0] == ts("2026-02-17T14:13:30.512Z")
    fmt = detect_format(json.dumps(silences).encode()).name
    s = parse(fmt, json.dumps(silences).encode(), ctx()).events.iloc[0]
    assert (fmt, s["kind"], s["actor"], s["message"]) == (
        "amtool-silences",
        "silence",
        "alice.chen",
        "rollback | in `progress`",
    )


def test_webhook_log_receipt_time_and_inferred() -> None:
    payload = {
        "version": "4",
        "status": "firing",
        "receiver": "pd",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "A"},
                "startsAt": "2026-02-17T14:13:30.512Z",
                "endsAt": "0001-01-01T00:00:00Z",
            }
        ],
    }
    text = (
        json.dumps({"time": "2026-02-17T14:13:31.2Z", "payload": payload})
        + "\n"
        + json.dumps(payload)
        + "\n"
    )
    events = parse("alertmanager-webhook", text.encode(), ctx()).events
    assert list(events["time"]) == [ts("2026-02-17T14:13:31.2Z"), ts("2026-02-17T14:13:30.512Z")]
    assert list(events["time_quality"]) == ["exact", "inferred"]
    assert events["embedded_time"].iloc[0] == ts("2026-02-17T14:13:30.512Z")
    assert events["summary"].iloc[0] == "Alertmanager notified pd: [FIRING:1] A"
    # Issue 8: one bad line costs that line only; it is kept as an unparsed event.
    mixed = parse("alertmanager-webhook", (text.splitlines()[0] + "\n{oops").encode(), ctx())
    assert list(mixed.events["kind"]) == ["alert_notify", "unparsed"]
    assert mixed.events["message"].iloc[1] == "{oops"
    assert mixed.events["summary"].iloc[1].startswith("unparsed line 2: not valid JSON")
    assert mixed.counts == {"notifications": 1, "unparsed": 1}
    with pytest.raises(ExportFormatError, match="no line is an Alertmanager webhook payload"):
        parse("alertmanager-webhook", b"{oops\n", ctx())


def test_kubectl_events_rollout_is_a_deploy() -> None:
    doc = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {
                "kind": "Event",
                "metadata": {"name": "e1", "namespace": "checkout"},
                "involvedObject": {
                    "kind": "Deployment",
                    "name": "checkout-api",
                    "namespace": "checkout",
                },
                "reason": "ScalingReplicaSet",
                "message": "Scaled up replica set checkout-api-6d to 1",
                "source": {"component": "deployment-controller"},
                "firstTimestamp": "2026-02-17T14:02:10Z",
                "lastTimestamp": "2026-02-17T14:02:10Z",
                "count": 1,
                "type": "Normal",
                "eventTime": None,
            },
            {
                "kind": "Event",
                "metadata": {"name": "e2", "namespace": "checkout"},
                "involvedObject": {"kind": "Pod", "name": "p1", "namespace": "checkout"},
                "reason": "Unhealthy",
                "message": "Readiness probe failed",
                "type": "Warning",
                "source": {"component": "kubelet", "host": "node-b"},
                "count": 4,
                "firstTimestamp": "2026-02-17T14:11:00Z",
                "lastTimestamp": "2026-02-17T14:12:30Z",
            },
        ],
    }
    events = parse("kubectl-events", json.dumps(doc).encode(), ctx()).events
    assert list(events["kind"]) == ["deploy", "k8s_event"]
    assert list(events["severity"]) == ["info", "warning"]
    assert events["summary"].iloc[1] == (
        "Pod p1: Unhealthy: Readiness probe failed (×4, last 2026-02-17T14:12:30Z)"
    )
    assert events["stream"].iloc[1] == "checkout/pod/p1"
    assert json.loads(events["labels"].iloc[1])["node"] == "node-b"


@pytest.mark.parametrize(
    "unit",
    ["😀".encode(), b"\xff", b"\xf0\x9f\x98", "é€".encode() + b"\xe2\x82a", b"a\xed\xa0\x80"],
)
def test_the_sample_head_is_the_whole_texts_head(unit: bytes) -> None:
    # Detection decodes only the bytes that can hold the head, not the whole file: the same
    # characters, also when 4-byte characters or undecodable runs straddle where it cuts.
    data = unit * (5 * SAMPLE_BYTES // len(unit) + 1)
    for size in (SAMPLE_BYTES, 4 * SAMPLE_BYTES + 1, 4 * SAMPLE_BYTES + 4, len(data)):
        whole = data[:size].decode("utf-8", errors="replace")
        assert Sample(data[:size]).head == whole[:SAMPLE_BYTES]
        assert len(Sample(data[:size]).head) == min(len(whole), SAMPLE_BYTES)


def test_unknown_json_falls_back_to_the_plain_log_reader() -> None:
    # Issue 8 item 6: detection never fails; what no format claims is read line by line.
    assert detect_format(b'{"foo": 1}').name == "log"
    assert detect_format(b"[worker-3] connection reset\n[worker-4] retry\n").name == "log"
    assert detect_format(b'{"level": "info", "msg": "started"}\n{"msg": "x"}\n').name == "log"
