"""The alertmanager collector against a fake Alertmanager API v2 (httpx.MockTransport; the real
server is in tests/integration), answering in the shapes Alertmanager 0.25 was seen to use."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from incident_timeline.collector.alertmanager.collector import REMOVED, AlertmanagerCollector
from incident_timeline.collector.bundle import read_manifest
from incident_timeline.collector.config import load_config
from incident_timeline.collector.http import RetryPolicy
from incident_timeline.collector.prometheus.queryrange import fingerprint
from incident_timeline.timeline.window import Window
from tests.support import events_of, run_collector, warning_messages

T0 = datetime(2026, 2, 17, 14, tzinfo=UTC)
WINDOW = Window(T0, T0 + timedelta(hours=1))
NOW = T0 + timedelta(minutes=50)
LABELS = {"alertname": "HighErrorRate", "service": "checkout-api", "severity": "page"}
FP = fingerprint(LABELS)
SILENCE_ID = "b67feecd-df49-407c-bcda-2d8431df327e"


def alert(labels: dict[str, str], starts: str, ends: str) -> dict[str, Any]:
    return {
        "annotations": {"summary": "5xx ratio above 5 %"},
        "endsAt": ends,
        "fingerprint": fingerprint(labels),
        "receivers": [{"name": "pagerduty-checkout"}],
        "startsAt": starts,
        "generatorURL": "http://prometheus:9090/graph?g0.expr=x",
        "status": {"inhibitedBy": [], "silencedBy": [SILENCE_ID], "state": "suppressed"},
        "updatedAt": "2026-02-17T14:49:58.001Z",
        "labels": labels,
    }


def silence(sid: str, by: str, starts: str, ends: str, comment: str) -> dict[str, Any]:
    return {
        "id": sid,
        "status": {"state": "active"},
        "updatedAt": starts,
        "comment": comment,
        "createdBy": by,
        "endsAt": ends,
        "startsAt": starts,
        "matchers": [
            {"isEqual": True, "isRegex": False, "name": "alertname", "value": "HighErrorRate"}
        ],
    }


class FakeAlertmanager:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.alerts = [
            alert(LABELS, "2026-02-17T14:12:00.000Z", "2026-02-17T14:54:58.001Z"),
            alert({"alertname": "Old"}, "2026-02-16T09:00:00Z", "2026-02-16T09:05:00Z"),
        ]
        self.silences = [
            silence(
                SILENCE_ID,
                "alice",
                "2026-02-17T14:14:30.250Z",
                "2026-02-17T16:14:30.250Z",
                "rolling back v2.3.4",
            ),
            silence("old", "bob", "2026-02-16T09:00:00Z", "2026-02-16T10:00:00Z", "done"),
            silence("long", "carol", "2026-02-17T08:00:00Z", "2026-02-18T08:00:00Z", "maint"),
        ]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/api/v2/alerts":
            return httpx.Response(200, json=self.alerts)
        if request.url.path == "/api/v2/silences":
            return httpx.Response(200, json=self.silences)
        if request.url.path == "/api/v2/status":
            return httpx.Response(
                200,
                json={
                    "cluster": {"peers": [], "status": "disabled"},
                    "config": {"original": "receivers:\n- url: http://hook/?token=s3cret\n"},
                    "uptime": "2026-02-17T09:00:00Z",
                    "versionInfo": {"version": "0.25.0"},
                },
            )
        return httpx.Response(404, text="404 page not found")


def webhook_line(status: str, received: str) -> str:
    ends = "0001-01-01T00:00:00Z" if status == "firing" else "2026-02-17T14:31:00Z"
    payload = {
        "version": "4",
        "status": status,
        "receiver": "pagerduty-checkout",
        "groupKey": '{}:{alertname="HighErrorRate"}',
        "truncatedAlerts": 0,
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": LABELS,
        "commonAnnotations": {},
        "externalURL": "http://am:9093",
        "alerts": [
            {
                "status": status,
                "labels": LABELS,
                "annotations": {},
                "startsAt": "2026-02-17T14:12:00Z",
                "endsAt": ends,
                "generatorURL": "",
                "fingerprint": FP,
            }
        ],
    }
    return json.dumps({"time": received, "payload": payload}) + "\n"


def am_collector(tmp_path: Path, handler: Any, extra: str = "") -> AlertmanagerCollector:
    path = tmp_path / "config.toml"
    path.write_text(f'[alertmanager]\nurl = "http://am.test:9093"\n{extra}')
    built = load_config(path).sources["alertmanager"]
    return AlertmanagerCollector(
        built.settings,
        tmp_path,
        transport=httpx.MockTransport(handler),
        env={},
        policy=RetryPolicy(retries=1, sleep=lambda s: None),
    )


def run(tmp_path: Path, am: AlertmanagerCollector) -> tuple[Path, Any]:
    return run_collector(tmp_path, "alertmanager", am, WINDOW.since, WINDOW.until, NOW)


def test_alerts_and_silences_overlapping_the_window(tmp_path: Path) -> None:
    fake = FakeAlertmanager()
    out, outcome = run(tmp_path, am_collector(tmp_path, fake))
    assert outcome.status == "ok"
    assert (outcome.counts["alerts"], outcome.counts["silences"]) == (1, 2)
    events = events_of(out)
    assert list(events["kind"]) == ["silence", "alert_firing", "silence"]
    firing = events.iloc[1]
    assert firing["time"] == pd.Timestamp("2026-02-17T14:12:00Z")
    assert firing["summary"] == (
        f"HighErrorRate firing (service=checkout-api, severity=page) [suppressed by {SILENCE_ID}]"
    )
    assert json.loads(firing["labels"]) == {
        **LABELS,
        "fingerprint": "c5962100eddb5f40",
        "state": "suppressed",
        "receivers": "pagerduty-checkout",
        "ends_at": "2026-02-17T14:54:58.001Z",
        "updated_at": "2026-02-17T14:49:58.001Z",
        "generator_url": "http://prometheus:9090/graph?g0.expr=x",
    }
    assert firing["ref"] == "raw/alertmanager/api/alerts.json#/0"
    ours = events.iloc[2]
    assert (ours["time"], ours["actor"], ours["message"]) == (
        pd.Timestamp("2026-02-17T14:14:30.25Z"),
        "alice",
        "rolling back v2.3.4",
    )
    assert ours["ref"] == "raw/alertmanager/api/silences.json#/0"
    assert events.iloc[0]["actor"] == "carol"  # began before the window, still overlaps it
    request = next(r for r in fake.requests if r.url.path == "/api/v2/alerts")
    assert dict(request.url.params) == {
        "active": "true",
        "silenced": "true",
        "inhibited": "true",
        "unprocessed": "true",
    }


def test_status_is_kept_without_receiver_secrets(tmp_path: Path) -> None:
    out, _ = run(tmp_path, am_collector(tmp_path, FakeAlertmanager()))
    status = json.loads((out / "raw/alertmanager/api/status.json").read_text())
    assert status["config"] == {"original": REMOVED}
    assert status["versionInfo"] == {"version": "0.25.0"}
    assert not [p for p in out.rglob("*") if p.is_file() and b"s3cret" in p.read_bytes()]
    raw = json.loads((out / "raw/alertmanager/api/alerts.json").read_text())
    assert raw == FakeAlertmanager().alerts  # as received


def test_webhook_log_is_notification_history(tmp_path: Path) -> None:
    log = tmp_path / "exports" / "webhook.jsonl"
    log.parent.mkdir()
    log.write_text(
        webhook_line("firing", "2026-02-17T14:12:31.5Z")
        + webhook_line("resolved", "2026-02-17T14:31:04Z")
        + webhook_line("resolved", "2026-02-17T16:00:00Z")
    )
    am = am_collector(tmp_path, FakeAlertmanager(), 'webhook_log = "exports/webhook.jsonl"\n')
    out, outcome = run(tmp_path, am)
    assert (outcome.counts["notifications"], outcome.counts["outside_window"]) == (2, 1)
    notes = events_of(out).query("kind == 'alert_notify'").reset_index(drop=True)
    assert list(notes["time"]) == [
        pd.Timestamp("2026-02-17T14:12:31.5Z"),
        pd.Timestamp("2026-02-17T14:31:04Z"),
    ]
    assert list(notes["embedded_time"]) == [
        pd.Timestamp("2026-02-17T14:12:00Z"),
        pd.Timestamp("2026-02-17T14:31:00Z"),
    ]
    assert list(notes["summary"]) == [
        "Alertmanager notified pagerduty-checkout: [FIRING:1] HighErrorRate",
        "Alertmanager notified pagerduty-checkout: [RESOLVED:1] HighErrorRate",
    ]
    labels = json.loads(notes["labels"][0])
    assert (labels["receiver"], labels["fingerprint"]) == ("pagerduty-checkout", FP)
    assert list(notes["ref"]) == [
        "raw/alertmanager/webhook/webhook.jsonl#L1",
        "raw/alertmanager/webhook/webhook.jsonl#L2",
    ]
    assert (out / "raw/alertmanager/webhook/webhook.jsonl").read_bytes() == log.read_bytes()


def test_unreachable_server_keeps_the_webhook_log(tmp_path: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    (tmp_path / "hook.jsonl").write_text(webhook_line("firing", "2026-02-17T14:12:31Z"))
    out, outcome = run(tmp_path, am_collector(tmp_path, refuse, 'webhook_log = "hook.jsonl"\n'))
    assert outcome.status == "partial"
    assert outcome.error == (
        "alertmanager: cannot reach http://am.test:9093: ConnectError: connection refused"
    )
    assert len(events_of(out)) == 1
    out2, outcome2 = run(tmp_path / "x", am_collector(tmp_path, refuse))
    assert outcome2.status == "failed"
    assert read_manifest(out2)["sources"]["alertmanager"]["status"] == "failed"


def test_api_errors_and_a_missing_log_are_recorded(tmp_path: Path) -> None:
    fake = FakeAlertmanager()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v2/silences":
            return httpx.Response(400, json="bad matcher format: x{")
        return fake(request)

    am = am_collector(tmp_path, handler, 'webhook_log = "missing.jsonl"\n')
    out, outcome = run(tmp_path, am)
    assert outcome.status == "partial"
    warnings = warning_messages(read_manifest(out), "alertmanager")
    assert warnings == [
        (f"webhook_log {tmp_path / 'missing.jsonl'}: cannot read: No such file or directory"),
        "/api/v2/silences: HTTP 400: bad matcher format: x{",
    ]
    assert list(events_of(out)["kind"]) == ["alert_firing"]
