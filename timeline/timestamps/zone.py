"""From parts to UTC: the year of year-less stamps, written zones, and naive local times.

Year-less layouts (syslog, klog, logcat, some Redis) take the year that puts the time in the
incident window, or nearest to it: a window from 30 December to 2 January reads ``Dec 31`` in
the first year and ``Jan 1`` in the second. Naive times are read in the stream's zone (IANA).
Around DST changes a local time can be ambiguous (the repeated hour of autumn) or non-existent
(the skipped hour of spring). Both are resolved deterministically and flagged:

* ambiguous: the first (summer-time) reading, until the stream's clock is seen to step back
  within the repeated hour on that day; from that line on, the second (standard-time) reading;
* non-existent: read with the offset in force just before the change (Python's ``fold=0``),
  so ``02:30`` on a spring-forward night in New York is 07:30 UTC, i.e. 03:30 EDT.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from incident_timeline.timeline.timestamps.extract import (
    DAY,
    MINUTE,
    civil_from_days,
    days_from_civil,
    days_in_month,
)

NAT = np.iinfo(np.int64).min
NO_FLAG, AMBIGUOUS, NONEXISTENT = 0, 1, 2
FLAGS = {AMBIGUOUS: "ambiguous", NONEXISTENT: "nonexistent"}
MIN_YEAR, MAX_YEAR = 1700, 2250  # inside datetime64[ns]


def infer_years(
    month: np.ndarray, day: np.ndarray, tod: np.ndarray, window: tuple[pd.Timestamp, pd.Timestamp]
) -> np.ndarray:
    """For each (month, day, time of day), the year putting it in ``window`` or nearest to it
    (ties: the later year). -1 where no candidate year has that date (29 February)."""
    since, until = (int(t.value) for t in window)
    first, last = window[0].year, window[1].year
    best = np.full(len(month), -1, dtype=np.int64)
    best_gap = np.full(len(month), np.inf)
    for year in sorted({first - 1, first, last, last + 1}, reverse=True):
        years = np.full(len(month), year)
        valid = (day >= 1) & (day <= days_in_month(years, month))
        when = days_from_civil(years, month, day) * DAY + tod
        gap = np.maximum(np.maximum(since - when, when - until), 0).astype(float)
        better = valid & (gap < best_gap)
        best = np.where(better, year, best)
        best_gap = np.where(better, gap, best_gap)
    return best


ROLLOVER = 3600 * 1_000_000_000  # a clock going back more than an hour has passed midnight
DATELESS = -2  # the year of a time of day written without a date (a year-less date: -1)


def place_clocks(
    parts: dict[str, np.ndarray],
    tz: str,
    window: tuple[pd.Timestamp, pd.Timestamp] | None,
    starts: np.ndarray | None,
) -> None:
    """Give times of day written without a date (year ``DATELESS``) their dates, each stream
    (``starts``: where each after the first begins) on its own: see ``clock_days``. Without a
    window they stay without a time."""
    dateless = parts["ok"] & (parts["year"] == DATELESS)
    if not dateless.any():
        return
    if window is None:
        parts["ok"] = parts["ok"] & ~dateless
        return
    rows = np.flatnonzero(dateless)
    cuts = np.searchsorted(rows, starts) if starts is not None else np.zeros(0, dtype=np.int64)
    for piece in np.split(rows, cuts):
        if len(piece):
            year, month, day = clock_days(parts["tod"][piece], window, tz)
            parts["year"][piece], parts["month"][piece], parts["day"][piece] = year, month, day


def clock_days(
    tod: np.ndarray, window: tuple[pd.Timestamp, pd.Timestamp], tz: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(year, month, day) for times of day written without a date, in line order: the first
    on the day (of the window's first day in ``tz``, the one before or after) that puts it
    nearest the window, and one day later each time the clock goes back by more than
    ROLLOVER (midnight passed, as lnav reads its rollover fixture)."""
    since = window[0].tz_convert(tz).tz_localize(None)
    until = window[1].tz_convert(tz).tz_localize(None)
    base = int(since.normalize().value // DAY)
    later = np.concatenate([[0], np.cumsum(np.diff(tod) < -ROLLOVER)])
    first = int(tod[0])
    gaps = [
        max(since.value - ((base + k) * DAY + first), (base + k) * DAY + first - until.value, 0)
        for k in (0, -1, 1)
    ]
    start = base + (0, -1, 1)[int(np.argmin(gaps))]
    return civil_from_days(start + later)


def local_ns(parts: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Nanoseconds since 1970 of the written date and clock (not yet shifted by any zone),
    and which rows hold a real date in the supported range."""
    year, month, day = parts["year"], parts["month"], parts["day"]
    ok = parts["ok"] & (year >= MIN_YEAR) & (year <= MAX_YEAR)
    ok &= (day >= 1) & (day <= days_in_month(year, month))
    safe_year = np.where(ok, year, 1970)
    value = days_from_civil(safe_year, np.where(ok, month, 1), np.where(ok, day, 1)) * DAY
    return np.where(ok, value + parts["tod"], NAT), ok


def to_utc(
    local: np.ndarray, naive: np.ndarray, tz: str, starts: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Read the ``naive`` rows of ``local`` (ns, wall clock) in zone ``tz``. Returns the UTC
    nanoseconds for those rows (others unchanged) and a flag per row (see FLAGS). ``starts``:
    where each stream after the first begins, when the rows hold several streams (each
    resolves its own DST changes)."""
    flags = np.zeros(len(local), dtype=np.int8)
    if tz == "UTC" or not naive.any():
        return local, flags
    rows = np.flatnonzero(naive)
    wall = pd.DatetimeIndex(local[rows].view("M8[ns]"))
    zoned = wall.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    utc = local.copy()
    utc[rows] = zoned.asi8
    odd = rows[zoned.isna()]
    cuts = np.searchsorted(odd, starts if starts is not None else np.zeros(0, dtype=np.int64))
    for stream in np.split(odd, cuts):
        if len(stream):
            utc[stream], flags[stream] = _resolve(local[stream], ZoneInfo(tz))
    return utc, flags


def _resolve(wall: np.ndarray, zone: ZoneInfo) -> tuple[np.ndarray, np.ndarray]:
    """Ambiguous and non-existent wall times, one at a time (they are rare), in line order."""
    out = np.empty(len(wall), dtype=np.int64)
    flags = np.empty(len(wall), dtype=np.int8)
    stepped_back: dict[int, int] = {}  # day -> latest wall time seen, or -1 once it fell back
    for i, value in enumerate(wall.tolist()):
        clock = datetime(1970, 1, 1) + timedelta(microseconds=value // 1000)
        first = clock.replace(tzinfo=zone, fold=0)
        back = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
        if back != clock:
            flags[i], fold = NONEXISTENT, 0
        else:
            flags[i] = AMBIGUOUS
            day, latest = value // DAY, stepped_back.get(value // DAY, value)
            fold = 1 if latest == -1 or value < latest else 0
            stepped_back[day] = -1 if fold else max(latest, value)
        offset = clock.replace(tzinfo=zone, fold=fold).utcoffset() or timedelta(0)
        out[i] = value - int(offset.total_seconds()) * 1_000_000_000
    return out, flags


def apply_zone(local: np.ndarray, minutes: np.ndarray, zoned: np.ndarray) -> np.ndarray:
    """Shift the rows with a written zone from their wall clock to UTC."""
    return np.where(zoned & (local != NAT), local - minutes * MINUTE, local)
