"""The incident window: two UTC instants from what a person types.

Accepted times: RFC 3339 (``2026-02-17T14:00:00Z``), ``YYYY-MM-DD HH:MM[:SS] [Zone/Name]``
(naive ones read in ``tz``), ``now``, and relative ``90m`` / ``2h`` / ``1d`` meaning that long ago.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta

from incident_timeline.collector.errors import WindowError
from incident_timeline.timeline.clock import Clock, utc_now
from incident_timeline.timeline.timefmt import human_duration, iso_z
from incident_timeline.timeline.timestamps.engine import check_zone

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_LOCAL = re.compile(
    r"^\s*(\d{4}-\d{2}-\d{2})[T ](\d{1,2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)"
    r"(?:\s+([A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)*))?\s*$"
)


@dataclasses.dataclass(frozen=True)
class Window:
    """A half-open interval ``[since, until)`` in UTC."""

    since: datetime
    until: datetime

    def __post_init__(self) -> None:
        for value in (self.since, self.until):
            if value.tzinfo is None:
                raise ValueError("Window needs tz-aware datetimes")

    @property
    def duration(self) -> timedelta:
        """``until - since``."""
        return self.until - self.since

    def describe(self) -> str:
        """E.g. ``2026-02-17T14:00:00Z .. 2026-02-17T15:30:00Z (1 h 30 min)``."""
        return f"{iso_z(self.since)} .. {iso_z(self.until)} ({human_duration(self.duration)})"

    def as_dict(self) -> dict[str, str]:
        """The window as RFC 3339 UTC strings (for the manifest)."""
        return {"since": iso_z(self.since), "until": iso_z(self.until)}


def parse_duration(text: str) -> timedelta:
    """``90m``, ``2h``, ``1.5d``, ``30s``, ``1w`` as a timedelta; ValueError otherwise."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration like 90m, 2h or 7d")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def parse_time(text: str, tz: str = "UTC", *, now: datetime) -> datetime:
    """One point in time, tz-aware UTC. See the module docstring for the forms."""
    value = text.strip()
    if value.lower() == "now":
        return now
    if _DURATION.match(value):
        return now - parse_duration(value)
    match = _LOCAL.match(value)
    if match and match.group(3):
        date, clock, zone = match.groups()
        return _localize(datetime.fromisoformat(f"{date}T{_pad(clock)}"), _zone(zone))
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise WindowError(
            f"cannot read time {text!r}; use RFC 3339 (2026-02-17T14:00:00Z), "
            "'2026-02-17 14:00 Europe/Paris', or a relative time like 90m"
        ) from None
    if parsed.tzinfo is None:
        return _localize(parsed, _zone(tz))
    return parsed.astimezone(UTC)


def resolve_window(
    *,
    since: str | None,
    until: str | None,
    last: str | None,
    tz: str = "UTC",
    max_window: timedelta = timedelta(days=7),
    clock: Clock = utc_now,
) -> Window:
    """Turn the command line's ``--since/--until`` or ``--last`` into a checked Window."""
    now = clock()
    if last is not None:
        if since is not None:
            raise WindowError("give either --last or --since/--until, not both")
        try:
            start = now - parse_duration(last)
        except ValueError as exc:
            raise WindowError(f"--last: {exc}") from None
        window = Window(start, parse_time(until, tz, now=now) if until else now)
    elif since is None:
        raise WindowError("no window: give --since (and --until) or --last, e.g. --last 90m")
    else:
        window = Window(parse_time(since, tz, now=now), parse_time(until or "now", tz, now=now))
    if window.since >= window.until:
        raise WindowError(
            f"the window's start {iso_z(window.since)} is not before its end {iso_z(window.until)}"
        )
    if window.duration > max_window:
        raise WindowError(
            f"the window is {human_duration(window.duration)}, longer than the maximum "
            f"{human_duration(max_window)}; narrow it or raise incident.max_window"
        )
    return window


def _zone(name: str) -> object:
    try:
        return check_zone(name)
    except ValueError as exc:
        raise WindowError(str(exc)) from None


def _localize(naive: datetime, zone: object) -> datetime:
    return naive.replace(tzinfo=zone).astimezone(UTC)  # type: ignore[arg-type]


def _pad(clock: str) -> str:
    return f"0{clock}" if clock[1] == ":" else clock
