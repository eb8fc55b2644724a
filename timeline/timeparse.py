"""Timestamps in log lines, parsed a whole stream at a time.

``parse_timestamps(lines, tz, window)`` finds and parses the timestamp of every line of one
stream (a file, a container): the families in ``timeline.formats`` (RFC 3339 / ISO 8601 with
0-9 fraction digits and any zone, container-runtime prefixes, klog, Go ``log``, logfmt and JSON
time keys incl. epoch s/ms/µs/ns, nginx/Apache, syslog RFC 3164/5424, log4j/logback/Python,
PostgreSQL, Redis, MySQL, HDFS, Spark, logcat, BGL, TAI64N, ...). How it goes:

1. ``timeline.detect`` learns from a sample which families the stream uses, then finds each
   line's timestamp with a few RE2 passes over the whole column (pyarrow);
2. ``timeline.convert`` turns each family's matches into date and clock parts with numpy,
   keeping every digit (nanoseconds included);
3. ``timeline.localtime`` gives year-less stamps the window's year, applies written zones and
   reads naive times in ``tz``, flagging DST-ambiguous and non-existent ones.

Only lines no family matched go through a slow path (dateutil, one line at a time). The FIRST
timestamp of a line is its time (except that a JSON object's time key wins over other fields).
A line with no timestamp gets none here; ``fill_inferred`` then gives it its neighbour's.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import pyarrow as pa

from timeline import detect
from timeline.convert import PARTS, Parts, convert, empty_parts, loose
from timeline.formats import FAMILIES
from timeline.localtime import FLAGS, NAT, apply_zone, infer_years, local_ns, to_utc

__all__ = [
    "ISO_PATTERN", "QUALITIES", "check_zone", "extract_iso", "fill_inferred", "parse_iso",
    "parse_timestamps",
]
QUALITIES = ("exact", "assumed_tz")
# One ISO 8601 date-time anywhere in a line. Groups: date, time, fraction, zone. Kept for
# callers that want only ISO text; parse_timestamps knows many more layouts.
ISO_PATTERN = (
    r"(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<clock>\d{2}:\d{2}:\d{2})"
    r"(?:[.,](?P<frac>\d{1,9}))?(?P<zone>\s?(?:Z|UTC|[+-]\d{2}:?\d{2})(?![\d:]))?"
)
Window = Any  # (since, until) as datetimes/Timestamps, or an object with .since and .until


def check_zone(name: str) -> ZoneInfo:
    """Return the IANA zone ``name`` or raise ValueError naming it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {name!r}; use an IANA name such as 'UTC' or 'America/New_York'"
        ) from exc


def parse_timestamps(lines: pd.Series, tz: str = "UTC", window: Window = None) -> pd.DataFrame:
    """The timestamp of every line of one stream, as a frame aligned with ``lines``:

    * ``time``: datetime64[ns, UTC], NaT where the line has none;
    * ``time_raw``: the timestamp exactly as written (NA where none);
    * ``quality``: ``exact`` (zone or epoch in the text) or ``assumed_tz`` (naive, read in
      ``tz``), NA where none;
    * ``dst``: ``ambiguous`` or ``nonexistent`` for naive local times that fall in a DST
      change (resolved as ``timeline.localtime`` says), else NA.

    ``window`` (since, until) gives year-less timestamps their year; without it they are
    left without a time. Example::

        day = (pd.Timestamp("2024-01-15", tz="UTC"), pd.Timestamp("2024-01-16", tz="UTC"))
        parse_timestamps(pd.Series(["I0115 14:31:02.123456 1 x.go:1] hi"]), "UTC", day)
    """
    check_zone(tz)
    column = _arrow(lines)
    found, pending = detect.find(column)
    slow = detect.find_loose(column, pending)
    parts, pieces = empty_parts(len(column)), []
    for hit in found + ([slow] if slow else []):
        got = loose(hit.raw) if hit.family == detect.LOOSE_FAMILY else convert(
            FAMILIES[hit.family], hit.raw)
        for key in PARTS:
            parts[key][hit.rows] = got[key]
        pieces.append((hit.rows, hit.raw))
    utc, flags, ok = _resolve(parts, tz, window)
    return _frame(utc, flags, ok, parts["zoned"], pieces, lines.index)


def _resolve(parts: Parts, tz: str, window: Window) -> tuple[np.ndarray, ...]:
    yearless = parts["ok"] & (parts["year"] < 0)
    if yearless.any():
        if window is None:
            parts["ok"] = parts["ok"] & ~yearless
        else:
            rows = np.flatnonzero(yearless)
            parts["year"][rows] = infer_years(
                parts["month"][rows], parts["day"][rows], parts["tod"][rows], _window(window))
    local, ok = local_ns(parts)
    zoned = parts["zoned"] & ok
    utc, flags = to_utc(apply_zone(local, parts["minutes"], zoned), ok & ~zoned, tz)
    ok &= utc != NAT
    return np.where(ok, utc, NAT), flags, ok


def _frame(utc: np.ndarray, flags: np.ndarray, ok: np.ndarray, zoned: np.ndarray,
           pieces: list[tuple[np.ndarray, pa.Array]], index: pd.Index) -> pd.DataFrame:
    time = pd.DatetimeIndex(utc.view("M8[ns]")).tz_localize("UTC")
    quality = _labels(np.where(zoned, 0, 1), ok, QUALITIES)
    dst = _labels(np.maximum(flags.astype(np.int64) - 1, 0), ok & (flags > 0),
                  (FLAGS[1], FLAGS[2]))
    return pd.DataFrame(
        {"time": pd.Series(time, index=index), "time_raw": _raw(pieces, ok, index),
         "quality": quality.set_axis(index), "dst": dst.set_axis(index)},
        index=index,
    )


def _labels(codes: np.ndarray, present: np.ndarray, names: tuple[str, ...]) -> pd.Series:
    values = pa.array(names, type=pa.large_string()).take(pa.array(codes, mask=~present))
    return _strings(values)


def _raw(pieces: list[tuple[np.ndarray, pa.Array]], ok: np.ndarray, index: pd.Index) -> pd.Series:
    n = len(ok)
    rows = np.concatenate([p[0] for p in pieces] + [np.zeros(0, dtype=np.int64)])
    missing = np.setdiff1d(np.arange(n), rows, assume_unique=True)
    arrays = [p[1].cast(pa.large_string()) for p in pieces] + [pa.nulls(len(missing),
                                                                          pa.large_string())]
    order = np.empty(n, dtype=np.int64)
    order[np.concatenate([rows, missing])] = np.arange(n)
    combined = pa.concat_arrays(arrays).take(pa.array(order, mask=~ok))
    return _strings(combined).set_axis(index)


def _strings(values: pa.Array) -> pd.Series:
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([values])))


def _arrow(lines: pd.Series) -> pa.Array:
    column = pa.array(lines, from_pandas=True)
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if not pa.types.is_large_string(column.type):
        column = column.cast(pa.large_string())
    return column


def _window(window: Window) -> tuple[pd.Timestamp, pd.Timestamp]:
    since, until = (window.since, window.until) if hasattr(window, "since") else window
    return pd.Timestamp(since).tz_convert("UTC"), pd.Timestamp(until).tz_convert("UTC")


def parse_iso(raw: pd.Series, tz: str = "UTC") -> pd.DataFrame:
    """Parse timestamp strings (ISO 8601 / RFC 3339 and every other family) to UTC: columns
    ``time``, ``quality`` and ``dst`` as in ``parse_timestamps``."""
    return parse_timestamps(raw.astype("string"), tz)[["time", "quality", "dst"]]


def extract_iso(lines: pd.Series) -> pd.Series:
    """The first ISO 8601 timestamp in each line, exactly as written (NA where there is none)."""
    found = lines.astype("string").str.extract(f"(?P<raw>{ISO_PATTERN})")
    return found["raw"]


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
