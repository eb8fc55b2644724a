"""The fields the PagerDuty formats read, typed as PagerDuty's REST API v2 OpenAPI document
declares them (``LogEntry`` and its kinds, ``Note``, ``Alert``; references such as ``agent``,
``incident`` and ``service`` are objects with ``id``, ``type`` and ``summary``). See
`collector.shapes`; a test holds each field to the OpenAPI document."""

from __future__ import annotations

from incident_timeline.collector.shapes import OBJECT, STRING, ArrayOf, Spec

REFERENCE: Spec = {"id": STRING, "type": STRING, "summary": STRING}
LOG_ENTRY: Spec = {
    "id": STRING,
    "type": STRING,
    "summary": STRING,
    "created_at": STRING,
    "incident": REFERENCE,
    "service": REFERENCE,
    "agent": REFERENCE,
    "user": REFERENCE,
    "channel": {"type": STRING, "summary": STRING, "notification": OBJECT},
    "assignees": ArrayOf(REFERENCE),
    "changed_actions": ArrayOf({"type": STRING, "at": STRING}),
}
NOTE: Spec = {"id": STRING, "content": STRING, "created_at": STRING, "user": REFERENCE}
ALERT: Spec = {
    "id": STRING,
    "summary": STRING,
    "alert_key": STRING,
    "status": STRING,
    "severity": STRING,
    "created_at": STRING,
    "incident": REFERENCE,
    "service": REFERENCE,
    "integration": REFERENCE,
    "body": OBJECT,
}
