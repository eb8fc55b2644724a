"""PagerDuty alerts (``GET /incidents/{id}/alerts``) as ``page_alert`` events, labelled so the
same alert can be found in Alertmanager's and Prometheus' events.

Alertmanager's PagerDuty notifier sends ``dedup_key = sha256_hex(group key)``
(prometheus/alertmanager notify/pagerduty/pagerduty.go: ``DedupKey: key.Hash()``), and PagerDuty
keeps it as the alert's ``alert_key``; the webhook payload carries the same ``groupKey``, so the
``dedup_key`` label matches the ``alertmanager`` collector's webhook events. Its default
``details.firing`` is the ``pagerduty.default.instances`` template: per alert a ``Labels:`` block
of `` - name = value`` lines; from those labels the alert's fingerprint (FNV-1a, as Alertmanager
and Prometheus ``ALERTS`` compute it) is rebuilt. Custom details or templates give no
fingerprint, and then only ``alert_key`` is labelled: nothing is guessed.
"""

from __future__ import annotations

import json
import re
from typing import Any

from incident_timeline.collector.formats import (
    Context,
    Parsed,
    expect_list,
    objects,
    row,
    rows_to_events,
)
from incident_timeline.collector.prometheus.queryrange import fingerprint
from incident_timeline.timeline.schema import EventRow

_PAIR = re.compile(r"^ - (?P<name>[a-zA-Z_][a-zA-Z0-9_]*) = (?P<value>.*)$")
_SEVERITY = {"critical": "critical", "error": "error", "warning": "warning", "info": "info"}


def alertmanager_labels(details: Any) -> list[dict[str, str]]:
    """The label sets in Alertmanager's default ``firing`` detail (one per alert), else []."""
    text = details.get("firing") if isinstance(details, dict) else None
    if not isinstance(text, str):
        return []
    found: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for line in text.splitlines():
        if line == "Labels:":
            current = {}
            found.append(current)
        elif line in ("Annotations:",) or line.startswith("Source:"):
            current = None
        elif current is not None and (match := _PAIR.match(line)):
            current[match["name"]] = match["value"]
    return [labels for labels in found if labels]


def parse_pagerduty_alerts(data: Any, ctx: Context) -> Parsed:
    """PagerDuty ``/incidents/{id}/alerts`` JSON (one page) as ``page_alert`` events."""
    items = objects(expect_list(data, "alerts", "PagerDuty alerts"), "PagerDuty alerts")
    rows = [_alert_row(alert, i, ctx) for i, alert in enumerate(items)]
    return Parsed(rows_to_events(rows, ctx), None, {"alerts": len(rows)})


def _alert_row(alert: dict[str, Any], i: int, ctx: Context) -> EventRow:
    body = _obj(alert.get("body"))
    details = body.get("details")
    label_sets = alertmanager_labels(details)
    prints = sorted({fingerprint(labels) for labels in label_sets})
    names = sorted({labels.get("alertname", "") for labels in label_sets} - {""})
    incident = _obj(alert.get("incident"))
    summary = str(alert.get("summary") or alert.get("alert_key") or "PagerDuty alert")
    return row(
        ctx,
        time_raw=alert.get("created_at"),
        source="pagerduty",
        kind="page_alert",
        severity=_SEVERITY.get(str(alert.get("severity")), "warning"),
        actor=_obj(alert.get("integration")).get("summary"),
        stream=incident.get("id") or ctx.stream,
        summary=f"Alert: {summary}",
        message=json.dumps(alert, sort_keys=True, ensure_ascii=False),
        pointer=f"/alerts/{i}",
        labels={
            "incident": incident.get("id"),
            "alert": alert.get("id"),
            "alert_key": alert.get("alert_key"),
            "dedup_key": alert.get("alert_key"),
            "status": alert.get("status"),
            "service": _obj(alert.get("service")).get("summary"),
            "alertname": ",".join(names) or None,
            "fingerprint": prints[0] if len(prints) == 1 else None,
            "fingerprints": ",".join(prints) if len(prints) > 1 else None,
            "details": json.dumps(details, sort_keys=True, ensure_ascii=False)
            if details is not None
            else None,
        },
    )


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
