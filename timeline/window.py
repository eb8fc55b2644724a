"""The incident window: two UTC instants from what a person types.

Accepted times: RFC 3339 (``2026-02-17T14:00:00Z``), ``YYYY-MM-DD HH:MM[:SS] [Zone/Name]``
(naive ones read in ``tz``), ``now``, and relative ``90m`` / ``2h`` / ``1d`` / ``1h30m`` meaning
that long ago. Durations are Prometheus/Go style: one or more ``<number><unit>`` with units
``ms s m h d w y`` (Prometheus ``model.ParseDuration``; Go's ``time.ParseDuration`` spells
``1h30m`` the same way, which is how kubectl and promtool users type them).

A local time that a DST change skips (``02:30`` on a spring-forward night) or repeats (``01:30``
on a fall-back night) is refused with the two readings spelt out as RFC 3339: the user picks
one by writing the offset. Python's zoneinfo would silently choose ``fold=0`` (PEP 495).
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from incident_timeline.timeline.clock import Clock, utc_now
from incident_timeline.timeline.errors import DurationError, WindowError, ZoneError
from incident_timeline.timeline.timefmt import human_duration, iso_z

_PART = r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w|y)"
_DURATION = re.compile(rf"^\s*(?:{_PART}\s*)+$")
_PARTS = re.compile(_PART)
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
# Nothing an incident tool reads spans more than this; longer values are typos (99999999d)
# and would overflow datetime arithmetic.
MAX_DURATION = timedelta(days=3660)
_LOCAL = re.compile(
    r"^\s*(\d{4}-\d{2}-\d{2})[T ](\d{1,2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)"
    r"(?:\s+([A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)*))?\s*$"
)


@dataclasses.dataclass(frozen=True)
class Window:
    """A half-open interval ``[since, until)`` in UTC."""

    since: datetime
    until: datetime
    # The zone naive command-line times were read in, when any was naive (for warnings).
    assumed_tz: str | None = dataclasses.field(default=None, compare=False)

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
    """``90m``, ``2h``, ``1.5d``, ``30s``, ``1w``, ``1h30m`` as a timedelta; DurationError (a
    ValueError) otherwise, or when longer than MAX_DURATION."""
    if not isinstance(text, str) or not _DURATION.match(text):
        raise DurationError(f"{text!r} is not a duration like 90m, 2h, 1h30m or 7d")
    seconds = sum(float(n) * _UNITS[u] for n, u in _PARTS.findall(text))
    if seconds > MAX_DURATION.total_seconds():
        raise DurationError(f"{text!r} is longer than {MAX_DURATION.days} days")
    return timedelta(seconds=seconds)


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
        return _localize(_fromiso(f"{date}T{_pad(clock)}", text), _zone(zone), text)
    parsed = _fromiso(value, text)
    if parsed.tzinfo is None:
        return _localize(parsed, _zone(tz), text)
    return parsed.astimezone(UTC)


def is_naive(text: str) -> bool:
    """Whether ``text`` is a wall-clock time without a zone or offset (read in ``--tz``)."""
    value = text.strip()
    if value.lower() == "now" or _DURATION.match(value):
        return False
    match = _LOCAL.match(value)
    if match:
        return not match.group(3)
    try:
        return datetime.fromisoformat(value).tzinfo is None
    except ValueError:
        return False


def _fromiso(value: str, text: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        reason = "no such date or time" if str(exc).startswith("Invalid") else str(exc)
        raise WindowError(
            f"cannot read time {text!r} ({reason}); use RFC 3339 (2026-02-17T14:00:00Z), "
            "'2026-02-17 14:00 Europe/Paris', or a relative time like 90m"
        ) from None


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
    _zone(tz)  # an unknown --tz is an error even when every time carries its own zone
    given = [t for t in (since, until) if t is not None]
    assumed = tz if any(is_naive(t) for t in given) else None
    if last is not None:
        if since is not None:
            raise WindowError("give either --last or --since/--until, not both")
        try:
            length = parse_duration(last)
        except DurationError as exc:
            raise DurationError(f"--last: {exc}") from None
        end = parse_time(until, tz, now=now) if until else now
        window = Window(
            _minus(end, length, last), end, assumed
        )  # back from --until, as --help says
    elif since is None:
        raise WindowError("no window: give --since (and --until) or --last, e.g. --last 90m")
    else:
        start = parse_time(since, tz, now=now)
        window = Window(start, parse_time(until or "now", tz, now=now), assumed)
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


def check_zone(name: str) -> ZoneInfo:
    """Return the IANA zone ``name`` or raise ZoneError (a ValueError) naming it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ZoneError(
            f"unknown time zone {name!r}; use an IANA name such as 'UTC' or 'America/New_York'"
        ) from exc


def _zone(name: str) -> ZoneInfo:
    try:
        return check_zone(name)
    except ZoneError as exc:
        raise ZoneError(str(exc)) from None


def _minus(end: datetime, length: timedelta, text: str) -> datetime:
    try:
        return end - length
    except OverflowError:
        raise DurationError(f"--last {text}: reaches before year 1") from None


def _localize(naive: datetime, zone: ZoneInfo, text: str) -> datetime:
    """``naive`` in ``zone`` as UTC; a WindowError when a DST change skips or repeats it."""
    first = naive.replace(tzinfo=zone, fold=0)
    second = naive.replace(tzinfo=zone, fold=1)
    earlier, later = first.astimezone(UTC), second.astimezone(UTC)
    if earlier.astimezone(zone).replace(tzinfo=None) != naive:
        # Skipped: zoneinfo maps fold=0 past the gap; both readings are spelt out.
        raise WindowError(
            f"{text!r} does not exist in {zone.key}: the clocks skipped it (DST); write it "
            f"with an offset, e.g. {_iso_in(earlier, zone)} or {_iso_in(later, zone)}"
        )
    if earlier != later:
        raise WindowError(
            f"{text!r} is ambiguous in {zone.key}: it happened twice (DST ended); write "
            f"{_iso_in(earlier, zone)} (the first) or {_iso_in(later, zone)} (the second)"
        )
    return earlier


def _iso_in(value: datetime, zone: ZoneInfo) -> str:
    return value.astimezone(zone).isoformat()


def _pad(clock: str) -> str:
    return f"0{clock}" if clock[1] == ":" else clock
