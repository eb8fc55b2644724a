"""Time written for people and for files: one formatter per form, used everywhere.

iso_z(dt)            2026-02-17T14:00:00Z (microseconds only when present): windows, manifests
iso(ts)              2026-02-17T14:40:00.000Z (milliseconds): finding texts
iso_ns(ts)           2026-02-17T14:40:00.512000000Z: originals kept by corrections
iso_ns_column(col)   iso_ns of a whole column at once (NaT stays missing): exports
hms(ts)              14:40:00 or 14:40:00.512
human_duration(d)    1 h 30 min, 3 min 14 s, 0 s (to the second, half up)
seconds_text(s)      2.4 s, 6 min, 1 h 30 min (sub-minute to the millisecond)
signed(s)            +2.400 s, −0.512 s
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas loads only where a frame is used: not on the collect path
    import pandas as pd


def iso_z(value: datetime) -> str:
    """RFC 3339 in UTC with ``Z``, microseconds only when present."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def iso(stamp: pd.Timestamp) -> str:
    """RFC 3339 UTC with milliseconds: ``2026-02-17T14:40:00.000Z``."""
    return str(stamp.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.%f"))[:-3] + "Z"


def iso_ns(stamp: pd.Timestamp) -> str:
    """RFC 3339 UTC with nine fraction digits."""
    stamp = stamp.tz_convert("UTC")
    fraction = stamp.microsecond * 1000 + stamp.nanosecond
    return str(stamp.strftime("%Y-%m-%dT%H:%M:%S.")) + f"{fraction:09d}Z"


def iso_ns_column(times: pd.Series) -> pd.Series:
    """``iso_ns`` of a whole UTC column at once, as a string column; NaT stays missing."""
    utc = times.dt.tz_convert("UTC")
    base = utc.dt.strftime("%Y-%m-%dT%H:%M:%S.")
    nanos = utc.dt.microsecond * 1000 + utc.dt.nanosecond
    fraction = nanos.astype("Int64").astype("string").str.zfill(9)
    return (base + fraction + "Z").astype("string")


def hms(stamp: pd.Timestamp) -> str:
    """``14:40:00``, or ``14:40:00.512`` when the instant has a fraction of a second."""
    text = str(stamp.tz_convert("UTC").strftime("%H:%M:%S.%f"))[:-3]
    return text.removesuffix(".000")


def human_duration(delta: timedelta | pd.Timedelta) -> str:
    """A duration to the second for people: ``1 h 30 min``, ``3 min 14 s``, ``0 s``."""
    if isinstance(delta, timedelta):  # a pd.Timedelta is one too
        seconds = delta.total_seconds()
    else:
        import pandas as pd  # numpy's timedelta64 and the like

        seconds = pd.Timedelta(delta).total_seconds()
    total = int(abs(seconds) + 0.5)  # half up, not banker's rounding
    rest = total
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count} {unit}")
    text = " ".join(parts) or "0 s"
    return f"-{text}" if seconds < 0 and total else text


def seconds_text(value: float) -> str:
    """A duration for people: ``2.4 s``, ``6 min``, ``1 h 30 min``, ``5 h``."""
    value = abs(value)
    if value < 60:
        return f"{value:.3f}".rstrip("0").rstrip(".") + " s"
    total = round(value)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h"] if hours else []
    parts += [f"{minutes} min"] if minutes else []
    parts += [f"{secs} s"] if secs and not hours else []
    return " ".join(parts)


def signed(value: float, digits: int = 3) -> str:
    """``+2.400 s`` / ``−0.512 s`` (a real minus sign)."""
    sign = "+" if value >= 0 else "−"
    return f"{sign}{abs(value):.{digits}f} s"
