"""JSON exports in the exact shapes the tools write: ``kubectl get events -o json``,
``/api/v1/query_range``, ``amtool ... -o json`` / Alertmanager ``/api/v2``, Alertmanager webhook
logs, and PagerDuty ``log_entries`` / ``notes``. Each parser turns one document into events
whose ``ref`` is a JSON pointer into the raw file; a document of the wrong shape is an
ExportFormatError saying what was expected."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pandas as pd

from collector.errors import ExportFormatError
from collector.promjson import parse_query_range
from timeline import schema
from timeline.timeparse import fill_inferred, parse_iso


@dataclasses.dataclass(frozen=True, kw_only=True)
class Context:
    """What a parser knows about the file it reads."""

    ref: str
    stream: str
    timezone: str = "UTC"
    namespace: str | None = None
    threshold: str | None = None
    label: str | None = None
    fallback_time: Any = None
    # The window's end; with fallback_time (its start) it gives year-less timestamps a year.
    window_end: Any = None


@dataclasses.dataclass
class Parsed:
    """A parser's result: events, optional tidy metric samples, counts and warnings."""

    events: pd.DataFrame
    metrics: pd.DataFrame | None
    counts: dict[str, int]
    warnings: list[str] = dataclasses.field(default_factory=list)


def rows_to_events(rows: list[dict[str, Any]], ctx: Context) -> pd.DataFrame:
    """Build events from row dicts holding ``time_raw`` (and optional ``embedded_raw``)."""
    if not rows:
        return schema.empty_events()
    frame = pd.DataFrame(rows)
    parsed = parse_iso(frame["time_raw"].astype("string"), ctx.timezone)
    time, quality = fill_inferred(parsed["time"], parsed["quality"], ctx.fallback_time)
    if "quality" in frame:
        quality = frame["quality"].fillna(quality)
    embedded = frame.get("embedded_raw", pd.Series(pd.NA, index=frame.index))
    return schema.make_events(
        time=time, source=frame["source"], stream=frame["stream"], kind=frame["kind"],
        severity=frame["severity"], actor=frame["actor"].where(frame["actor"].notna(), None),
        summary=frame["summary"], message=frame["message"], labels=list(frame["labels"]),
        time_raw=frame["time_raw"].fillna(""), time_quality=quality,
        embedded_time=parse_iso(embedded.astype("string"), ctx.timezone)["time"],
        ref=ctx.ref + "#" + frame["pointer"],
    )


def _expect(data: Any, key: str, what: str) -> list[Any]:
    items = data.get(key) if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ExportFormatError(f"not {what}: expected a JSON object with a {key!r} array")
    return items


def _objects(items: list[Any], what: str) -> list[dict[str, Any]]:
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ExportFormatError(f"not {what}: item {i} is {type(item).__name__}, not an object")
    return items


def _row(ctx: Context, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"stream": ctx.stream, "severity": "info", "actor": None}
    row.update(fields)
    row.setdefault("message", row["summary"])
    return row


def _pairs(labels: dict[str, Any], skip: tuple[str, ...] = ("alertname",)) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in skip)


def parse_kubectl_events(data: Any, ctx: Context) -> Parsed:
    """``kubectl get events -o json`` (core/v1 or events.k8s.io/v1 items)."""
    items = _objects(_expect(data, "items", "kubectl get events -o json output"), "an event list")
    rows = [_event_row(i, item, ctx) for i, item in enumerate(items)]
    events = rows_to_events(rows, ctx)
    return Parsed(events, None, {"k8s_events": len(events)})


def _event_row(i: int, item: dict[str, Any], ctx: Context) -> dict[str, Any]:
    meta = item.get("metadata") or {}
    obj = item.get("involvedObject") or item.get("regarding") or {}
    source = item.get("source") or {}
    reason = item.get("reason") or ""
    text = item.get("message") or item.get("note") or ""
    count = item.get("count") or item.get("deprecatedCount") or (item.get("series") or {}).get(
        "count") or 1
    first = (item.get("firstTimestamp") or item.get("eventTime")
             or item.get("deprecatedFirstTimestamp") or meta.get("creationTimestamp"))
    last = item.get("lastTimestamp") or item.get("deprecatedLastTimestamp")
    okind, name = obj.get("kind", "Object"), obj.get("name", "?")
    ns = obj.get("namespace") or meta.get("namespace") or ctx.namespace or ""
    summary = f"{okind} {name}: {reason}: {text}"
    if count > 1:
        summary += f" (×{count}, last {last})"
    deploy = okind == "Deployment" and reason in ("ScalingReplicaSet", "DeploymentRollback")
    return _row(
        ctx, time_raw=first, source="kubernetes", stream=f"{ns}/{okind.lower()}/{name}",
        kind="deploy" if deploy else "k8s_event",
        severity="warning" if item.get("type") == "Warning" else "info",
        actor=source.get("component") or item.get("reportingComponent")
        or item.get("reportingController"),
        summary=summary, message=text, pointer=f"/items/{i}",
        labels={"namespace": ns, "kind": okind, "name": name, "reason": reason,
                "node": source.get("host"), "count": count, "type": item.get("type")},
    )


def parse_prometheus(data: Any, ctx: Context) -> Parsed:
    """``/api/v1/query_range`` JSON: samples to metrics; crossings and ALERTS to events."""
    result = parse_query_range(data, ctx.threshold, ctx.label or ctx.stream)
    rows = [_row(ctx, source="prometheus", **r) for r in result.rows]
    return Parsed(rows_to_events(rows, ctx), result.samples,
                  {"series": result.series, "samples": len(result.samples)}, result.warnings)


def parse_am_alerts(data: Any, ctx: Context) -> Parsed:
    """Alertmanager ``/api/v2/alerts`` or ``amtool alert query -o json``: one event per alert
    at its ``startsAt`` (Alertmanager keeps no history: only alerts active at export time)."""
    if not isinstance(data, list):
        raise ExportFormatError("not Alertmanager alerts: expected a JSON array of alerts")
    rows = []
    for i, alert in enumerate(_objects(data, "Alertmanager alerts")):
        labels = alert.get("labels") or {}
        status = alert.get("status") or {}
        state = status.get("state", "active")
        muted = status.get("silencedBy") or status.get("inhibitedBy")
        note = f" [{state}{' by ' + ', '.join(muted) if muted else ''}]"
        rows.append(_row(
            ctx, time_raw=alert.get("startsAt"), source="alertmanager", kind="alert_firing",
            severity="error", pointer=f"/{i}",
            summary=f"{labels.get('alertname', '?')} firing ({_pairs(labels)}){note}",
            message=json.dumps(alert.get("annotations") or {}, sort_keys=True),
            labels={**labels, "fingerprint": alert.get("fingerprint"), "state": state,
                    "receivers": ",".join(r.get("name", "") for r in alert.get("receivers", [])),
                    "ends_at": alert.get("endsAt"), "updated_at": alert.get("updatedAt"),
                    "generator_url": alert.get("generatorURL")},
        ))
    return Parsed(rows_to_events(rows, ctx), None, {"alerts": len(rows)})


def parse_silences(data: Any, ctx: Context) -> Parsed:
    """``amtool silence query -o json`` or ``/api/v2/silences``: who silenced what, and why."""
    if not isinstance(data, list):
        raise ExportFormatError("not Alertmanager silences: expected a JSON array of silences")
    rows = []
    for i, silence in enumerate(_objects(data, "Alertmanager silences")):
        matchers = ", ".join(
            f"{m.get('name')}{'=~' if m.get('isRegex') else '='}{m.get('value')}"
            if m.get("isEqual", True) else f"{m.get('name')}!={m.get('value')}"
            for m in silence.get("matchers", [])
        )
        who = silence.get("createdBy")
        rows.append(_row(
            ctx, time_raw=silence.get("startsAt"), source="alertmanager", kind="silence",
            actor=who, pointer=f"/{i}", message=silence.get("comment") or "",
            summary=f"Silence by {who} on {matchers} until {silence.get('endsAt')}: "
            f"{silence.get('comment') or ''}",
            labels={"silence_id": silence.get("id"), "matchers": matchers,
                    "state": (silence.get("status") or {}).get("state"),
                    "ends_at": silence.get("endsAt")},
        ))
    return Parsed(rows_to_events(rows, ctx), None, {"silences": len(rows)})


def parse_webhook_log(text: str, ctx: Context) -> Parsed:
    """JSON lines of Alertmanager webhook payloads (version 4), bare or wrapped as
    ``{"time": ..., "payload": {...}}`` by a logger that records when it received them."""
    rows = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise ExportFormatError(f"line {number}: not valid JSON: {exc}") from None
        rows.append(_webhook_row(number, record, ctx))
    return Parsed(rows_to_events(rows, ctx), None, {"notifications": len(rows)})


def _webhook_row(number: int, record: Any, ctx: Context) -> dict[str, Any]:
    payload = record.get("payload") or record.get("body") if isinstance(record, dict) else None
    payload = payload or record
    if not isinstance(payload, dict) or not isinstance(payload.get("alerts"), list):
        raise ExportFormatError(f"line {number}: not an Alertmanager webhook payload (no alerts)")
    received = record.get("time") or record.get("receivedAt") or record.get("timestamp")
    status = payload.get("status", "firing")
    alerts = payload["alerts"]
    times = [a.get("endsAt" if status == "resolved" else "startsAt") for a in alerts]
    own = max((t for t in times if t), default=None)
    names = sorted({a.get("labels", {}).get("alertname", "?") for a in alerts})
    prints = sorted({str(a["fingerprint"]) for a in alerts if a.get("fingerprint")})
    return _row(
        ctx, time_raw=received or own, quality=None if received else "inferred",
        embedded_raw=own, source="alertmanager", kind="alert_notify", pointer=f"L{number}",
        summary=f"Alertmanager notified {payload.get('receiver')}: "
        f"[{status.upper()}:{len(alerts)}] {', '.join(names)}",
        message=json.dumps(payload, sort_keys=True),
        labels={**(payload.get("commonLabels") or {}), "receiver": payload.get("receiver"),
                "status": status, "group_key": payload.get("groupKey"),
                # one alert: the key that matches it in Prometheus and Alertmanager events
                "fingerprint": prints[0] if len(prints) == 1 else None,
                "fingerprints": ",".join(prints) if len(prints) > 1 else None},
    )


_PD_KINDS = {
    "trigger": ("page_trigger", "error"), "notify": ("page_notify", "info"),
    "acknowledge": ("page_ack", "info"), "acknowledgement": ("page_ack", "info"),
    "unacknowledge": ("page_unack", "warning"), "escalate": ("page_escalate", "warning"),
    "assign": ("page_assign", "info"), "delegate": ("page_assign", "info"),
    "resolve": ("page_resolve", "info"), "annotate": ("note", "info"),
    "snooze": ("page_snooze", "info"),
}


def parse_pagerduty_log_entries(data: Any, ctx: Context) -> Parsed:
    """PagerDuty ``/incidents/{id}/log_entries`` or ``/log_entries`` JSON."""
    items = _objects(_expect(data, "log_entries", "PagerDuty log entries"), "PagerDuty log entries")
    rows = []
    for i, entry in enumerate(items):
        short = str(entry.get("type", "")).removesuffix("_log_entry")
        kind, severity = _PD_KINDS.get(short, (f"page_{short or 'event'}", "info"))
        incident = entry.get("incident") or {}
        channel = entry.get("channel") or {}
        summary = entry.get("summary") or short
        if short == "annotate" and channel.get("summary"):
            summary += f": {channel['summary']}"
        rows.append(_row(
            ctx, time_raw=entry.get("created_at"), source="pagerduty", kind=kind,
            severity=severity, actor=(entry.get("agent") or {}).get("summary"),
            stream=incident.get("id") or ctx.stream, summary=summary, pointer=f"/log_entries/{i}",
            message=json.dumps(entry, sort_keys=True),
            labels={"incident": incident.get("id"), "incident_title": incident.get("summary"),
                    "service": (entry.get("service") or {}).get("summary"),
                    "channel": channel.get("type"), "log_entry": entry.get("id"),
                    "user": (entry.get("user") or {}).get("summary")},
        ))
    return Parsed(rows_to_events(rows, ctx), None, {"log_entries": len(rows)})


def parse_pagerduty_notes(data: Any, ctx: Context) -> Parsed:
    """PagerDuty ``/incidents/{id}/notes`` JSON; the incident id is the stream (from config)."""
    items = _objects(_expect(data, "notes", "PagerDuty notes"), "PagerDuty notes")
    rows = []
    for i, note in enumerate(items):
        who = (note.get("user") or {}).get("summary")
        content = note.get("content") or ""
        rows.append(_row(
            ctx, time_raw=note.get("created_at"), source="pagerduty", kind="note", actor=who,
            summary=f"Note by {who}: {content}", message=content, pointer=f"/notes/{i}",
            labels={"note": note.get("id")},
        ))
    return Parsed(rows_to_events(rows, ctx), None, {"notes": len(rows)})


PARSERS: dict[str, Callable[[Any, Context], Parsed]] = {
    "kubectl-events": parse_kubectl_events,
    "prometheus-query-range": parse_prometheus,
    "alertmanager-alerts": parse_am_alerts,
    "amtool-alerts": parse_am_alerts,
    "alertmanager-silences": parse_silences,
    "amtool-silences": parse_silences,
    "pagerduty-log-entries": parse_pagerduty_log_entries,
    "pagerduty-notes": parse_pagerduty_notes,
}


def detect_json(data: Any) -> str:
    """Name the format of a parsed JSON export, or raise ExportFormatError."""
    if isinstance(data, dict):
        if isinstance(data.get("data"), dict) and "resultType" in data["data"] or (
            data.get("status") == "error"
        ):
            return "prometheus-query-range"
        for key, fmt in (("log_entries", "pagerduty-log-entries"), ("notes", "pagerduty-notes"),
                         ("items", "kubectl-events")):
            if isinstance(data.get(key), list):
                return fmt
        if isinstance(data.get("alerts"), list):
            return "alertmanager-webhook"
    if isinstance(data, list):
        first = data[0] if data else {}
        if isinstance(first, dict) and "matchers" in first:
            return "amtool-silences"
        if isinstance(first, dict) and ("startsAt" in first or not first):
            return "alertmanager-alerts"
    raise ExportFormatError(
        "unrecognised JSON export; set format to one of the file collector's formats"
    )
