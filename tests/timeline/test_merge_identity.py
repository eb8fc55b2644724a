"""Issue 8, item 9: a record seen twice (two sources, two exports, its state moved on in
between) is one event by its identity: silence id, alert fingerprint + startsAt, PagerDuty log
entry id (and PagerDuty alert id); records that only share a fingerprint stay apart."""

from __future__ import annotations

import json

import pandas as pd

from incident_timeline.collector.alertmanager.formats import parse_am_alerts, parse_webhook_log
from incident_timeline.collector.formats import Context
from incident_timeline.collector.pagerduty.alerts import parse_pagerduty_alerts
from incident_timeline.collector.pagerduty.formats import parse_pagerduty_log_entries
from incident_timeline.timeline.merge import deduplicate, merge_events

LABELS = {"alertname": "HighErrorRate", "service": "checkout", "severity": "page"}
PRINT = "3a75c0f1e2d4b6a8"


def ctx(ref: str) -> Context:
    return Context(ref=ref, stream=ref.rsplit("/", 1)[-1])


def unique(*frames: pd.DataFrame) -> list[str]:
    return deduplicate(merge_events(frames))["ref"].tolist()


def alert(state: str, starts: str = "2026-02-17T14:02:00Z") -> dict[str, object]:
    return {
        "labels": LABELS,
        "fingerprint": PRINT,
        "startsAt": starts,
        "endsAt": "2026-02-17T15:02:00Z",
        "status": {"state": state, "silencedBy": [], "inhibitedBy": []},
        "receivers": [{"name": "pagerduty"}],
    }


def test_one_alert_by_fingerprint_and_start_across_the_api_and_amtool() -> None:
    live = parse_am_alerts([alert("active")], ctx("raw/alertmanager/api/alerts.json")).events
    amtool = parse_am_alerts([alert("suppressed")], ctx("raw/file/amtool-alerts.json")).events
    assert unique(live, amtool) == ["raw/alertmanager/api/alerts.json#/0"]
    # the same labels firing again later are a new alert
    again = parse_am_alerts(
        [alert("active", "2026-02-17T14:40:00Z")], ctx("raw/file/later.json")
    ).events
    assert len(unique(live, amtool, again)) == 2


def test_one_log_entry_by_id_across_the_api_and_an_export() -> None:
    entry = {
        "id": "R3D7",
        "type": "trigger_log_entry",
        "created_at": "2026-02-17T14:03:00Z",
        "summary": "Triggered through the API",
        "incident": {"id": "Q1", "summary": "checkout errors"},
    }
    live = parse_pagerduty_log_entries({"log_entries": [entry]}, ctx("raw/pagerduty/le.json"))
    renamed = {**entry, "incident": {"id": "Q1", "summary": "checkout errors (renamed)"}}
    export = parse_pagerduty_log_entries({"log_entries": [renamed]}, ctx("raw/file/pd.json"))
    assert len(unique(live.events, export.events)) == 1
    other = parse_pagerduty_log_entries(
        {"log_entries": [{**entry, "id": "R3D8"}]}, ctx("raw/file/pd2.json")
    )
    assert len(unique(live.events, other.events)) == 2


def notification(receiver: str) -> str:
    payload = {
        "version": "4",
        "status": "firing",
        "receiver": receiver,
        "groupKey": '{}:{alertname="HighErrorRate"}',
        "commonLabels": LABELS,
        "alerts": [{"labels": LABELS, "fingerprint": PRINT, "startsAt": "2026-02-17T14:02:00Z"}],
    }
    return json.dumps({"time": "2026-02-17T14:02:30Z", "payload": payload})


def test_notifications_and_pagerduty_alerts_sharing_a_fingerprint_stay_apart() -> None:
    # Alertmanager notifies every receiver with the same alert, at the same moment.
    slack = parse_webhook_log(notification("slack") + "\n", ctx("raw/file/slack-hook.log"))
    pager = parse_webhook_log(notification("pagerduty") + "\n", ctx("raw/file/pd-hook.log"))
    assert len(unique(slack.events, pager.events)) == 2
    # ... and two PagerDuty integrations give two PagerDuty alerts for that one alert.
    body = {"details": {"firing": f"Labels:\n - alertname = {LABELS['alertname']}\n"}}

    def pd_alert(alert_id: str, status: str) -> dict[str, object]:
        return {
            "id": alert_id,
            "alert_key": "k",
            "status": status,
            "created_at": "2026-02-17T14:02:31Z",
            "incident": {"id": "Q1"},
            "body": body,
        }

    two = parse_pagerduty_alerts(
        {"alerts": [pd_alert("PA1", "triggered"), pd_alert("PA2", "triggered")]},
        ctx("raw/pagerduty/alerts.json"),
    )
    later = parse_pagerduty_alerts(
        {"alerts": [pd_alert("PA1", "resolved")]}, ctx("raw/file/alerts.json")
    )
    kept = deduplicate(merge_events([two.events, later.events]))
    assert sorted(json.loads(labels)["alert"] for labels in kept["labels"]) == ["PA1", "PA2"]
