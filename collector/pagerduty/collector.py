"""The ``pagerduty`` collector: the paging record from PagerDuty's REST API v2.

Incidents overlapping the window (listed from ``lookback`` before it, since PagerDuty's
``since``/``until`` select incidents by creation time, then kept when ``[created_at,
resolved_at)`` overlaps the window), filtered by ``service_ids``, ``team_ids``, ``urgencies``
and ``statuses``; the incident given with ``--pagerduty-incident`` always. For each: every log
entry (``include[]=channels`` so notifications name their channel, ``is_overview=false``), the
notes and the alerts, parsed by the same code as the ``[[file]]`` import (`formats`, `alerts`).
A record is kept even outside the window: the incident is the evidence (only counted).

In ``raw/pagerduty/``: ``incidents/<n>.json`` (listing pages), and per incident
``<id>/incident.json``, ``<id>/log_entries/<n>.json``, ``<id>/notes.json``, ``<id>/alerts/<n>.json``
exactly as received, but with the token replaced should a body echo it.

Errors: a bad token (401) or missing access (403) to the listing fails the source; a failing
sub-resource of one incident is recorded and makes the source ``partial``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from incident_timeline.collector.bundle import SourceWriter, active_writer
from incident_timeline.collector.errors import ConfigError
from incident_timeline.collector.formats import Context, rows_to_events
from incident_timeline.collector.http import HttpCollector, make_client, secret
from incident_timeline.collector.pagerduty.alerts import parse_pagerduty_alerts
from incident_timeline.collector.pagerduty.api import ACCEPT, PagerDutyAPI, PagerDutyError
from incident_timeline.collector.pagerduty.formats import log_entry_row, parse_pagerduty_notes
from incident_timeline.collector.pagerduty.settings import PagerDutySettings, settings_from_table
from incident_timeline.collector.secrets import secret_forms
from incident_timeline.timeline.clock import Clock
from incident_timeline.timeline.schema import EventRow
from incident_timeline.timeline.window import Window


class PagerDutyCollector(HttpCollector):
    """Collects one PagerDuty account's incidents for the window."""

    name = "pagerduty"
    settings: PagerDutySettings
    focus: str | None = None  # the --pagerduty-incident id, collected whatever the filters

    @classmethod
    def from_config(cls, table: Any, path: Path) -> PagerDutyCollector:
        """Build from the ``[pagerduty]`` table of config file ``path``."""
        return cls(settings_from_table(table, path), path.parent)

    @contextmanager
    def api(self, out: SourceWriter | None = None) -> Iterator[PagerDutyAPI]:
        """A `PagerDutyAPI` on this collector's settings and seams; bodies go to ``out``."""
        env = os.environ if self.env is None else self.env
        s = self.settings
        token = secret("token", s.token_env, s.token_file, env=env, base_dir=self.base_dir)
        if not token:
            raise ConfigError("[pagerduty] needs token_env or token_file (a REST API key)")
        headers = {**s.headers, "Accept": ACCEPT, "Authorization": f"Token token={token}"}
        writer = out if out is not None else active_writer()
        if writer is not None:  # masked in every error, warning, event and raw file
            writer.add_secrets(secret_forms(token))
        endpoint = dataclasses.replace(s, token_env=None, token_file=None, headers=headers)
        store = out.write_raw if out is not None else (lambda rel, body: rel)
        hint = f"${s.token_env}" if s.token_env else f"token_file {s.token_file}"
        with make_client(endpoint, base_dir=self.base_dir, env=env, transport=self.transport) as c:
            yield PagerDutyAPI(
                c, token, store=store, policy=self.policy, hint=hint, page_size=s.page_size
            )

    def collect(self, window: Window, out: SourceWriter, *, clock: Clock) -> dict[str, int]:
        """List the incidents, then read each one's log entries, notes and alerts."""
        counts = {"incidents": 0, "log_entries": 0, "notes": 0, "alerts": 0, "outside_window": 0}
        with self.api(out) as api:
            try:
                incidents = self._incidents(api, window, out)
                for cut in api.cuts:
                    out.warn(f"incident list: {cut}", partial=True)
                api.cuts.clear()
                for incident in incidents:
                    counts["incidents"] += 1
                    self._incident(api, incident, window, out, counts, clock)
            finally:
                counts["requests"] = api.requests
        return counts

    def _incidents(
        self, api: PagerDutyAPI, window: Window, out: SourceWriter
    ) -> list[dict[str, Any]]:
        s = self.settings
        params: dict[str, Any] = {"time_zone": "UTC"}
        for key in ("service_ids", "team_ids", "urgencies", "statuses"):
            if getattr(s, key):
                params[f"{key}[]"] = list(getattr(s, key))
        since = window.since - s.lookback_delta
        found: dict[str, dict[str, Any]] = {}
        for page, _ in api.history(
            "/incidents", "incidents", params, since, window.until, "incidents"
        ):
            for incident in page.get("incidents") or []:
                if isinstance(incident, dict) and _overlaps(incident, window):
                    found.setdefault(str(incident.get("id")), incident)
        if self.focus and self.focus not in found and not _numbered(found, self.focus):
            try:
                document, _ = api.get(
                    f"/incidents/{self.focus}", {"time_zone": "UTC"}, "focus.json"
                )
            except PagerDutyError as exc:
                if exc.status != 404:
                    raise
                out.warn(f"no incident {self.focus}; check the id or the account", partial=True)
            else:
                incident = document.get("incident") or {}
                found[str(incident.get("id"))] = incident
        return sorted(found.values(), key=lambda i: (str(i.get("created_at")), str(i.get("id"))))

    def _incident(
        self,
        api: PagerDutyAPI,
        incident: dict[str, Any],
        window: Window,
        out: SourceWriter,
        counts: dict[str, int],
        clock: Clock,
    ) -> None:
        iid = str(incident.get("id"))
        out.write_raw(f"{iid}/incident.json", _json(incident))
        steps = [("log_entries", self._log_entries), ("notes", self._notes)]
        if self.settings.include_alerts:
            steps.append(("alerts", self._alerts))
        for what, step in steps:
            try:
                frames = step(api, incident, clock)
            except PagerDutyError as exc:
                if exc.status == 401:  # the token stopped working: nothing more will come
                    raise
                out.warn(f"incident {iid} {what}: {exc}", partial=True)
                continue
            for frame in frames:
                inside = (frame["time"] >= window.since) & (frame["time"] < window.until)
                counts["outside_window"] += int((~inside).sum())
                counts[what] += len(frame)
                out.add_events(frame)
        for cut in api.cuts:
            out.warn(f"incident {iid}: {cut}", partial=True)
        api.cuts.clear()

    def _log_entries(
        self, api: PagerDutyAPI, incident: dict[str, Any], clock: Clock
    ) -> list[pd.DataFrame]:
        iid = str(incident.get("id"))
        params = {
            "time_zone": "UTC",
            "include[]": "channels",
            "is_overview": "true" if self.settings.overview else "false",
        }
        created = pd.Timestamp(str(incident.get("created_at"))).to_pydatetime()
        since = created.replace(microsecond=0) - timedelta(seconds=1)
        until = clock().replace(microsecond=0) + timedelta(seconds=1)
        path = f"/incidents/{iid}/log_entries"
        seen: set[str] = set()
        rows: list[EventRow] = []
        pages = api.history(path, "log_entries", params, since, until, f"{iid}/log_entries")
        for page, ref in pages:
            ctx = Context(ref=ref, stream=iid)
            for i, entry in enumerate(page.get("log_entries") or []):
                key = str(entry.get("id")) if isinstance(entry, dict) else None
                if not isinstance(entry, dict) or key in seen:
                    continue  # a split's halves may list an entry twice; keep it once
                seen.add(str(key))
                record = log_entry_row(entry, "", ctx)
                record["ref"] = f"{ref}#/log_entries/{i}"
                rows.append(record)
        return [rows_to_events(rows, Context(ref="", stream=iid))]

    def _notes(
        self, api: PagerDutyAPI, incident: dict[str, Any], clock: Clock
    ) -> list[pd.DataFrame]:
        iid = str(incident.get("id"))
        # Not paginated (the spec gives GET /incidents/{id}/notes no limit or offset).
        page, ref = api.get(f"/incidents/{iid}/notes", {"time_zone": "UTC"}, f"{iid}/notes.json")
        return [parse_pagerduty_notes(page, Context(ref=ref, stream=iid)).events]

    def _alerts(
        self, api: PagerDutyAPI, incident: dict[str, Any], clock: Clock
    ) -> list[pd.DataFrame]:
        iid = str(incident.get("id"))
        frames = []
        for page, ref in api.pages(
            f"/incidents/{iid}/alerts", "alerts", {"time_zone": "UTC"}, f"{iid}/alerts"
        ):
            frames.append(parse_pagerduty_alerts(page, Context(ref=ref, stream=iid)).events)
        return frames


def _overlaps(incident: dict[str, Any], window: Window) -> bool:
    """Whether ``[created_at, resolved_at or open)`` overlaps the window."""
    created = pd.to_datetime(incident.get("created_at"), utc=True, errors="coerce")
    resolved = pd.to_datetime(incident.get("resolved_at"), utc=True, errors="coerce")
    starts_after = pd.notna(created) and created >= pd.Timestamp(window.until)
    ended_before = pd.notna(resolved) and resolved < pd.Timestamp(window.since)
    return not starts_after and not ended_before


def _numbered(found: dict[str, dict[str, Any]], key: str) -> bool:
    return any(str(i.get("incident_number")) == key for i in found.values())


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode()
