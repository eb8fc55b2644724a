"""Timestamps in text, parsed a whole column at a time.

This first engine knows ISO 8601 / RFC 3339 date-times (``T`` or space between date and time,
``.`` or ``,`` before 0-9 fraction digits, ``Z``, ``UTC``, ``+hh:mm`` or ``+hhmm`` or no zone),
which covers container-runtime prefixes, logfmt ``time=``, JSON ``"ts": "..."``, log4j and most
application logs. Naive times are read in the zone the caller gives and marked ``assumed_tz``;
a line without a timestamp takes its neighbour's time and is marked ``inferred``, never dropped.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

# One ISO 8601 date-time anywhere in a line. Groups: date, time, fraction, zone.
ISO_PATTERN = (
    r"(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<clock>\d{2}:\d{2}:\d{2})"
    r"(?:[.,](?P<frac>\d{1,9}))?(?P<zone>\s?(?:Z|UTC|[+-]\d{2}:?\d{2})(?![\d:]))?"
)
# The same, as a whole-string match (for values that are only a timestamp).
ISO_FULL = rf"^\s*{ISO_PATTERN}\s*$"


def check_zone(name: str) -> ZoneInfo:
    """Return the IANA zone ``name`` or raise ValueError naming it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {name!r}; use an IANA name such as 'UTC' or 'America/New_York'"
        ) from exc


def extract_iso(lines: pd.Series) -> pd.Series:
    """The first ISO 8601 timestamp in each line, exactly as written (NA where there is none)."""
    found = lines.astype("string").str.extract(f"(?P<raw>{ISO_PATTERN})")
    return found["raw"]


def parse_iso(raw: pd.Series, tz: str = "UTC") -> pd.DataFrame:
    """Parse ISO 8601 strings to UTC.

    Returns columns ``time`` (datetime64[ns, UTC], NaT where unparseable) and ``quality``
    (``exact`` when the text carries a zone, ``assumed_tz`` when it was read in ``tz``,
    NA where unparseable). Ambiguous local times (DST fall-back) take the standard-time
    reading and non-existent ones (spring-forward) move forward: deterministic, if not flagged yet.
    """
    zone = check_zone(tz)
    text = raw.astype("string")
    parts = text.str.extract(ISO_FULL)
    iso = _normalize(parts)
    has_zone = parts["zone"].notna() & iso.notna()
    naive = parts["zone"].isna() & iso.notna()
    time = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns, UTC]")
    if has_zone.any():
        zoned = pd.to_datetime(iso[has_zone], format="ISO8601", utc=True, errors="coerce")
        time[has_zone] = zoned.dt.as_unit("ns")
    if naive.any():
        local = pd.to_datetime(iso[naive], format="ISO8601", errors="coerce").dt.as_unit("ns")
        if str(zone) != "UTC":
            local = local.dt.tz_localize(
                zone, ambiguous=np.zeros(len(local), dtype=bool), nonexistent="shift_forward"
            )
        else:
            local = local.dt.tz_localize("UTC")
        time[naive] = local.dt.tz_convert("UTC")
    quality = pd.Series(pd.NA, index=raw.index, dtype="string")
    quality[has_zone & time.notna()] = "exact"
    quality[naive & time.notna()] = "assumed_tz"
    return pd.DataFrame({"time": time, "quality": quality})


def fill_inferred(
    time: pd.Series, quality: pd.Series, fallback: pd.Timestamp
) -> tuple[pd.Series, pd.Series]:
    """Give rows without a time their previous row's time (else the next's, else ``fallback``)
    and mark them ``inferred``."""
    missing = time.isna()
    if not missing.any():
        return time, quality
    filled = time.ffill().bfill().fillna(fallback)
    marked = quality.copy()
    marked[missing] = "inferred"
    return filled, marked


def _normalize(parts: pd.DataFrame) -> pd.Series:
    frac = ("." + parts["frac"]).fillna("")
    zone = parts["zone"].str.strip().replace({"UTC": "Z"}).fillna("")
    return (parts["date"] + "T" + parts["clock"] + frac + zone).where(parts["date"].notna())
