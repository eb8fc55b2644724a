"""PagerDuty's formats, shared by the live collector and the ``[[file]]`` import:
``GET /incidents/{id}/log_entries`` (or ``/log_entries``), ``GET /incidents/{id}/notes`` and
``GET /incidents/{id}/alerts``.

Log entry types all end in ``_log_entry`` (REST API v2 LogEntry.type); the spec's
AcknowledgeLogEntry says ``acknowledgement_log_entry`` in one place, so both spellings are an
acknowledgement. A type this module does not know is kept as a generic ``page_event`` with its
type in the labels, never dropped. The agent (a user, or the service or integration for system
entries) is the actor; who was notified, by which channel, the escalation level and the
assignees are labels, so a timeline can say who was paged how and when.
"""

from __future__ import annotations

import json
import re
from typing import Any

from incident_timeline.collector.formats import (
    Context,
    Format,
    Parsed,
    Sample,
    expect_list,
    json_parser,
    objects,
    row,
    rows_to_events,
)
from incident_timeline.collector.pagerduty import shapes
from incident_timeline.collector.pagerduty.alerts import parse_pagerduty_alerts
from incident_timeline.timeline.schema import EventRow

KINDS = {
    "trigger": ("page_trigger", "error"),
    "notify": ("page_notify", "info"),
    "acknowledge": ("page_ack", "info"),
    "acknowledgement": ("page_ack", "info"),
    "unacknowledge": ("page_unack", "warning"),
    "escalate": ("page_escalate", "warning"),
    "assign": ("page_assign", "info"),
    "delegate": ("page_delegate", "info"),
    "resolve": ("page_resolve", "info"),
    "annotate": ("note", "info"),
    "snooze": ("page_snooze", "info"),
    "urgency_change": ("page_urgency", "info"),
    "exhaust_escalation_path": ("page_escalation_exhausted", "warning"),
    "repeat_escalation_path": ("page_escalation_repeated", "warning"),
    "reach_ack_limit": ("page_ack_limit", "warning"),
    "reach_trigger_limit": ("page_trigger_limit", "warning"),
    "field_value_change": ("page_field_change", "info"),
    "custom_field_value_change": ("page_field_change", "info"),
}
_LEVEL = re.compile(r"\blevel (\d+)\b", re.IGNORECASE)
INCOMPLETE = (
    'the page says "more": true: the export is incomplete; export every page '
    "(offset += limit until more is false) or collect with [pagerduty]"
)


def parse_pagerduty_log_entries(data: Any, ctx: Context) -> Parsed:
    """PagerDuty ``/incidents/{id}/log_entries`` or ``/log_entries`` JSON (one page)."""
    items = objects(
        expect_list(data, "log_entries", "PagerDuty log entries"), "PagerDuty log entries"
    )
    rows = [log_entry_row(entry, f"/log_entries/{i}", ctx) for i, entry in enumerate(items)]
    parsed = Parsed(rows_to_events(rows, ctx), None, {"log_entries": len(rows)})
    if data.get("more") is True:
        parsed.warnings.append(INCOMPLETE)
        parsed.incomplete = True
    return parsed


def log_entry_row(entry: dict[str, Any], pointer: str, ctx: Context) -> EventRow:
    """One log entry as an event row (``pointer`` is its place in the raw document)."""
    entry_type = str(entry.get("type") or "")
    short = entry_type.removesuffix("_log_entry")
    kind, severity = KINDS.get(short, ("page_event", "info"))
    incident = _obj(entry.get("incident"))
    channel = _obj(entry.get("channel"))
    summary = str(entry.get("summary") or short or "PagerDuty log entry")
    labels: dict[str, Any] = {
        "incident": incident.get("id"),
        "incident_title": incident.get("summary"),
        "service": _obj(entry.get("service")).get("summary"),
        "channel": channel.get("type"),
        "log_entry": entry.get("id"),
        "log_entry_type": entry_type if kind == "page_event" else None,
        "agent_type": _obj(entry.get("agent")).get("type"),
    }
    labels.update(_details(short, entry, channel))
    if short == "annotate" and labels.get("note"):
        summary += f": {labels['note']}"
    return row(
        ctx,
        time_raw=entry.get("created_at"),
        source="pagerduty",
        kind=kind,
        severity=severity,
        actor=_obj(entry.get("agent")).get("summary"),
        stream=incident.get("id") or ctx.stream,
        summary=summary,
        pointer=pointer,
        message=json.dumps(entry, sort_keys=True, ensure_ascii=False),
        labels=labels,
    )


def _details(short: str, entry: dict[str, Any], channel: dict[str, Any]) -> dict[str, Any]:
    """The labels one type of entry adds: who was notified how, level, assignees, note."""
    notification = _obj(channel.get("notification"))
    if short == "notify":
        who = _obj(entry.get("user")) or _obj(notification.get("user"))
        method = str(notification.get("type") or "").removesuffix("_notification")
        return {
            "user": who.get("summary"),
            "user_id": who.get("id"),
            "notify_channel": method or channel.get("type"),
            "notify_status": notification.get("status"),
        }
    labels: dict[str, Any] = {}
    assignees = [_obj(a).get("summary") for a in entry.get("assignees") or []]
    if assignees:
        labels["assignees"] = ", ".join(str(a) for a in assignees if a)
    if short == "escalate":
        # Not a field of EscalateLogEntry in the spec; the summary says "... level 2 ...".
        level = entry.get("escalation_level")
        match = _LEVEL.search(str(entry.get("summary") or ""))
        labels["escalation_level"] = level if level is not None else (match and match.group(1))
    if short == "annotate":
        labels["note"] = channel.get("summary") or entry.get("note")
    if short == "snooze":
        unack = [
            _obj(a).get("at")
            for a in entry.get("changed_actions") or []
            if _obj(a).get("type") == "unacknowledge"
        ]
        labels["snoozed_until"] = unack[0] if unack else None
    return labels


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def parse_pagerduty_notes(data: Any, ctx: Context) -> Parsed:
    """PagerDuty ``/incidents/{id}/notes`` JSON; the incident id is the stream (from config)."""
    items = objects(expect_list(data, "notes", "PagerDuty notes"), "PagerDuty notes")
    rows: list[EventRow] = []
    for i, note in enumerate(items):
        who = _obj(note.get("user")).get("summary")
        content = str(note.get("content") or "")
        rows.append(
            row(
                ctx,
                time_raw=note.get("created_at"),
                source="pagerduty",
                kind="note",
                actor=who,
                summary=f"Note by {who}: {content}",
                message=content,
                pointer=f"/notes/{i}",
                labels={"note": note.get("id"), "incident": ctx.stream},
            )
        )
    return Parsed(rows_to_events(rows, ctx), None, {"notes": len(rows)})


def _has_list(key: str, marker: str | None = None) -> Any:
    def detect(sample: Sample) -> bool:
        document = sample.document
        if not (isinstance(document, dict) and isinstance(document.get(key), list)):
            return False
        items = document[key]
        return marker is None or (bool(items) and isinstance(items[0], dict) and marker in items[0])

    return detect


FORMATS = (
    Format(
        name="pagerduty-log-entries",
        parse=json_parser(parse_pagerduty_log_entries),
        detect=_has_list("log_entries"),
        layout="json",
        priority=20,
        source="pagerduty",
        description="GET /incidents/{id}/log_entries",
        shape=shapes.LOG_ENTRY,
    ),
    Format(
        name="pagerduty-notes",
        parse=json_parser(parse_pagerduty_notes),
        detect=_has_list("notes"),
        layout="json",
        priority=30,
        source="pagerduty",
        description="GET /incidents/{id}/notes",
        shape=shapes.NOTE,
    ),
    Format(
        name="pagerduty-alerts",
        parse=json_parser(parse_pagerduty_alerts),
        detect=_has_list("alerts", "alert_key"),
        layout="json",
        priority=30,
        source="pagerduty",
        description="GET /incidents/{id}/alerts",
        shape=shapes.ALERT,
    ),
)
