"""PagerDuty's formats, shared by the live collector and the ``[[file]]`` import:
``GET /incidents/{id}/log_entries`` (or ``/log_entries``) and ``GET /incidents/{id}/notes``."""

from __future__ import annotations

import json
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

_PD_KINDS = {
    "trigger": ("page_trigger", "error"),
    "notify": ("page_notify", "info"),
    "acknowledge": ("page_ack", "info"),
    "acknowledgement": ("page_ack", "info"),
    "unacknowledge": ("page_unack", "warning"),
    "escalate": ("page_escalate", "warning"),
    "assign": ("page_assign", "info"),
    "delegate": ("page_assign", "info"),
    "resolve": ("page_resolve", "info"),
    "annotate": ("note", "info"),
    "snooze": ("page_snooze", "info"),
}


def parse_pagerduty_log_entries(data: Any, ctx: Context) -> Parsed:
    """PagerDuty ``/incidents/{id}/log_entries`` or ``/log_entries`` JSON."""
    items = objects(
        expect_list(data, "log_entries", "PagerDuty log entries"), "PagerDuty log entries"
    )
    rows = []
    for i, entry in enumerate(items):
        short = str(entry.get("type", "")).removesuffix("_log_entry")
        kind, severity = _PD_KINDS.get(short, (f"page_{short or 'event'}", "info"))
        incident = entry.get("incident") or {}
        channel = entry.get("channel") or {}
        summary = entry.get("summary") or short
        if short == "annotate" and channel.get("summary"):
            summary += f": {channel['summary']}"
        rows.append(
            row(
                ctx,
                time_raw=entry.get("created_at"),
                source="pagerduty",
                kind=kind,
                severity=severity,
                actor=(entry.get("agent") or {}).get("summary"),
                stream=incident.get("id") or ctx.stream,
                summary=summary,
                pointer=f"/log_entries/{i}",
                message=json.dumps(entry, sort_keys=True),
                labels={
                    "incident": incident.get("id"),
                    "incident_title": incident.get("summary"),
                    "service": (entry.get("service") or {}).get("summary"),
                    "channel": channel.get("type"),
                    "log_entry": entry.get("id"),
                    "user": (entry.get("user") or {}).get("summary"),
                },
            )
        )
    return Parsed(rows_to_events(rows, ctx), None, {"log_entries": len(rows)})


def parse_pagerduty_notes(data: Any, ctx: Context) -> Parsed:
    """PagerDuty ``/incidents/{id}/notes`` JSON; the incident id is the stream (from config)."""
    items = objects(expect_list(data, "notes", "PagerDuty notes"), "PagerDuty notes")
    rows = []
    for i, note in enumerate(items):
        who = (note.get("user") or {}).get("summary")
        content = note.get("content") or ""
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
                labels={"note": note.get("id")},
            )
        )
    return Parsed(rows_to_events(rows, ctx), None, {"notes": len(rows)})


def _has_list(key: str) -> Any:
    def detect(sample: Sample) -> bool:
        document = sample.document
        return isinstance(document, dict) and isinstance(document.get(key), list)

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
    ),
    Format(
        name="pagerduty-notes",
        parse=json_parser(parse_pagerduty_notes),
        detect=_has_list("notes"),
        layout="json",
        priority=30,
        source="pagerduty",
        description="GET /incidents/{id}/notes",
    ),
)
