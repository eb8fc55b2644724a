"""Alertmanager's formats, shared by the live collector and the ``[[file]]`` import:
``GET /api/v2/alerts`` / ``amtool alert query -o json``, ``GET /api/v2/silences`` /
``amtool silence query -o json``, and a webhook receiver's JSON-lines log of notifications."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from incident_timeline.collector.alertmanager import shapes
from incident_timeline.collector.errors import ExportFormatError
from incident_timeline.collector.formats import (
    UNPARSED,
    Context,
    Format,
    Parsed,
    Sample,
    json_parser,
    label_pairs,
    objects,
    row,
    rows_to_events,
    text_parser,
    unparsed_row,
)
from incident_timeline.collector.shapes import mismatch
from incident_timeline.timeline.schema import EventRow


def parse_am_alerts(data: Any, ctx: Context) -> Parsed:
    """Alertmanager ``/api/v2/alerts`` or ``amtool alert query -o json``: one event per alert
    at its ``startsAt`` (Alertmanager keeps no history: only alerts active at export time)."""
    if not isinstance(data, list):
        raise ExportFormatError("not Alertmanager alerts: expected a JSON array of alerts")
    rows = []
    for i, alert in enumerate(objects(data, "Alertmanager alerts")):
        labels = alert.get("labels") or {}
        status = alert.get("status") or {}
        state = status.get("state", "active")
        muted = status.get("silencedBy") or status.get("inhibitedBy")
        note = f" [{state}{' by ' + ', '.join(muted) if muted else ''}]"
        rows.append(
            row(
                ctx,
                time_raw=alert.get("startsAt"),
                source="alertmanager",
                kind="alert_firing",
                severity="error",
                pointer=f"/{i}",
                summary=f"{labels.get('alertname', '?')} firing ({label_pairs(labels)}){note}",
                message=json.dumps(alert.get("annotations") or {}, sort_keys=True),
                labels={
                    **labels,
                    "fingerprint": alert.get("fingerprint"),
                    "state": state,
                    "receivers": ",".join(r.get("name", "") for r in alert.get("receivers", [])),
                    "ends_at": alert.get("endsAt"),
                    "updated_at": alert.get("updatedAt"),
                    "generator_url": alert.get("generatorURL"),
                },
            )
        )
    return Parsed(rows_to_events(rows, ctx), None, {"alerts": len(rows)})


def parse_silences(data: Any, ctx: Context) -> Parsed:
    """``amtool silence query -o json`` or ``/api/v2/silences``: who silenced what, and why."""
    if not isinstance(data, list):
        raise ExportFormatError("not Alertmanager silences: expected a JSON array of silences")
    rows = []
    for i, silence in enumerate(objects(data, "Alertmanager silences")):
        matchers = ", ".join(
            f"{m.get('name')}{'=~' if m.get('isRegex') else '='}{m.get('value')}"
            if m.get("isEqual", True)
            else f"{m.get('name')}!={m.get('value')}"
            for m in silence.get("matchers", [])
        )
        who = silence.get("createdBy")
        rows.append(
            row(
                ctx,
                time_raw=silence.get("startsAt"),
                source="alertmanager",
                kind="silence",
                actor=who,
                pointer=f"/{i}",
                message=silence.get("comment") or "",
                summary=f"Silence by {who} on {matchers} until {silence.get('endsAt')}: "
                f"{silence.get('comment') or ''}",
                labels={
                    "silence_id": silence.get("id"),
                    "matchers": matchers,
                    "state": (silence.get("status") or {}).get("state"),
                    "ends_at": silence.get("endsAt"),
                },
            )
        )
    return Parsed(rows_to_events(rows, ctx), None, {"silences": len(rows)})


def parse_webhook_log(text: str, ctx: Context) -> Parsed:
    """JSON lines of Alertmanager webhook payloads (version 4), bare or wrapped as
    ``{"time": ..., "payload": {...}}`` by a logger that records when it received them."""
    rows = []
    bad = 0
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            rows.append(_webhook_row(number, json.loads(line), ctx))
        except (ValueError, ExportFormatError) as exc:  # one bad line costs that line only
            reason = exc.args[0] if isinstance(exc, ExportFormatError) else f"not valid JSON: {exc}"
            rows.append(unparsed_row(ctx, number, line.removesuffix("\r"), str(reason)))
            bad += 1
        except (TypeError, AttributeError, KeyError) as exc:
            rows.append(unparsed_row(ctx, number, line, f"unexpected field type: {exc}"))
            bad += 1
    if rows and bad == len(rows):
        raise ExportFormatError("no line is an Alertmanager webhook payload")
    counts = {"notifications": len(rows) - bad, "unparsed": bad}
    parsed = Parsed(rows_to_events(rows, ctx), None, counts)
    if bad:
        first = next(r for r in rows if r["kind"] == UNPARSED)
        parsed.warnings.append(
            f"{bad} line(s) not read as webhook payloads, kept as unparsed events "
            f"(first: {first['labels']['reason']})"
        )
        parsed.incomplete = True
    return parsed


def _webhook_row(number: int, record: Any, ctx: Context) -> EventRow:
    wrapped = record.get("payload") or record.get("body") if isinstance(record, dict) else None
    payload = wrapped or record
    if not isinstance(payload, dict) or not isinstance(payload.get("alerts"), list):
        raise ExportFormatError(f"line {number}: not an Alertmanager webhook payload (no alerts)")
    inside = "" if wrapped is None else ("/payload" if record.get("payload") else "/body")
    wrong = mismatch(payload, shapes.WEBHOOK, inside)
    if wrong is not None:  # named by its JSON pointer inside the line
        raise ExportFormatError(f"line {number}: {wrong}")
    received = record.get("time") or record.get("receivedAt") or record.get("timestamp")
    status = payload.get("status", "firing")
    alerts = payload["alerts"]
    times = [a.get("endsAt" if status == "resolved" else "startsAt") for a in alerts]
    own = max((t for t in times if t), default=None)
    names = sorted({a.get("labels", {}).get("alertname", "?") for a in alerts})
    prints = sorted({str(a["fingerprint"]) for a in alerts if a.get("fingerprint")})
    return row(
        ctx,
        time_raw=received or own,
        quality=None if received else "inferred",
        embedded_raw=own,
        source="alertmanager",
        kind="alert_notify",
        pointer=f"L{number}",
        summary=f"Alertmanager notified {payload.get('receiver')}: "
        f"[{status.upper()}:{len(alerts)}] {', '.join(names)}",
        message=json.dumps(payload, sort_keys=True),
        labels={
            **(payload.get("commonLabels") or {}),
            "receiver": payload.get("receiver"),
            "status": status,
            "group_key": payload.get("groupKey"),
            # what Alertmanager's PagerDuty notifier sends as dedup_key for this group
            # (notify/pagerduty: DedupKey = key.Hash(), sha256 hex of the group key)
            "dedup_key": _sha256(payload.get("groupKey")),
            # one alert: the key that matches it in Prometheus and Alertmanager events
            "fingerprint": prints[0] if len(prints) == 1 else None,
            "fingerprints": ",".join(prints) if len(prints) > 1 else None,
        },
    )


def _sha256(text: Any) -> str | None:
    return hashlib.sha256(text.encode("utf-8")).hexdigest() if isinstance(text, str) else None


def _first(sample: Sample) -> Any:
    document = sample.document
    if not isinstance(document, list):
        return None
    return document[0] if document else {}


def _is_silences(sample: Sample) -> bool:
    first = _first(sample)
    return isinstance(first, dict) and "matchers" in first


def _is_alerts(sample: Sample) -> bool:
    first = _first(sample)
    return isinstance(first, dict) and ("startsAt" in first or not first)


def _is_webhook(sample: Sample) -> bool:
    if sample.is_json:
        document = sample.document
        return isinstance(document, dict) and isinstance(document.get("alerts"), list)
    record = sample.first_record
    return isinstance(record, dict) and bool({"alerts", "payload", "body"} & record.keys())


_ALERTS = json_parser(parse_am_alerts)
_SILENCES = json_parser(parse_silences)
FORMATS = (
    Format(
        name="alertmanager-alerts",
        parse=_ALERTS,
        detect=_is_alerts,
        layout="json",
        priority=60,
        source="alertmanager",
        description="GET /api/v2/alerts",
        shape=shapes.ALERT,
    ),
    Format(
        name="amtool-alerts",
        parse=_ALERTS,
        source="alertmanager",
        description="amtool alert query -o json",
        shape=shapes.ALERT,
    ),
    Format(
        name="amtool-silences",
        parse=_SILENCES,
        detect=_is_silences,
        layout="json",
        priority=55,
        source="alertmanager",
        description="amtool silence query -o json",
        shape=shapes.SILENCE,
    ),
    Format(
        name="alertmanager-silences",
        parse=_SILENCES,
        source="alertmanager",
        description="GET /api/v2/silences",
        shape=shapes.SILENCE,
    ),
    Format(
        name="alertmanager-webhook",
        parse=text_parser(parse_webhook_log),
        detect=_is_webhook,
        layout="json",
        priority=50,
        source="alertmanager",
        description="a webhook receiver's JSON-lines log of notifications",
    ),
)
