"""The ``alertmanager`` collector: alerts, silences and status from Alertmanager's API v2, and
notification history from a webhook log.

Alertmanager keeps no history: ``/api/v2/alerts`` lists only alerts not yet ended (active,
silenced, inhibited, unprocessed; all are asked for). What it notified, and when, survives
only where a webhook receiver wrote it down: ``webhook_log`` names a JSON-lines file of webhook
payloads (version 4), bare or wrapped as ``{"time": ..., "payload": {...}}``, read with the file
collector's parser, each notification an ``alert_notify`` event with its receiver.

Every silence overlapping the window is a ``silence`` event whose actor is its ``createdBy``;
alerts overlapping the window are ``alert_firing`` events at ``startsAt`` with ``fingerprint``,
``state``, ``receivers``, ``ends_at``, ``updated_at`` and ``generator_url`` labels. The
fingerprint is the key that matches the same alert in the ``prometheus`` collector's events.

``/api/v2/status`` is stored without its ``config`` (receiver settings can hold webhook URLs
and keys); everything else is stored as received.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from incident_timeline.collector.alertmanager import shapes
from incident_timeline.collector.alertmanager.formats import (
    parse_am_alerts,
    parse_silences,
    parse_webhook_log,
)
from incident_timeline.collector.bundle import SourceWriter
from incident_timeline.collector.errors import ExportFormatError
from incident_timeline.collector.formats import (
    Context,
    Parsed,
    renumber_refs,
    rows_to_events,
    unparsed_record,
)
from incident_timeline.collector.http import Endpoint, HttpCollector, make_client, request
from incident_timeline.collector.prometheus.collector import endpoint_from_table
from incident_timeline.collector.shapes import mismatch
from incident_timeline.timeline.clock import Clock
from incident_timeline.timeline.window import Window

REMOVED = "removed by incident-timeline: receiver settings may hold secrets"


@dataclasses.dataclass(frozen=True, kw_only=True)
class AlertmanagerSettings(Endpoint):
    """The ``[alertmanager]`` table: an `Endpoint` plus an optional ``webhook_log`` path."""

    webhook_log: str | None = None


class AlertmanagerCollector(HttpCollector):
    """Collects one Alertmanager (and its webhook log) for the window."""

    name = "alertmanager"
    settings: AlertmanagerSettings

    @classmethod
    def from_config(cls, table: Any, path: Path) -> AlertmanagerCollector:
        """Build from the ``[alertmanager]`` table of config file ``path``."""
        settings = endpoint_from_table(AlertmanagerSettings, table, "alertmanager", path)
        return cls(settings, path.parent)

    def collect(self, window: Window, out: SourceWriter, *, clock: Clock) -> dict[str, int]:
        """Read the webhook log, then the API; returns counts for the manifest.

        The log comes first so that its events are kept even when the server is unreachable
        (the source is then ``partial``, not ``failed``)."""
        counts: dict[str, int] = {
            "alerts": 0,
            "silences": 0,
            "notifications": 0,
            "outside_window": 0,
        }
        if self.settings.webhook_log:
            self._webhook_log(window, out, counts)
        env = os.environ if self.env is None else self.env
        with make_client(
            self.settings, base_dir=self.base_dir, env=env, transport=self.transport
        ) as client:
            status = self._get(client, "/api/v2/status", out, quote=False)
            if isinstance(status, dict):
                self._store(out, "api/status.json", _without_config(status))
            elif status is not None:
                out.warn("/api/v2/status: expected a JSON object; not stored", partial=True)
            alerts = self._get(
                client,
                "/api/v2/alerts",
                out,
                {"active": "true", "silenced": "true", "inhibited": "true", "unprocessed": "true"},
                raw="api/alerts.json",
            )
            silences = self._get(client, "/api/v2/silences", out, raw="api/silences.json")
        if isinstance(alerts, list):
            counts["alerts"] = _overlapping(parse_am_alerts, "alerts", alerts, window, out)
        if isinstance(silences, list):
            counts["silences"] = _overlapping(parse_silences, "silences", silences, window, out)
        return counts

    def _get(
        self,
        client: httpx.Client,
        path: str,
        out: SourceWriter,
        params: dict[str, str] | None = None,
        raw: str | None = None,
        quote: bool = True,
    ) -> Any:
        """GET ``path``: the parsed JSON, or None with a warning. ``quote=False`` never puts
        the body in a warning (``/api/v2/status`` holds receiver secrets in ``config``)."""
        response = request(
            client, "GET", path, what="alertmanager", policy=self.policy, params=params or {}
        )
        if raw is not None:
            self._store(out, raw, response.content)
        text = response.text.strip()
        said = "body not quoted: it may hold receiver secrets"
        if response.status_code != 200:
            detail = _error_text(text) if quote else said
            out.warn(f"{path}: HTTP {response.status_code}: {detail}", partial=True)
            return None
        try:
            value = json.loads(text)
        except ValueError:
            out.warn(f"{path}: not JSON: {text[:200] if quote else said}", partial=True)
            return None
        if raw is not None and not isinstance(value, list):
            # /api/v2/alerts and /silences answer arrays (openapi: gettableAlerts, gettableSilences)
            out.warn(
                f"GET {path}: expected a JSON array, got {_json_type(value)}; nothing read",
                partial=True,
                ref=out.raw_path(raw),
            )
            return None
        return value

    @staticmethod
    def _store(out: SourceWriter, relpath: str, data: bytes | dict[str, Any]) -> str:
        body = (
            data
            if isinstance(data, bytes)
            else (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode()
        )
        return out.write_raw(relpath, body)

    def _webhook_log(self, window: Window, out: SourceWriter, counts: dict[str, int]) -> None:
        path = Path(str(self.settings.webhook_log)).expanduser()
        path = path if path.is_absolute() else self.base_dir / path
        try:
            ref = out.copy_raw(path, f"webhook/{path.name}")
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            out.warn(f"webhook_log {path}: cannot read: {exc.strerror or exc}", partial=True)
            return
        ctx = Context(ref=ref, stream=f"webhook/{path.name}", fallback_time=window.since)
        try:
            events = parse_webhook_log(text, ctx).events
        except ExportFormatError as exc:
            out.warn(f"webhook_log {path.name}: {exc}", partial=True)
            return
        inside = (events["time"] >= window.since) & (events["time"] < window.until)
        counts["notifications"] = int(inside.sum())
        counts["outside_window"] += int((~inside).sum())
        out.add_events(events[inside])


def _overlapping(
    parser: Callable[[Any, Context], Parsed],
    what: str,
    items: list[Any],
    window: Window,
    out: SourceWriter,
) -> int:
    """Parse ``/api/v2/<what>`` and keep the items overlapping the window; returns the count."""
    ctx = Context(ref=out.raw_path(f"api/{what}.json"), stream=what)
    shape = shapes.ALERT if what == "alerts" else shapes.SILENCE
    wrong = {i: r for i, item in enumerate(items) if (r := mismatch(item, shape, f"/{i}"))}
    kept = [i for i in range(len(items)) if i not in wrong]
    try:
        events = parser([items[i] for i in kept], ctx).events
    except ExportFormatError as exc:
        out.warn(f"/api/v2/{what}: {exc}", partial=True)
        return 0
    keep = _overlaps([items[i] for i in kept], window)
    out.add_events(renumber_refs(events[keep], f"{ctx.ref}#/", kept))
    if wrong:  # a wrong-typed field costs its item only, kept with the field named
        first = next(iter(wrong.values()))
        out.warn(
            f"GET /api/v2/{what}: {len(wrong)} item(s) of the wrong shape kept as unparsed "
            f"events (first at {first})",
            partial=True,
            kind="unparsed",
            ref=f"{ctx.ref}#{first.split(':', 1)[0]}",
        )
        rows = [
            unparsed_record(ctx, f"/{i}", items[i], r, "alertmanager") for i, r in wrong.items()
        ]
        # no time of their own that can be trusted: placed at the window's start, inferred
        out.add_events(rows_to_events(rows, dataclasses.replace(ctx, fallback_time=window.since)))
    return int(keep.sum())


def _overlaps(items: list[Any], window: Window) -> pd.Series:
    """Whether each alert or silence's ``[startsAt, endsAt)`` overlaps the window."""
    since, until = pd.Timestamp(window.since), pd.Timestamp(window.until)
    keep = []
    for item in items:
        starts = pd.to_datetime(item.get("startsAt"), utc=True, errors="coerce")
        ends = pd.to_datetime(item.get("endsAt"), utc=True, errors="coerce")
        keep.append(
            not (pd.notna(starts) and starts >= until) and not (pd.notna(ends) and ends <= since)
        )
    return pd.Series(keep, dtype=bool)


def _without_config(status: dict[str, Any]) -> dict[str, Any]:
    if "config" in status:
        return {**status, "config": {"original": REMOVED}}
    return status


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    return names.get(type(value), "a number" if isinstance(value, (int, float)) else "null")


def _error_text(text: str) -> str:
    """Alertmanager's error: a JSON string, a ``{"message": ...}`` object, or plain text."""
    try:
        value = json.loads(text)
    except ValueError:
        return text[:300]
    if isinstance(value, dict):
        return str(value.get("message") or value.get("error") or value)
    return str(value)
