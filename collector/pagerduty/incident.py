"""``--pagerduty-incident ID``: the window and the report's facts from the incident itself.

The window runs from the incident's ``created_at`` to its ``resolved_at`` (or now, if still
open), padded on both sides; ``--since``/``--until`` win where given. The manifest's
``incident`` section keeps what the report needs: id, number, title, status, urgency,
priority, service, escalation policy, responders (assignees, acknowledgers and the users an
overview of the log names), links.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from incident_timeline.collector.config import Config
from incident_timeline.collector.errors import ConfigError, SourceError, WindowError
from incident_timeline.collector.pagerduty.api import PagerDutyError
from incident_timeline.collector.pagerduty.collector import PagerDutyCollector
from incident_timeline.timeline.clock import Clock, utc_now
from incident_timeline.timeline.timefmt import human_duration, iso_z
from incident_timeline.timeline.window import Window, parse_duration, parse_time


def focus_collector(config: Config, incident_id: str) -> PagerDutyCollector:
    """The config's pagerduty collector, told to collect ``incident_id`` whatever its filters."""
    collector = config.sources.get("pagerduty")
    if not isinstance(collector, PagerDutyCollector):
        raise ConfigError(
            f"--pagerduty-incident needs a [pagerduty] table in {config.path} "
            "(url, token_env); see config.example.toml"
        )
    collector.focus = incident_id
    return collector


def fetch_incident(collector: PagerDutyCollector, incident_id: str) -> dict[str, Any]:
    """GET /incidents/{id} (an id or a number) and the overview of its log; the manifest's
    ``incident`` section. A missing incident is a clear SourceError."""
    with collector.api() as api:
        try:
            document, _ = api.get(f"/incidents/{incident_id}", {"time_zone": "UTC"}, "")
        except PagerDutyError as exc:
            if exc.status == 404:
                raise PagerDutyError(
                    f"no incident {incident_id}; check the id or the account", 404
                ) from None
            raise
        incident = document.get("incident") or {}
        overview, _ = api.get(
            f"/incidents/{incident.get('id', incident_id)}/log_entries",
            {"time_zone": "UTC", "is_overview": "true", "limit": 100},
            "",
        )
    return incident_section(incident, overview.get("log_entries") or [])


def incident_section(incident: dict[str, Any], overview: list[Any]) -> dict[str, Any]:
    """What the manifest keeps of an incident (and its overview log entries)."""
    names: list[str] = []
    for item in incident.get("assignments") or []:
        names.append(_name(item.get("assignee")))
    for item in incident.get("acknowledgements") or []:
        names.append(_name(item.get("acknowledger")))
    for entry in overview:
        if isinstance(entry, dict):
            agent = entry.get("agent") or {}
            if agent.get("type") == "user_reference":
                names.append(_name(agent))
            names.extend(_name(a) for a in entry.get("assignees") or [])
    return {
        "source": "pagerduty",
        "id": incident.get("id"),
        "number": incident.get("incident_number"),
        "title": incident.get("title") or incident.get("summary"),
        "status": incident.get("status"),
        "urgency": incident.get("urgency"),
        "priority": _name(incident.get("priority")) or None,
        "service": _name(incident.get("service")) or None,
        "escalation_policy": _name(incident.get("escalation_policy")) or None,
        "responders": sorted({n for n in names if n}),
        "created_at": incident.get("created_at"),
        "resolved_at": incident.get("resolved_at"),
        "html_url": incident.get("html_url"),
    }


def _name(ref: Any) -> str:
    if not isinstance(ref, dict):
        return ""
    return str(ref.get("summary") or ref.get("name") or "")


def incident_window(
    section: dict[str, Any],
    pad: timedelta,
    *,
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Window:
    """``[created_at - pad, (resolved_at or now) + pad)``; a given ``since``/``until`` wins."""
    created = _time(section.get("created_at"), "created_at")
    resolved = section.get("resolved_at")
    end = _time(resolved, "resolved_at") if resolved else now
    return Window(since or created - pad, until or min(end + pad, max(now, end)))


def _time(value: Any, what: str) -> datetime:
    stamp = pd.to_datetime(value, utc=True, errors="coerce")
    if pd.isna(stamp):
        raise WindowError(f"the incident's {what} {value!r} is not a time")
    result: datetime = stamp.to_pydatetime()
    return result


def resolve_incident_window(
    config: Config,
    incident_id: str,
    *,
    pad: str,
    since: str | None,
    until: str | None,
    tz: str,
    clock: Clock = utc_now,
) -> tuple[Window, dict[str, Any]]:
    """The command line's ``--pagerduty-incident ID [--pad 30m] [--since] [--until]``: the
    window and the manifest's ``incident`` section. When both ``--since`` and ``--until`` are
    given the incident need not be readable now: its error goes into the section and the
    collector reports it again as the source's failure."""
    collector = focus_collector(config, incident_id)
    try:
        padding = parse_duration(pad)
    except ValueError as exc:
        raise WindowError(f"--pad: {exc}") from None
    now = clock()
    start = parse_time(since, tz, now=now) if since else None
    end = parse_time(until, tz, now=now) if until else None
    try:
        section = fetch_incident(collector, incident_id)
    except SourceError as exc:
        if start is None or end is None:
            raise
        return _checked(Window(start, end), config), {"id": incident_id, "error": str(exc)}
    return _checked(incident_window(section, padding, now=now, since=start, until=end), config), (
        section
    )


def _checked(window: Window, config: Config) -> Window:
    if window.since >= window.until:
        raise WindowError(
            f"the window's start {iso_z(window.since)} is not before its end {iso_z(window.until)}"
        )
    limit = config.incident.max_window_delta
    if window.duration > limit:
        raise WindowError(
            f"the window is {human_duration(window.duration)}, longer than the maximum "
            f"{human_duration(limit)}; narrow it with --since/--until or raise incident.max_window"
        )
    return window
